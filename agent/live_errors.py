"""How the Live connection fails, in words a user can act on, and what the session keeps to say so.

Close codes and the errors behind them (the SDK's APIError, websockets' exceptions) become one
line; the frame tap keeps the last frame the SDK read, so a frame it cannot parse can be named.
"""

from __future__ import annotations

import ssl
from typing import Any

import websockets
import websockets.asyncio.client
from google.genai import errors as genai_errors

from agent.errors import SessionError

# The Live endpoint does not redirect. websockets follows redirects and, across origins, strips
# Authorization and cookies but not `x-goog-api-key`: a redirect to another host would carry the
# key there. One attempt and no redirects (the SDK offers no option for it; this is the library's
# own module-level limit, read at every connect).
websockets.asyncio.client.MAX_REDIRECTS = 1

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
    if isinstance(exc, websockets.SecurityError) and "redirect" in str(exc):
        return SessionError(f"Gemini Live at {base} answered with a redirect; it is not followed (the API key stays with the endpoint you set)")
    if isinstance(exc, websockets.InvalidStatus):
        status = exc.response.status_code
        hint = " (check GOOGLE_API_KEY)" if status in (401, 403) else ""
        return SessionError(f"Gemini Live refused the connection: HTTP {status}{hint}")
    if isinstance(exc, ssl.SSLError):
        return SessionError(f"TLS error talking to {base}: {exc.reason or exc}")
    if isinstance(exc, OSError):
        return SessionError(f"cannot connect to Gemini Live at {base}: {exc.strerror or exc}")
    return SessionError(f"cannot connect to Gemini Live at {base}: {exc}")


def first_line(text: str, limit: int = 160) -> str:
    """The first non-empty line of what a server sent, cut to `limit` characters."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


class FrameTap:
    """Keeps the last frame the SDK read from the websocket, and nothing else.

    When the SDK cannot parse a frame its error says little (or, for a long frame, far too much);
    with the frame at hand the session reports it in one line and still answers the readable
    calls of a toolCall it refused. Everything else passes straight through to the websocket.
    """

    def __init__(self, ws: Any) -> None:
        self._ws = ws
        self.last: str | bytes | None = None

    async def recv(self, *args: Any, **kwargs: Any) -> Any:
        self.last = None
        self.last = frame = await self._ws.recv(*args, **kwargs)
        return frame

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ws, name)
