"""The Live connection: setup, the receive loop, the send side, resumption and reconnects.

The wire belongs to google-genai; this module decides what to send when, turns every server
message into events at its edge (agent.live_events) for one listener, and keeps one logical
conversation alive across connections:

- setup is bounded (`setup_timeout`), and a first frame that is not setupComplete is a failed
  connection, said in one line;
- the newest resumption handle is kept; on `goAway` the connection is handed off at the next
  interaction boundary, or shortly before `timeLeft` runs out whatever is happening;
- an abrupt or server-side close (1006, 1011, ...) reconnects with backoff; the budget counts
  consecutive failures and is restored by a connection that makes progress; a handoff from a
  connection that made none costs the same (a goAway storm backs off too); a close that means
  the request itself is wrong (1007, 1008, 1009) ends the session;
- senders wait while no connection is current, so input made during a handoff is buffered, and
  user turns the resumed state does not hold are sent again (InteractionState decides which);
- on models that close the socket for realtime input during an unanswered call, mic and video
  frames are dropped (counted) and typed text waits until the call is answered.

Only decoding the server's message is guarded against malformed input; an exception raised by
the listener is the project's own bug and ends the session with its traceback under -v.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import websockets
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from agent import live_events as ev
from agent.errors import SessionError
from agent.events import AudioChunk, FunctionResult, VideoFrame
from agent.interaction import InteractionState
from agent.live_errors import FATAL_CODES, FrameTap, close_of, connect_failure, describe_close, first_line
from agent.profiles import ModelProfile

log = logging.getLogger(__name__)


HANDOFF_MARGIN = 5.0  # seconds before goAway's deadline by which the new connection is opened
GO_AWAY_GRACE = 10.0  # a goAway without timeLeft: let the current turn finish for at most this long
PROGRESS_AFTER = 30.0  # a connection that lived this long made progress, even if quiet
BACKOFF_CAP = 8.0
# Decoding failures of one server frame: the SDK raises these for frames it cannot parse
# (not JSON, JSON that is not an object, fields of the wrong type); the connection is fine.
MALFORMED = (ValueError, TypeError, AttributeError, KeyError)


class _Retry(Exception):
    """The connection ended in a way worth reconnecting from."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(describe_close(code, reason) if code else reason)
        self.code, self.reason = code, reason


class _BadSetup(Exception):
    """The server never completed the setup, or answered it with something else."""


Listener = Callable[[ev.SessionEvent], None]


