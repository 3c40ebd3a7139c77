"""A stdio server's output read in linear time and bounded memory: JSON-RPC lines and stderr lines.

Each line is gathered as a list of chunks (joining a growing buffer to every chunk was quadratic:
28 s of CPU for one 50 MB result). A stdout line longer than FAST_LINE goes through JsonTrimmer as
it arrives, so a huge result costs one pass and a few MB; a line nested too deep for the JSON
parsers is trimmed too. Floods of notifications we never use are consumed here, before the
costly parts (validation, a task per notification in the session), so they cannot starve a call.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterable, Callable
from typing import Any

import anyio
import anyio.abc
import mcp_types as types
from mcp.shared.message import SessionMessage
from pydantic import ValidationError

from agent.tools.json_trim import JsonTrimmer, trim_json
from agent.tools.printable import printable
from agent.tools.progress import is_ours

logger = logging.getLogger(__name__)

FAST_LINE = 1024 * 1024  # bytes; longer stdout lines are trimmed while they are read
STDERR_LINE = 2000  # bytes of one stderr line kept
LOG_BURST = 200  # server log notifications logged at once; then LOG_RATE per second
LOG_RATE = 20.0
PROGRESS_GAP = 0.1  # seconds: progress for one of our calls passes at most this often (the router shows one per 2 s)
PROGRESS_BURST = 100  # progress notifications of ours passed at once, all calls together; then PROGRESS_RATE per second
PROGRESS_RATE = 50.0


class _Lines:
    """Chunks in, complete lines out (without the newline)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._size = 0  # bytes of the current line so far

    def feed(self, chunk: bytes) -> list[bytes]:
        lines = []
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            self._add(chunk[start:end])
            lines.append(self._take())
            start = end + 1
        if start < len(chunk):
            self._add(chunk[start:] if start else chunk)
        return lines

    def rest(self) -> bytes:
        """What followed the last newline (at end of stream)."""
        return self._take()

    def _add(self, piece: bytes) -> None:
        raise NotImplementedError

    def _take(self) -> bytes:
        raise NotImplementedError


class JsonLines(_Lines):
    """Lines up to `fast_line` bytes as they are; longer ones trimmed (see json_trim)."""

    def __init__(self, fast_line: int = FAST_LINE) -> None:
        super().__init__()
        self.fast_line = fast_line
        self._trimmer: JsonTrimmer | None = None

    def _add(self, piece: bytes) -> None:
        if self._trimmer is not None:
            self._trimmer.feed(piece)
            return
        self._parts.append(piece)
        self._size += len(piece)
        if self._size > self.fast_line:
            self._trimmer = JsonTrimmer()
            for part in self._parts:
                self._trimmer.feed(part)
            self._parts = []

    def _take(self) -> bytes:
        if self._trimmer is not None:
            line, self._trimmer = self._trimmer.result(), None
        else:
            line = b"".join(self._parts)
        self._parts, self._size = [], 0
        return line


class CappedLines(_Lines):
    """Lines cut to their first `cap` bytes; the rest is dropped as it arrives."""

    def __init__(self, cap: int = STDERR_LINE) -> None:
        super().__init__()
        self.cap = cap

    def _add(self, piece: bytes) -> None:
        if self._size < self.cap:
            self._parts.append(piece[: self.cap - self._size])
        self._size += len(piece)

    def _take(self) -> bytes:
        line = b"".join(self._parts)
        if self._size > self.cap:
            line += f" … [{self._size - self.cap:,} more bytes]".encode()
        self._parts, self._size = [], 0
        return line


def decode(line: bytes) -> Any:
    """The line's JSON value (deep nesting cut), or the line's text when it is not JSON."""
    text = line.decode("utf-8", errors="replace").strip()
    if not text or text[0] not in "{[":
        return text
    try:
        return json.loads(text)
    except RecursionError:  # deeper than the parser's stack; cut the nesting, with a note
        try:
            return json.loads(trim_json(text))
        except (ValueError, RecursionError):
            return text
    except ValueError:
        return text


def to_message(value: Any) -> SessionMessage | None:
    """A decoded JSON value as a JSON-RPC message, or None when it is not one."""
    if not isinstance(value, dict):
        return None
    try:
        return SessionMessage(types.jsonrpc_message_adapter.validate_python(value, by_name=False))
    except ValidationError:
        return None


