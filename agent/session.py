"""The Live connection: setup, the receive loop, the send side, resumption and reconnects.

The wire belongs to google-genai; this module decides what to send when, hands every server
message to the app, and keeps one logical conversation alive across connections:

- the newest resumption handle is kept; on `goAway` a new connection is opened with it at the
  next turn boundary (or just before the time runs out) and the old one is closed;
- an abrupt or server-side close (1006, 1011, ...) reconnects with backoff, a bounded number of
  times; a close that means the request itself is wrong (1007, 1008, 1009) ends the session;
- senders wait while no connection is current, so input made during a handoff is buffered, and
  user turns that were never answered are sent again on resume (a handle is only issued at a
  turn boundary, so the resumed state does not hold them and this is not a duplicate).
"""

from __future__ import annotations

import logging
import re
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import websockets
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from agent.errors import SessionError
from agent.events import AudioChunk, FunctionResult, VideoFrame

log = logging.getLogger(__name__)

CLOSE_MEANINGS = {
    1000: "closed normally",
    1006: "connection lost",
    1007: "invalid argument",
    1008: "policy violation",
    1009: "message too big",
    1011: "internal error",
    1013: "try again later",
}
FATAL_CODES = {1007, 1008, 1009}  # the request itself is wrong: retrying would fail the same way
HANDOFF_MARGIN = 5.0  # seconds before goAway's deadline by which the new connection is opened
BACKOFF_CAP = 8.0


def describe_close(code: int | None, reason: str | None) -> str:
    """`1008 policy violation: <the server's reason>`."""
    meaning = CLOSE_MEANINGS.get(code or 0, "error")
    text = f"{code} {meaning}" if code else meaning
    return f"{text}: {reason}" if reason else text


def close_of(exc: BaseException) -> tuple[int | None, str]:
    """The close code and reason behind an SDK or websockets error."""
    if isinstance(exc, genai_errors.APIError):
        return exc.code, str(exc.details or exc.message or "").strip()
    if isinstance(exc, websockets.ConnectionClosed):
        frame = exc.rcvd or exc.sent
        return (frame.code, frame.reason) if frame else (1006, "connection lost")
    return None, str(exc)


def connect_failure(exc: BaseException, base: str) -> SessionError:
    """A failure to open the websocket, in words a user can act on."""
    if isinstance(exc, websockets.InvalidStatus):
        status = exc.response.status_code
        hint = " (check GOOGLE_API_KEY)" if status in (401, 403) else ""
        return SessionError(f"Gemini Live refused the connection: HTTP {status}{hint}")
    if isinstance(exc, ssl.SSLError):
        return SessionError(f"TLS error talking to {base}: {exc.reason or exc}")
    if isinstance(exc, OSError):
        return SessionError(f"cannot connect to Gemini Live at {base}: {exc.strerror or exc}")
    return SessionError(f"cannot connect to Gemini Live at {base}: {exc}")


def parse_duration(text: str | None) -> float | None:
    """A protobuf Duration string ("50s", "1.5s") in seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?)s\s*", text or "")
    return float(m.group(1)) if m else None


class _Retry(Exception):
    """The connection ended in a way worth reconnecting from."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(describe_close(code, reason))
        self.code, self.reason = code, reason


