"""Turns server messages into output, and tracks whose turn it is.

The session hands every LiveServerMessage to `Conversation.handle`, which prints text and
transcripts, feeds model audio to the audio sinks (speaker, WAV recorder), flushes them on
`interrupted`, hands tool calls to the router, and keeps the turn state the headless exit
waits on: no user turn awaiting a reply, no model turn in progress, no tool call in flight.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any, Protocol

import anyio
from google.genai import types

from agent.console import Console
from agent.events import SPEAKER_RATE, FunctionCall
from agent.metrics import Metrics
from agent.record import Recorder

log = logging.getLogger(__name__)
_RATE = re.compile(r"rate=(\d+)")


class AudioSink(Protocol):
    def write(self, pcm: bytes, rate: int = SPEAKER_RATE) -> None: ...
    def flush(self) -> None: ...
    def end_turn(self) -> None: ...


class ToolCalls(Protocol):
    def submit(self, calls: list[FunctionCall]) -> None: ...
    def cancel(self, ids: list[str]) -> None: ...
    @property
    def busy(self) -> bool: ...


class Conversation:
    """What the model says, where it goes, and whether anyone is still waiting on it."""

    def __init__(self, console: Console, recorder: Recorder, metrics: Metrics) -> None:
        self.console = console
        self.recorder = recorder
        self.metrics = metrics
        self.sinks: list[AudioSink] = []
        self.tools: ToolCalls | None = None
        self.pending = 0  # user turns sent and not yet answered
        self.turn_active = False  # model output seen since the last turnComplete
        self.reply_deadline = 0.0  # audio input ended: a reply may or may not come until then
        self.turns = 0
        self._changed = anyio.Event()
        self._text: list[str] = []
        self._user: list[str] = []

    # ---- state -----------------------------------------------------------------------

    def _touch(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    def user_turn_sent(self, text: str | None = None) -> None:
        self.pending += 1
        if text is not None:
            self.recorder.event("user_text", text=text)
        self._touch()

    def audio_input_ended(self, grace: float) -> None:
        """Audio stopped: the server's VAD may answer, but nothing guarantees it will."""
        self.reply_deadline = time.monotonic() + grace
        self._touch()

    def tool_responses_sent(self) -> None:
        # A synchronous function call is always followed by more model output.
        self.turn_active = True
        self._touch()

    def tools_changed(self) -> None:
        self._touch()

    @property
    def idle(self) -> bool:
        tools_busy = self.tools is not None and self.tools.busy
        waiting_audio = time.monotonic() < self.reply_deadline
        return self.pending == 0 and not self.turn_active and not tools_busy and not waiting_audio

    async def wait_idle(self) -> None:
        """Until no reply is owed, no model turn is running and no tool call is in flight."""
        while not self.idle:
            changed = self._changed
            left = self.reply_deadline - time.monotonic()
            with anyio.move_on_after(left if left > 0 else None):
                await changed.wait()

    # ---- server messages -------------------------------------------------------------

    def handle(self, message: types.LiveServerMessage) -> None:
        self.console.event(message)
        if message.server_content:
            self._server_content(message.server_content)
        if message.tool_call and message.tool_call.function_calls:
            calls = [FunctionCall(id=c.id or "", name=c.name or "", args=dict(c.args or {})) for c in message.tool_call.function_calls]
            self.turn_active = True
            if self.tools is None:
                log.warning("tool call with no tools configured: %s", [c.name for c in calls])
            else:
                self.tools.submit(calls)
            self._touch()
        if message.tool_call_cancellation and message.tool_call_cancellation.ids and self.tools:
            self.tools.cancel(list(message.tool_call_cancellation.ids))
            self._touch()
        if message.usage_metadata:
            self.recorder.event("usage", **message.usage_metadata.model_dump(exclude_none=True, mode="json"))

    def _server_content(self, content: types.LiveServerContent) -> None:
        if content.interrupted:
            for sink in self.sinks:
                sink.flush()
            self.recorder.event("interrupted")
        if content.input_transcription and content.input_transcription.text:
            self._user.append(content.input_transcription.text)
            self.console.user_transcript(content.input_transcription.text)
        if content.model_turn and content.model_turn.parts:
            self.turn_active = True
            self.reply_deadline = 0.0
            for part in content.model_turn.parts:
                self._part(part)
        if content.output_transcription and content.output_transcription.text:
            self.turn_active = True
            self._text.append(content.output_transcription.text)
            self.console.model_text(content.output_transcription.text)
        if content.grounding_metadata:
            self._grounding(content.grounding_metadata)
        if content.turn_complete:
            self._turn_complete(content)

    def _part(self, part: types.Part) -> None:
        if part.thought:
            return
        if part.text:
            self._text.append(part.text)
            self.console.model_text(part.text)
        if part.inline_data and part.inline_data.data and (part.inline_data.mime_type or "").startswith("audio/"):
            m = _RATE.search(part.inline_data.mime_type or "")
            rate = int(m.group(1)) if m else SPEAKER_RATE
            self.metrics.model_audio()  # the first of a turn closes the speech -> answer timing
            for sink in self.sinks:
                sink.write(part.inline_data.data, rate)
        if part.executable_code and part.executable_code.code:
            lang = part.executable_code.language.value if part.executable_code.language else ""
            self.console.code(lang.replace("LANGUAGE_UNSPECIFIED", ""), part.executable_code.code)
            self.recorder.event("code", language=lang, code=part.executable_code.code)
        if part.code_execution_result:
            r = part.code_execution_result
            outcome = r.outcome.value if r.outcome else ""
            self.console.code_result(outcome, r.output or "")
            self.recorder.event("code_result", outcome=outcome, output=r.output or "")

    def _grounding(self, meta: types.GroundingMetadata) -> None:
        chunks = [(c.web.title or "", c.web.uri or "") for c in meta.grounding_chunks or [] if c.web and c.web.uri]
        queries = list(meta.web_search_queries or [])
        if chunks or queries:
            self.console.sources(chunks, queries)
            self.recorder.event("grounding", queries=queries, sources=[{"title": t, "uri": u} for t, u in chunks])

    def _turn_complete(self, content: types.LiveServerContent) -> None:
        self.console.turn_complete()
        if self._user:
            self.recorder.event("user_transcript", text="".join(self._user))
        if self._text:
            self.recorder.event("model_text", text="".join(self._text))
        reason = content.turn_complete_reason
        self.recorder.event("turn_complete", reason=reason.value if reason else None)
        self._user.clear()
        self._text.clear()
        self.pending = max(0, self.pending - 1)
        self.turn_active = False
        self.turns += 1
        for sink in self.sinks:
            sink.end_turn()  # play out the rest without waiting for a prebuffer
        self._touch()

    def record_setup(self, session_id: str | None, extra: dict[str, Any] | None = None) -> None:
        self.recorder.event("setup_complete", session_id=session_id, **(extra or {}))