class ServerNotifications:
    """Consumes the notifications the client never uses, before they cost a session task each.

    Progress: only that of our own calls (a token of ours, see agent/tools/progress.py) goes on to
    the session, at most one per PROGRESS_GAP per token and PROGRESS_RATE per second in all.
    Log messages: at most LOG_BURST at once and LOG_RATE per second after, handed to `on_log` (as
    their params; see mcp_log), or else logged at debug level.
    """

    def __init__(self, label: str, on_log: Callable[[Any], None] | None = None) -> None:
        self.label = label
        self.on_log = on_log
        self.dropped = 0
        self._log = Bucket(LOG_BURST, LOG_RATE)
        self._progress = Bucket(PROGRESS_BURST, PROGRESS_RATE)
        self._last_progress: dict[str, float] = {}  # token -> when its last report went on

    def consume(self, value: dict[str, Any]) -> bool:
        """True when this message was handled here (the session must not see it)."""
        method = value.get("method")
        if "id" in value or method not in ("notifications/progress", "notifications/message"):
            return False
        if method == "notifications/progress" and self._ours(value.get("params")):
            return False
        if method == "notifications/message" and self.on_log is not None and self._log.take(anyio.current_time()):
            self.on_log(value.get("params"))
        elif method == "notifications/message" and logger.isEnabledFor(logging.DEBUG) and self._log.take(anyio.current_time()):
            params = value.get("params")
            params = params if isinstance(params, dict) else {}
            data = params.get("data")
            text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, default=str)
            logger.debug("[%s log %s] %s", self.label, params.get("level"), printable(text[:2000]))
        else:
            self.dropped += 1
        return True

    def _ours(self, params: Any) -> bool:
        """Progress for a call we made, not too often: the session may see it."""
        token = params.get("progressToken") if isinstance(params, dict) else None
        if not is_ours(token):
            return False
        now = anyio.current_time()
        if now - self._last_progress.get(token, -PROGRESS_GAP) < PROGRESS_GAP or not self._progress.take(now):
            return False
        if len(self._last_progress) > 1024:  # tokens of finished calls (or invented ones) are forgotten
            self._last_progress.clear()
        self._last_progress[token] = now
        return True


class Bucket:
    """A token bucket: `burst` at once, then `rate` per second."""

    def __init__(self, burst: float, rate: float) -> None:
        self.burst, self.rate = burst, rate
        self._tokens, self._at = burst, anyio.current_time()

    def take(self, now: float) -> bool:
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


async def pump_stdout(
    stdout: AsyncIterable[bytes], send: anyio.abc.ObjectSendStream[Any], label: str, on_log: Callable[[Any], None] | None = None
) -> None:
    """Read a server's stdout until EOF, sending each JSON-RPC message on `send` (log messages to `on_log`)."""
    lines = JsonLines()
    notifications = ServerNotifications(label, on_log)
    noise = 0
    async for chunk in stdout:
        for line in lines.feed(chunk):
            value = decode(line)
            if isinstance(value, dict) and notifications.consume(value):
                continue
            message = to_message(value)
            if message is not None:
                await send.send(message)
            elif value:
                # Some servers print banners or logs to stdout: not protocol messages.
                noise += 1
                shown = printable(value if isinstance(value, str) else line.decode("utf-8", "replace"), one_line=True)
                level = logging.WARNING if noise == 1 else logging.DEBUG
                logger.log(level, "MCP server %s wrote a non-JSON-RPC line to stdout: %.200s", label, shown)


async def pump_stderr(stderr: AsyncIterable[bytes], on_line: Callable[[str], None]) -> None:
    """Read a server's stderr until EOF, handing on each non-empty line, cut and made printable."""
    lines = CappedLines()
    async for chunk in stderr:
        for raw in lines.feed(chunk):
            _hand_on(raw, on_line)
    _hand_on(lines.rest(), on_line)


def _hand_on(raw: bytes, on_line: Callable[[str], None]) -> None:
    line = printable(raw.decode("utf-8", errors="replace").rstrip(), one_line=True)
    if line:
        on_line(line)
