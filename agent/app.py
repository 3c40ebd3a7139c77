"""Composition root: one anyio task group owns every component of a running agent.

Start-up order: checks that need no network (config, devices, display, WAV file, credentials),
the tools (their declarations go into the setup message), the router, the speaker, the Live
session (started once setupComplete arrives), then the inputs: stdin, the initial message, the
mic or a WAV file, the screen. The agent ends when the user interrupts it, when the session
ends, or, headless, when every input is closed and the model has finished its turn.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sys
from typing import Any, TextIO

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream
from google import genai
from google.genai import types

from agent import live_events as ev
from agent.config import Config
from agent.console import Console
from agent.conversation import Conversation
from agent.errors import SessionError, UserError
from agent.events import AudioChunk, AudioStreamEnd, FunctionResult, InputClosed, VideoFrame
from agent.inputs import TextInputs
from agent.interaction import InteractionState, watch_stalls
from agent.live_config import build_live_config, plan_session
from agent.media.buffers import ActivityEnd, ActivityStart
from agent.metrics import Metrics
from agent.ptt import PushToTalk
from agent.questions import Confirmations, Questions
from agent.record import Recorder
from agent.session import LiveSession
from agent.state import load_handle, save_handle, state_path
from agent.status import StatusLine

log = logging.getLogger(__name__)

AUDIO_REPLY_GRACE = 10.0  # seconds to wait for a reply after audio input ends
DRAIN_LIMIT = 30.0  # at most this long to let the speaker finish before a headless exit
VOICED_DBFS = -45.0  # a mic block louder than this counts as speech for latency metrics
# The websocket under the SDK: Live's pongs have been seen 8-30 s late, so a 20 s ping timeout
# ends healthy sessions with "1011 keepalive ping timeout"; frames over the 1 MiB default (a long
# text, a big toolCall) would close the connection with 1009; a silent server should not hold a
# handoff for the default 10 s close handshake.
WEBSOCKET_OPTIONS = {"ping_interval": 20, "ping_timeout": 60, "max_size": 16 * 1024 * 1024, "close_timeout": 3}


def api_key_from_env() -> str | None:
    return os.environ.get("GOOGLE_API_KEY") or os.environ.get("GEMINI_API_KEY")


def uses_vertex() -> bool:
    return os.environ.get("GOOGLE_GENAI_USE_VERTEXAI", "").lower() in ("1", "true", "yes")


def make_client() -> genai.Client:
    """A client configured entirely from the SDK's own environment variables."""
    if not uses_vertex() and not api_key_from_env():
        raise UserError(
            "no API key: set GOOGLE_API_KEY (or GEMINI_API_KEY) to a Gemini API key, "
            "or set GOOGLE_GENAI_USE_VERTEXAI=true with GOOGLE_CLOUD_PROJECT and GOOGLE_CLOUD_LOCATION"
        )
    try:
        return genai.Client(http_options=types.HttpOptions(async_client_args=dict(WEBSOCKET_OPTIONS)))
    except ValueError as e:  # the SDK's own credential checks
        raise UserError(f"cannot create the Gemini client: {e}") from None