class LiveSession:
    """One logical conversation over successive Live connections."""

    def __init__(
        self,
        client: genai.Client,
        model: str,
        build_config: Callable[[str | None], types.LiveConnectConfig],
        on_message: Callable[[types.LiveServerMessage], None],
        *,
        resumption: bool = True,
        resume_handle: str | None = None,
        attempts: int = 5,
        at_turn_boundary: Callable[[], bool] = lambda: True,
        on_setup: Callable[[str | None], None] | None = None,
        on_notice: Callable[[str, dict[str, Any]], None] | None = None,
        on_handle: Callable[[str], None] | None = None,
    ) -> None:
        self.client = client
        self.model = model
        self.build_config = build_config
        self.on_message = on_message
        self.resumption = resumption
        self.resume_handle = resume_handle
        self.attempts = attempts
        self.at_turn_boundary = at_turn_boundary
        self.on_setup = on_setup
        self.on_notice = on_notice or (lambda kind, fields: None)
        self.on_handle = on_handle
        self.connections = 0
        self.reconnects = 0
        self.handoffs = 0
        self.skipped_messages = 0
        self._session: Any = None  # google.genai.live.AsyncSession while one is current
        self._ready = anyio.Event()
        self._replaced = anyio.Event()  # set each time the current connection goes away
        self._ended = False
        self._unanswered: list[tuple[str, bool]] = []  # (text, realtime) sent and not yet answered
        self._go_away_at: float | None = None
        self._go_away = anyio.Event()  # set by goAway on the current connection

    @property
    def base_url(self) -> str:
        opts = self.client._api_client._http_options  # read for messages only
        return str(opts.base_url or "").rstrip("/")

    # ---- connection loop -------------------------------------------------------------

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Connect, report started after setupComplete, then keep the conversation connected."""
        failures = 0
        try:
            while True:
                try:
                    await self._connection(task_status if self.connections == 0 else None, after_drop=failures > 0)
                    failures = 0  # a handoff: connect again at once
                except _Retry as retry:
                    failures += 1
                    if failures > self.attempts:
                        raise SessionError(
                            f"Gemini Live connection lost ({retry}); gave up after {self.attempts} attempts to reconnect"
                        ) from None
                    delay = min(BACKOFF_CAP, 0.5 * 2 ** (failures - 1))
                    self.on_notice("reconnecting", {"reason": str(retry), "attempt": failures, "delay": delay})
                    await anyio.sleep(delay)
        finally:
            self._ended = True
            self._ready.set()  # wake senders so they see the end
            self._replaced.set()

    async def _connection(self, task_status: anyio.abc.TaskStatus[None] | None, *, after_drop: bool = False) -> None:
        first = task_status is not None
        handle = self.resume_handle if self.resumption else None
        before_setup = True  # a first connection that never got set up is not retried
        try:
            async with self.client.aio.live.connect(model=self.model, config=self.build_config(handle)) as session:
                self.connections += 1
                if self.on_setup:
                    self.on_setup(session.session_id)
                if after_drop:
                    self.reconnects += 1
                if not first:
                    self.on_notice("resumed", {"with_handle": bool(handle), "connection": self.connections})
                self._go_away_at = None
                self._go_away = anyio.Event()
                self._session = session
                self._ready.set()
                before_setup = False
                if task_status is not None:
                    task_status.started()
                await self._replay(session)
                await self._receive_until_handoff(session)
                self.handoffs += 1
                self._detach()  # new input waits for the next connection from here on
        except (genai_errors.APIError, websockets.ConnectionClosed) as e:
            # APIError from the SDK's receive; ConnectionClosed from a send (the replay) it does not wrap.
            self._detach()
            code, reason = close_of(e)
            if (first and before_setup) or code in FATAL_CODES:
                raise SessionError(f"Gemini Live closed the session ({describe_close(code, reason)})") from None
            raise _Retry(code, reason) from None
        except (OSError, websockets.InvalidStatus, websockets.InvalidHandshake) as e:
            self._detach()
            if first and before_setup:
                raise connect_failure(e, self.base_url) from None
            raise _Retry(None, str(connect_failure(e, self.base_url))) from None

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
        """Send again the user turns the resumed state cannot hold."""
        for text, realtime in list(self._unanswered):
            log.info("resending an unanswered turn after reconnect")
            await self._send_text_on(session, text, realtime=realtime)

    async def _receive_until_handoff(self, session: Any) -> None:
        """Receive until a goAway handoff is due; a closed connection raises its APIError."""
        failure: list[BaseException] = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._receive, session, tg.cancel_scope, failure)
            await self._go_away.wait()  # a failed receive cancels this wait with the group
            # Hand off at a turn boundary, or before the deadline whatever is happening.
            while not (self.at_turn_boundary() or time.monotonic() >= (self._go_away_at or 0)):
                await anyio.sleep(0.05)
            tg.cancel_scope.cancel()
        if failure:
            raise failure[0]

    async def _receive(self, session: Any, scope: anyio.CancelScope, failure: list[BaseException]) -> None:
        while True:
            try:
                # receive() ends after each completed turn; the next call carries on.
                async for message in session.receive():
                    self._on_message(message)
            except genai_errors.APIError as e:
                failure.append(e)  # raised by the caller, outside this task group
                scope.cancel()
                return
            except (ValueError, TypeError) as e:
                # The SDK gives up on a frame it cannot parse; the connection itself is fine.
                self.skipped_messages += 1
                log.warning("skipped a malformed server message: %s", str(e)[:200])
                self.on_notice("malformed_message", {"error": str(e)[:200]})

    def _on_message(self, message: types.LiveServerMessage) -> None:
        update = message.session_resumption_update
        if update and update.resumable and update.new_handle:
            # The handle names the state when the server issued it, which may be before the turns
            # sent since; only a turnComplete proves a turn is held, so the list is not cleared here.
            self.resume_handle = update.new_handle
            if self.on_handle:
                self.on_handle(update.new_handle)
        if message.go_away is not None:
            left = parse_duration(message.go_away.time_left)
            margin = min(HANDOFF_MARGIN, (left or 0) / 2)
            self._go_away_at = time.monotonic() + max(0.0, (left or 0) - margin)
            self._go_away.set()
            self.on_notice("go_away", {"time_left": message.go_away.time_left})
        if message.server_content and message.server_content.turn_complete:
            self._unanswered.clear()
        self.on_message(message)

    # ---- sending ---------------------------------------------------------------------

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
            await session.send_client_content(
                turns=types.Content(role="user", parts=[types.Part(text=text)]), turn_complete=True
            )

    async def send_text(self, text: str, *, realtime: bool) -> None:
        """A user turn: realtimeInput.text for Gemini 3.x Live, a clientContent turn otherwise."""

        async def action(session: Any) -> None:
            await self._send_text_on(session, text, realtime=realtime)
            self._unanswered.append((text, realtime))

        await self._send(action)

    async def send_audio(self, chunk: AudioChunk) -> None:
        blob = types.Blob(data=chunk.data, mime_type=f"audio/pcm;rate={chunk.rate}")
        await self._send(lambda s: s.send_realtime_input(audio=blob))

    async def send_audio_stream_end(self) -> None:
        await self._send(lambda s: s.send_realtime_input(audio_stream_end=True))

    async def send_video(self, frame: VideoFrame) -> None:
        blob = types.Blob(data=frame.data, mime_type=frame.mime_type)
        await self._send(lambda s: s.send_realtime_input(video=blob))

    async def send_tool_responses(self, results: list[FunctionResult]) -> None:
        responses = [types.FunctionResponse(id=r.id, name=r.name, response=r.response) for r in results]
        # A call made on a connection that is being handed off is answered there.
        await self._send(lambda s: s.send_tool_response(function_responses=responses), on_draining=True)
