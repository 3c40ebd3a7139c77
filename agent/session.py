"""The Live connection: setup, the receive loop, the send side, and errors in plain words.

The wire belongs to google-genai; this module only decides what to send when, hands every
server message to the app, and turns the SDK's close codes into SessionError messages.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable
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


class LiveSession:
    """One logical conversation over one (later: successive) Live connections."""

    def __init__(
        self,
        client: genai.Client,
        model: str,
        build_config: Callable[[str | None], types.LiveConnectConfig],
        on_message: Callable[[types.LiveServerMessage], None],
        *,
        on_setup: Callable[[str | None], None] | None = None,
    ) -> None:
        self.client = client
        self.model = model
        self.build_config = build_config
        self.on_message = on_message
        self.on_setup = on_setup
        self.session_id: str | None = None
        self.resume_handle: str | None = None
        self._session: Any = None  # google.genai.live.AsyncSession while connected
        self._ready = anyio.Event()

    @property
    def base_url(self) -> str:
        opts = self.client._api_client._http_options  # for messages only; never overridden
        return str(opts.base_url or "").rstrip("/")

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Connect, report started after setupComplete, then receive until the server ends it."""
        try:
            connection = self.client.aio.live.connect(model=self.model, config=self.build_config(self.resume_handle))
            async with connection as session:
                self._session = session
                self.session_id = session.session_id
                if self.on_setup:
                    self.on_setup(session.session_id)
                self._ready.set()
                task_status.started()
                await self._receive(session)
        except genai_errors.APIError as e:
            code, reason = close_of(e)
            raise SessionError(f"Gemini Live closed the session ({describe_close(code, reason)})") from None
        except (OSError, websockets.InvalidStatus, websockets.InvalidHandshake) as e:
            raise connect_failure(e, self.base_url) from None
        finally:
            self._session = None

    async def _receive(self, session: Any) -> None:
        while True:
            # receive() ends after each completed turn; the next call carries on.
            async for message in session.receive():
                update = message.session_resumption_update
                if update and update.resumable and update.new_handle:
                    self.resume_handle = update.new_handle
                self.on_message(message)

    # ---- sending ---------------------------------------------------------------------

    async def _current(self) -> Any:
        await self._ready.wait()
        if self._session is None:
            raise SessionError("the Live session has ended")
        return self._session

    async def send_text(self, text: str, *, realtime: bool) -> None:
        """A user turn: realtimeInput.text for Gemini 3.x Live, a clientContent turn otherwise."""
        session = await self._current()
        if realtime:
            await session.send_realtime_input(text=text)
        else:
            await session.send_client_content(
                turns=types.Content(role="user", parts=[types.Part(text=text)]), turn_complete=True
            )

    async def send_audio(self, chunk: AudioChunk) -> None:
        session = await self._current()
        await session.send_realtime_input(audio=types.Blob(data=chunk.data, mime_type=f"audio/pcm;rate={chunk.rate}"))

    async def send_audio_stream_end(self) -> None:
        session = await self._current()
        await session.send_realtime_input(audio_stream_end=True)

    async def send_video(self, frame: VideoFrame) -> None:
        session = await self._current()
        await session.send_realtime_input(video=types.Blob(data=frame.data, mime_type=frame.mime_type))

    async def send_tool_responses(self, results: list[FunctionResult]) -> None:
        session = await self._current()
        await session.send_tool_response(
            function_responses=[types.FunctionResponse(id=r.id, name=r.name, response=r.response) for r in results]
        )