class Agent:
    """A running agent. `run()` returns the process exit status."""

    def __init__(self, config: Config, *, stdin: TextIO | None = None, console: Console | None = None) -> None:
        self.config = config
        self.console = console or Console(verbose=config.verbose)
        self.recorder = Recorder(config.log_file, secrets=[api_key_from_env() or ""])
        self.console.secrets = self.recorder.secrets
        self.metrics = Metrics()
        self.plan = plan_session(config)  # a model that cannot do what is asked fails here (exit 2)
        self.state = InteractionState(self.plan.profile)
        self.conversation = Conversation(self.console, self.recorder, self.metrics, self.state)
        text_in: Any = stdin if stdin is not None else sys.stdin
        self.ptt: PushToTalk | None = None
        if config.push_to_talk:
            self.ptt = PushToTalk(config.push_to_talk_key)
            self.ptt.on_change(self._on_push_to_talk)
            text_in = self.ptt.wrap(text_in)  # the key (or a `/ptt` line) toggles; the rest is text
        self.inputs = TextInputs(config, text_in, self.conversation, realtime_text=self.plan.realtime_text)
        # Confirmations and elicitations: the next typed (or piped) line answers them (agent/questions.py).
        self.questions = self.inputs.questions = Questions(self.console, self.recorder, timeout=config.confirm_timeout)
        self.session: LiveSession | None = None
        self.router: Any = None
        self.speaker: Any = None
        self.mic: Any = None
        self.echo_canceller: Any = None
        self.screen: Any = None
        self.audio_queue: Any = None
        self.tool_activity: Any = None
        self.declared_tools = 0
        self.toolset: Any = None
        self.catalog: Any = None

    # ---- checks before anything connects ---------------------------------------------

    def _preflight(self) -> dict[str, Any]:
        """Everything that can fail on the user's side fails here, before the network."""
        config = self.config
        found: dict[str, Any] = {}
        for notice in self.plan.notices:
            self.console.info(f"gemini-live: {notice}")
        if config.input_audio:
            from agent.media.wavfile import read_wav_16k_mono

            found["input_pcm"] = read_wav_16k_mono(config.input_audio)
        elif config.audio_input:
            from agent.media.devices import resolve_device

            found["input_device"] = resolve_device(config.input_device, "input")
        if config.play_audio:
            from agent.media.devices import resolve_device

            found["output_device"] = resolve_device(config.output_device, "output")
        if config.echo_cancellation and config.play_audio and config.audio_input and not config.input_audio and not config.half_duplex:
            from agent.media.aec import EchoCanceller

            found["echo_canceller"] = EchoCanceller()  # the speaker is heard by the mic: take it out
        if config.screen_capture_fps > 0:
            from agent.media.screen import ScreenCapture

            send, receive = anyio.create_memory_object_stream[VideoFrame](1)
            self.screen = ScreenCapture(
                send,
                fps=config.screen_capture_fps,
                monitor=config.screen_monitor,
                region=config.screen_region,
                max_size=config.screen_max_size,
                quality=config.screen_quality,
                skip_unchanged=config.screen_skip_unchanged,
            )
            self.screen.check()
            found["frames"] = receive
        if config.resume:
            found["handle"] = load_handle(state_path(config.state_file), config.model)
        return found

    # ---- senders ---------------------------------------------------------------------

    async def _send_audio(self) -> None:
        assert self.session is not None
        async for item in self.audio_queue:
            if isinstance(item, AudioChunk):
                await self.session.send_audio(item)
                if self.mic is not None and self.mic.level > VOICED_DBFS:
                    self.metrics.user_speech()
            elif isinstance(item, AudioStreamEnd):
                await self.session.send_audio_stream_end()
                self.state.audio_input_ended(AUDIO_REPLY_GRACE)
                self.metrics.user_speech()
            elif isinstance(item, ActivityStart):
                await self.session.send_activity_start()
            elif isinstance(item, ActivityEnd):
                await self.session.send_activity_end()
                self.state.audio_input_ended(AUDIO_REPLY_GRACE)
                self.metrics.user_speech()
            elif isinstance(item, InputClosed):
                self.inputs.close(item.source)

    async def _send_video(self, frames: MemoryObjectReceiveStream[VideoFrame]) -> None:
        assert self.session is not None
        async with frames:
            async for frame in frames:
                await self.session.send_video(frame)

    async def _respond(self, results: list[FunctionResult]) -> None:
        assert self.session is not None
        await self.session.send_tool_responses(results)
        final = [r for r in results if r.final]  # a progress report leaves its call in flight
        if final:
            self.state.calls_answered([r.id for r in final], reply_expected=any(r.scheduling != "SILENT" for r in final))
        if not self.plan.profile.response_images:  # the model sees a tool's pictures as an image input instead
            for image in (image for r in results for image in r.images):
                await self.session.send_video(VideoFrame(image.data, image.mime_type))

    # ---- the session's listener ------------------------------------------------------

    def _on_session_event(self, event: ev.SessionEvent) -> None:
        """Session notices are the app's; what the model says goes to the conversation."""
        match event:
            case ev.Raw(data):
                self.console.event(data)
            case ev.Connected(session_id, connection, resumed, with_handle):
                self.conversation.record_setup(session_id, self.declared_tools)
                if resumed:
                    self.recorder.event("resumed", with_handle=with_handle, connection=connection)
                    how = "resumed the conversation" if with_handle else "reconnected (the conversation's context was not resumable)"
                    self.console.info(f"↻ {how} on a new connection")
            case ev.Reconnecting(reason, attempt, delay):
                self.recorder.event("reconnecting", reason=reason, attempt=attempt, delay=delay)
                self.console.info(f"↻ connection lost ({reason}); reconnecting in {delay:.1f} s (attempt {attempt})")
            case ev.Skipped(error):
                self.recorder.event("malformed_message", error=error)
            case ev.GoAway(time_left):
                self.recorder.event("go_away", time_left=time_left)
            case ev.ResumptionUpdate(handle, resumable):
                if handle and resumable:
                    self._save_handle(handle)
                self.conversation.on_event(event)
            case ev.ToolsUpdated(how):
                self.recorder.event("tools_updated", how=how)
            case _:
                self.conversation.on_event(event)

    def _tools_changed(self, change: Any) -> None:
        """A server's tools changed (list_changed, a restart, a late start): shown, recorded, and
        sent to the model at the next interaction boundary when the declarations changed."""
        self.console.info(change.text())
        self.recorder.event("tools_changed", **change.record())
        self.declared_tools = len(self.catalog.function_declarations()) if self.catalog is not None else 0
        if change.declarations_changed and self.session is not None:
            self.session.tools_changed()

    def _tools_promoted(self, added: list[str], left: list[str]) -> None:
        """Tools the model ran through call_tool become declarations (contextUpdate models)."""
        self.recorder.event("tools_promoted", added=added, left=left)
        if self.session is not None:
            self.session.tools_changed()

    def _voice_activity(self) -> Any:
        """The mic's voice activity detector: the status shows it; over the model it barges in."""
        from agent.media.vad import VoiceActivity

        vad = VoiceActivity()
        if self.config.local_barge_in and self.speaker is not None and self.ptt is None and not self.config.half_duplex:
            vad.on_start(self._on_user_speech)
        return vad

    def _on_user_speech(self) -> None:
        """The person started talking over the model (mic thread): fade it out now, not when
        the server's `interrupted` arrives; not while the echo canceller may still be warming up."""
        speaker, aec = self.speaker, self.echo_canceller
        if speaker is not None and speaker.playing and not (aec is not None and aec.warming_up()):
            speaker.barge_in()

    def _on_push_to_talk(self, talking: bool) -> None:
        """The key, pressed over the model's voice, fades it out at once (its `interrupted` follows)."""
        if talking and self.speaker is not None and self.speaker.playing:
            self.speaker.barge_in()

    def _stalled(self, quiet: float) -> None:
        """The model owes an answer and has been silent for reply_timeout seconds."""
        self.recorder.event("stall", seconds=round(quiet, 1), phase=self.state.phase())
        message = f"the model has not answered for {quiet:.0f} s (reply_timeout {self.config.reply_timeout:g} s)"
        if self.inputs.headless and self.mic is None:
            raise SessionError(message)  # nobody is there to wait: exit 1 instead of waiting for ever
        self.console.error(message)

    def _save_handle(self, handle: str) -> None:
        self.recorder.event("resumption_handle")
        save_handle(state_path(self.config.state_file), handle, self.config.model)  # warns once if it cannot

    # ---- run -------------------------------------------------------------------------

    async def run(self) -> int:
        found = self._preflight()
        client = make_client()
        try:
            async with anyio.create_task_group() as tg:
                await self._start(tg, client, found)
                await self.inputs.until_done()
                await self._drain_speaker()
                tg.cancel_scope.cancel()
        finally:
            self._finish()
        return 0

    async def _start(self, tg: anyio.abc.TaskGroup, client: genai.Client, found: dict[str, Any]) -> None:
        config = self.config
        from agent.tools.router import Router
        from agent.tools.toolset import ToolActivity, ToolSet

        toolset = self.toolset = ToolSet(config, startup_wait=config.startup_wait)
        from agent.tools.elicitation import Elicitation

        for server in toolset.hub.servers:  # a server's elicitation/create: the person answers, as for confirmations
            server.elicit = Elicitation(self.questions, server.name, recorder=self.recorder)
        toolset.hub.logs.record = self.recorder.event  # the servers' log messages go into --log-file
        toolset.updates.on_change = self._tools_changed
        toolset.surface.on_promoted = self._tools_promoted
        catalog = self.catalog = await tg.start(toolset.run)  # a server that failed is reported once, by the hub
        from agent.tools import policy

        policy.check(entry.policy for entry in catalog)  # what the model cannot do: exit 2, server and tool named
        self.tool_activity = ToolActivity(self.console, self.recorder, self.metrics)
        # Partial answers (will_continue) are "not supported in Vertex AI": there progress is only shown.
        self.router = Router(
            catalog, respond=self._respond, observer=self.tool_activity, partial_results=not uses_vertex(),
            confirm=Confirmations(self.questions, self.recorder, assume_yes=config.yes),
        )
        await tg.start(self.router.run)
        self.conversation.tools = self.router
        declarations = catalog.function_declarations()
        self.declared_tools = len(declarations)
        self.conversation.is_blocking = functools.partial(_is_blocking, catalog)  # read per call: the tools may change
        video = self.screen is not None

        if config.play_audio:
            from agent.media.speaker import Speaker

            self.speaker = Speaker(device=found.get("output_device"), block_ms=config.audio_block_ms)
            await tg.start(self.speaker.run)
            self.conversation.sinks.append(self.speaker)
        if config.output_audio:
            from agent.media.wavfile import WavRecorder

            recorder = WavRecorder(config.output_audio)
            self.conversation.sinks.append(recorder)
            tg.start_soon(_close_at_exit, recorder)

        plan = self.plan
        self.session = LiveSession(
            client,
            config.model,
            # Read per connection and per contextUpdate: the catalog may change during the session.
            lambda handle: build_live_config(config, catalog.function_declarations(), plan=plan, resume_handle=handle, video=video),
            self._on_session_event,
            self.state,
            profile=plan.profile,
            resumption=config.session_resumption,
            resume_handle=found.get("handle"),
            attempts=config.reconnect_attempts,
            setup_timeout=config.setup_timeout,
            verbose=config.verbose,
        )
        self.recorder.event("connect", model=config.model, profile=plan.profile.family, base_url=self.session.base_url, tools=len(declarations))
        await tg.start(self.session.run)
        self.inputs.session = self.session
        tg.start_soon(watch_stalls, self.state, config.reply_timeout, self._stalled)

        self.inputs.start(tg)
        await self._start_audio_input(tg, found)
        if "frames" in found:
            tg.start_soon(self._send_video, found["frames"])
            await tg.start(self.screen.run)
        if self.console.status_enabled and self.mic is not None:
            # A voice session's status; in text mode it would only sit where the user types.
            tg.start_soon(StatusLine(self).run)

    async def _start_audio_input(self, tg: anyio.abc.TaskGroup, found: dict[str, Any]) -> None:
        config = self.config
        if not (config.input_audio or config.audio_input):
            return
        from agent.media.buffers import AudioQueue

        self.audio_queue = AudioQueue(maxsize=max(10, 1000 // config.audio_block_ms))  # about 1 s
        tg.start_soon(self._send_audio)
        if config.input_audio:
            from agent.media.wavfile import stream_clip

            self.inputs.open("input-audio")
            # The file was read in the preflight, so a bad one fails before anything connects.
            clip = functools.partial(stream_clip, found["input_pcm"], self.audio_queue, block_ms=config.audio_block_ms, activity=config.push_to_talk)
            tg.start_soon(clip)
        else:
            from agent.media.mic import Mic

            speaker = self.speaker
            self.echo_canceller = found.get("echo_canceller") if speaker is not None else None
            if self.echo_canceller is not None:
                speaker.tap = self.echo_canceller.played  # the reference: what the speaker really played
            muted = (lambda: speaker.playing) if (config.half_duplex and speaker is not None) else None
            if self.ptt is not None:  # silent unless the key says talk (and, half-duplex, the model is quiet)
                ptt, half = self.ptt, muted
                muted = (lambda: ptt.muted() or half()) if half is not None else ptt.muted
            self.mic = Mic(
                self.audio_queue, device=found.get("input_device"), block_ms=config.audio_block_ms, muted=muted,
                activity_markers=self.ptt is not None, echo_canceller=self.echo_canceller,
                voice_activity=self._voice_activity(),
            )
            self.inputs.open("mic")  # a live mic never closes: the agent runs until Ctrl-C
            await tg.start(self.mic.run)

    async def _drain_speaker(self) -> None:
        """Let the model finish speaking before a headless exit."""
        if self.speaker is None:
            return
        with anyio.move_on_after(DRAIN_LIMIT):
            while self.speaker.playing:
                await anyio.sleep(0.05)

    def _finish(self) -> None:
        self._collect_metrics()
        self.recorder.event("metrics", **self.metrics.summary())
        self.console.close()
        if self.console.verbose or self.console.status_enabled:
            from agent.banner import session_summary

            self.console.info(self.metrics.text() if self.console.verbose else session_summary(self.metrics))
        self.recorder.event("exit")
        self.recorder.close()

    def _collect_metrics(self) -> None:
        m = self.metrics
        m.turns = self.state.completed_turns
        if self.session is not None:
            m.reconnects, m.handoffs = self.session.reconnects, self.session.handoffs
            m.skipped_messages = self.session.skipped_messages
            m.input_dropped_during_calls = self.session.input_dropped
        if self.speaker is not None:
            m.audio_underruns = self.speaker.stats.underruns
            m.local_barge_ins = self.speaker.stats.barge_ins
        if self.audio_queue is not None:
            m.audio_dropped = self.audio_queue.dropped
        if self.screen is not None:
            s = self.screen.stats
            m.frames_sent, m.frames_skipped, m.frames_dropped = s.frames_sent, s.frames_skipped, s.frames_dropped


def _is_blocking(catalog: Any, name: str) -> bool:
    entry = catalog.get(name)
    return entry is not None and entry.declaration.behavior == types.Behavior.BLOCKING


async def _close_at_exit(resource: Any) -> None:
    try:
        await anyio.sleep_forever()
    finally:
        resource.close()


def unwrap(group: BaseExceptionGroup) -> BaseException:
    """The one exception worth reporting from a task group's group of failures."""
    leaves: list[BaseException] = []

    def walk(e: BaseException) -> None:
        if isinstance(e, BaseExceptionGroup):
            for inner in e.exceptions:
                walk(inner)
        else:
            leaves.append(e)

    walk(group)
    for kind in (KeyboardInterrupt, UserError, SessionError):
        for leaf in leaves:
            if isinstance(leaf, kind):
                return leaf
    # Called outside the event loop, so the cancellation class is named, not asked for.
    non_cancel = [e for e in leaves if not isinstance(e, asyncio.CancelledError)]
    return (non_cancel or leaves)[0]