class LiveSession:
    """One logical conversation over successive Live connections."""

    def __init__(
        self,
        client: genai.Client,
        model: str,
        build_config: Callable[[str | None], types.LiveConnectConfig],
        listener: Listener,
        state: InteractionState,
        *,
        profile: ModelProfile,
        resumption: bool = True,
        resume_handle: str | None = None,
        attempts: int = 5,
        setup_timeout: float = 15.0,
        verbose: bool = False,
    ) -> None:
        self.client = client
        self.model = model
        self.build_config = build_config
        self.listener = listener
        self.state = state
        self.profile = profile
        self.resumption = resumption
        self.resume_handle = resume_handle
        self.attempts = attempts
        self.setup_timeout = setup_timeout
        self.verbose = verbose
        self.connections = 0
        self.reconnects = 0
        self.handoffs = 0
        self.skipped_messages = 0
        self.input_dropped = 0  # realtime frames dropped while a call was unanswered (sync profiles)
        self._session: Any = None  # google.genai.live.AsyncSession while one is current
        self._ready = anyio.Event()
        self._replaced = anyio.Event()  # set each time the current connection goes away
        self._ended = False
        self._go_away_at: float | None = None
        self._go_away = anyio.Event()  # set by goAway on the current connection
        self._progress = False  # the current connection completed a turn (or lived a while)
        self._tools_changed = anyio.Event()  # the tool list changed: apply at the next boundary
        self._tools_pending = False
        self._handoff_wanted = False  # a handoff for a new setup (tools), not the server's goAway
        self.tool_updates = 0

    @property
    def base_url(self) -> str:
        opts = self.client._api_client._http_options  # read for messages only
        return str(opts.base_url or "").rstrip("/")

    # ---- connection loop -------------------------------------------------------------

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Connect, report started after setupComplete, then keep the conversation connected."""
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._apply_tool_updates)
                await self._connect_loop(task_status)
        finally:
            self._ended = True
            self._ready.set()  # wake senders so they see the end
            self._replaced.set()

    async def _connect_loop(self, task_status: anyio.abc.TaskStatus[None]) -> None:
        failures = 0  # consecutive connections that ended without progress
        while True:
            try:
                await self._connection(task_status if self.connections == 0 else None, after_drop=failures > 0)
                if self._progress:
                    failures = 0
                    continue  # a handoff: connect again at once
                failures += 1  # a goAway before any progress: back off like a drop
                reason = "the server ended the connection (goAway) before any turn completed"
            except _Retry as retry:
                failures = 0 if self._progress else failures
                failures += 1
                reason = str(retry)
            if failures > self.attempts:
                raise SessionError(f"Gemini Live connection lost ({reason}); gave up after {self.attempts} attempts to reconnect")
            delay = min(BACKOFF_CAP, 0.5 * 2 ** (failures - 1))
            self.listener(ev.Reconnecting(reason, failures, delay))
            await anyio.sleep(delay)

    async def _connection(self, task_status: anyio.abc.TaskStatus[None] | None, *, after_drop: bool = False) -> None:
        first = task_status is not None
        handle = self.resume_handle if self.resumption else None
        self._progress = False
        set_up = False  # a first connection that never got set up is not retried
        try:
            async with contextlib.AsyncExitStack() as stack:
                session = await self._open(stack, handle)
                set_up = True
                self.connections += 1
                opened_at = time.monotonic()
                if after_drop:
                    self.reconnects += 1
                if not first:
                    self.state.connection_replaced()
                self._go_away_at = None
                self._go_away = anyio.Event()
                self._session = session
                self._ready.set()
                self.listener(ev.Connected(session.session_id, self.connections, not first, bool(handle)))
                if task_status is not None:
                    task_status.started()
                try:
                    await self._replay(session)
                    await self._receive_until_handoff(session)
                finally:
                    lived = time.monotonic() - opened_at >= PROGRESS_AFTER
                    self._progress = self._progress or lived or self._handoff_wanted
                    self._handoff_wanted = False
                self.handoffs += 1
                self._detach()  # new input waits for the next connection from here on
        except (genai_errors.APIError, websockets.ConnectionClosed) as e:
            # APIError from the SDK's receive; ConnectionClosed from a send (the replay) it does not wrap.
            self._detach()
            code, reason = close_of(e)
            if (first and not set_up) or code in FATAL_CODES:
                raise SessionError(f"Gemini Live closed the session ({describe_close(code, reason)})") from None
            raise _Retry(code, reason) from None
        except _BadSetup as e:
            self._detach()
            if first:
                raise SessionError(str(e)) from None
            raise _Retry(None, str(e)) from None
        except (OSError, websockets.InvalidStatus, websockets.InvalidHandshake) as e:
            self._detach()
            if first and not set_up:
                raise connect_failure(e, self.base_url) from None
            raise _Retry(None, str(connect_failure(e, self.base_url))) from None

    async def _open(self, stack: contextlib.AsyncExitStack, handle: str | None) -> Any:
        """Connect and wait (bounded) for setupComplete; anything else first is a failed setup."""
        connect = self.client.aio.live.connect(model=self.model, config=self.build_config(handle))
        try:
            with anyio.fail_after(self.setup_timeout):
                session = await stack.enter_async_context(connect)
        except TimeoutError:
            raise _BadSetup(f"Gemini Live did not complete the setup within {self.setup_timeout:g} s") from None
        except ValueError as e:  # the SDK could not parse the first frame (an HTML error page, say)
            raise _BadSetup(f"Gemini Live answered the setup with something that is not JSON: {first_line(str(e))}") from None
        if session.setup_complete is None:
            # The SDK consumed a first message that was not setupComplete; it is lost either way.
            raise _BadSetup("Gemini Live answered the setup with another message instead of setupComplete")
        session._ws = FrameTap(session._ws)  # type: ignore[assignment]  # duck-typed: recv and pass-through
        return session

    def _detach(self) -> None:
        if self._session is not None:
            self._session = None
            self._ready = anyio.Event()
            self._replaced.set()
            self._replaced = anyio.Event()

    async def _handed_off(self, session: Any) -> None:
        """Wait until `session` is no longer the current connection."""
        while self._session is session:
            await self._replaced.wait()

    async def _replay(self, session: Any) -> None:
        """Send again the user turns the resumed state does not hold."""
        for turn in self.state.replayable():
            log.info("resending an unanswered turn after reconnect")
            await self._send_text_on(session, turn.text, realtime=turn.realtime)

    async def _receive_until_handoff(self, session: Any) -> None:
        """Receive until a goAway handoff is due; a closed connection raises its APIError."""
        failure: list[BaseException] = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._receive, session, tg.cancel_scope, failure)
            await self._go_away.wait()  # a failed receive cancels this wait with the group
            # Hand off at an interaction boundary, or before the deadline whatever is happening.
            with anyio.move_on_after(max(0.0, (self._go_away_at or 0) - time.monotonic())):
                while not self.state.idle:
                    await self.state.wait_changed()
            tg.cancel_scope.cancel()
        if failure:
            raise failure[0]

    async def _receive(self, session: Any, scope: anyio.CancelScope, failure: list[BaseException]) -> None:
        while True:
            messages = session.receive()  # ends after each completed interaction; the next call carries on
            while True:
                try:
                    message = await messages.__anext__()
                except StopAsyncIteration:
                    break
                except genai_errors.APIError as e:
                    failure.append(e)  # raised by the caller, outside this task group
                    scope.cancel()
                    return
                except MALFORMED:
                    self._unparsed(getattr(session._ws, "last", None))
                    break  # the SDK's iterator is finished after an error; start a new one
                try:
                    events = ev.decode(message)
                except MALFORMED as e:
                    self._skipped(first_line(str(e), 200))
                    continue
                if self.verbose:
                    self.listener(ev.Raw(message.model_dump(exclude_none=True, mode="python")))
                for event in events:
                    self._on_event(event)  # not guarded: the listener's errors are ours, not the server's

    def _skipped(self, text: str) -> None:
        self.skipped_messages += 1
        log.warning("skipped a malformed server message: %s", text)
        self.listener(ev.Skipped(text))

    def _unparsed(self, frame: str | bytes | None) -> None:
        """A frame the SDK refused: say what it was in one line, and answer what can be answered."""
        self._skipped(ev.describe_unparsed(frame))
        calls, bad = ev.salvage_tool_calls(frame)
        if calls is not None:
            self._on_event(calls)
        for call, reason in bad:
            self._on_event(ev.InvalidToolCall(call, reason))

    def _on_event(self, event: ev.ServerEvent) -> None:
        if isinstance(event, ev.ResumptionUpdate) and event.resumable and event.handle:
            self.resume_handle = event.handle
        elif isinstance(event, ev.GoAway):
            left = event.time_left if event.time_left is not None else GO_AWAY_GRACE + HANDOFF_MARGIN
            self._go_away_at = time.monotonic() + max(0.0, left - min(HANDOFF_MARGIN, left / 2))
            self._go_away.set()
        elif isinstance(event, ev.TurnComplete):
            self._progress = True
        self.listener(event)

    # ---- tool list changes ------------------------------------------------------------

    def tools_changed(self) -> None:
        """The function declarations changed: the model gets them at the next interaction boundary."""
        self._tools_pending = True
        self._tools_changed.set()

    async def _apply_tool_updates(self) -> None:
        """contextUpdate with the whole tool list where the model takes it, else a resumed reconnect
        whose setup carries the new list; both at an interaction boundary, batched."""
        while True:
            await self._tools_changed.wait()
            self._tools_changed = anyio.Event()
            while not self.state.idle:
                await self.state.wait_changed()
            if not self._tools_pending:
                continue
            self._tools_pending = False
            if self.profile.context_update:
                await self._send(self._send_tools)
                how = "context_update"
            else:
                self._handoff_wanted = True
                self._go_away_at = time.monotonic()
                self._go_away.set()  # hands off now (at this boundary) with the newest handle
                how = "reconnect"
            self.tool_updates += 1
            self.listener(ev.ToolsUpdated(how))

    # ---- sending ---------------------------------------------------------------------

    async def _send_tools(self, session: Any) -> None:
        """The whole list (built-ins and every declaration): a contextUpdate replaces the old one."""
        await session.send_context_update(tools=self.build_config(self.resume_handle).tools or [])

    async def _send(self, action: Callable[[Any], Awaitable[None]], *, on_draining: bool = False) -> None:
        """Send on the current connection; if it closes under us, on the next one.

        After goAway, new input waits for the next connection (so the old one reaches a turn
        boundary and can be handed off); `on_draining` sends (tool responses) still go out.
        """
        while True:
            if not self._ready.is_set():  # waiting on a set Event still costs a loop pass per block
                await self._ready.wait()
            session = self._session
            if session is None or (self._go_away_at is not None and not on_draining):
                if self._ended:
                    raise SessionError("the Live session has ended")
                if session is not None:
                    await self._handed_off(session)
                continue
            try:
                await action(session)
                return
            except websockets.ConnectionClosed:
                # The receive loop sees the same close and reconnects; wait for that.
                if self._session is session:
                    self._detach()

    async def _send_text_on(self, session: Any, text: str, *, realtime: bool) -> None:
        if realtime:
            await session.send_realtime_input(text=text)
        else:
            await session.send_client_content(turns=types.Content(role="user", parts=[types.Part(text=text)]), turn_complete=True)

    @property
    def _holding(self) -> bool:
        """A call is unanswered on a model that closes the socket for realtime input meanwhile."""
        return self.profile.hold_input_during_calls and bool(self.state.calls)

    async def _until_released(self) -> None:
        """Input that must not be lost waits (rather than being dropped) while the call is unanswered."""
        while self._holding:
            await self.state.wait_changed()

    async def send_text(self, text: str, *, realtime: bool) -> None:
        """A user turn: realtimeInput.text or a clientContent turn, as the model's profile says."""
        await self._until_released()

        async def action(session: Any) -> None:
            await self._send_text_on(session, text, realtime=realtime)
            self.state.user_turn_sent(text, realtime=realtime)

        await self._send(action)

    async def send_audio(self, chunk: AudioChunk) -> None:
        if self._holding:
            self.input_dropped += 1
            return
        blob = types.Blob(data=chunk.data, mime_type=f"audio/pcm;rate={chunk.rate}")
        await self._send(lambda s: s.send_realtime_input(audio=blob))

    async def send_audio_stream_end(self) -> None:
        await self._until_released()  # it is realtime input too, but it must not be lost
        await self._send(lambda s: s.send_realtime_input(audio_stream_end=True))

    async def send_activity_start(self) -> None:
        """Push-to-talk: the user began speaking (automatic activity detection is off)."""
        await self._until_released()  # like audioStreamEnd: a marker must not be lost
        await self._send(lambda s: s.send_realtime_input(activity_start=types.ActivityStart()))

    async def send_activity_end(self) -> None:
        """Push-to-talk: the user stopped speaking; the model answers what was said."""
        await self._until_released()
        await self._send(lambda s: s.send_realtime_input(activity_end=types.ActivityEnd()))

    async def interrupt_generation(self) -> None:
        """Stop the model's answer on the server: an empty clientContent that completes the turn (3.8)."""
        await self._send(lambda s: s.send_client_content(turn_complete=True))

    async def send_video(self, frame: VideoFrame) -> None:
        if self._holding:
            self.input_dropped += 1
            return
        blob = types.Blob(data=frame.data, mime_type=frame.mime_type)
        await self._send(lambda s: s.send_realtime_input(video=blob))

    async def send_tool_responses(self, results: list[FunctionResult]) -> None:
        responses = [
            types.FunctionResponse(
                id=r.id,
                name=r.name,  # always named: extended thinking reads an unnamed response as a failure
                response=r.response,
                scheduling=types.FunctionResponseScheduling(r.scheduling) if r.scheduling else None,
                will_continue=r.will_continue,
                parts=_image_parts(r) if self.profile.response_images else None,  # else the app sends them after
            )
            for r in results
        ]
        # A call made on a connection that is being handed off is answered there.
        await self._send(lambda s: s.send_tool_response(function_responses=responses), on_draining=True)


def _image_parts(result: FunctionResult) -> list[types.FunctionResponsePart] | None:
    """A tool's images as inline data of its FunctionResponse."""
    parts = [
        types.FunctionResponsePart(inline_data=types.FunctionResponseBlob(mime_type=image.mime_type, data=image.data))
        for image in result.images
    ]
    return parts or None
