"""Progress of running tool calls: MCP `notifications/progress` become partial answers and status.

Every `tools/call` carries a progress token of ours (PROGRESS_PREFIX and a counter; the request id
doubles as the token, as the mcp SDK's dispatcher does it). The stdio reader lets progress with
such a token through (rate-limited; any other progress is dropped there as a flood), the
dispatcher hands it to the call's `on_progress`, and that reaches the CallProgress the router set
for the call in this context. The router hands on the latest report at most once every
PARTIAL_INTERVAL seconds: to the person (the tool activity line, the status, the record) and, for a
non-blocking call, to the model as a partial FunctionResponse (`will_continue`, SILENT).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeGuard

import anyio
from mcp.shared.dispatcher import CallOptions

PROGRESS_PREFIX = "gemini-live-call-"  # our tools/call ids and progress tokens; never an integer
PARTIAL_INTERVAL = 2.0  # seconds: at most one progress report per call this often (the latest wins)
MAX_MESSAGE = 500  # characters of a progress message kept
_tokens = itertools.count(1)


@dataclass(frozen=True)
class Progress:
    """One progress report of a running call."""

    progress: float
    total: float | None = None
    message: str | None = None

    def response(self) -> dict[str, Any]:
        """The partial answer's payload: {"status": "in_progress", "progress": p, "total": t, "message": m}."""
        found: dict[str, Any] = {"status": "in_progress", "progress": _number(self.progress)}
        if self.total is not None:
            found["total"] = _number(self.total)
        if self.message:
            found["message"] = self.message
        return found

    def text(self) -> str:
        """`3/10 (30%) copying` for the tool activity line (the message is the server's: print it made safe)."""
        done = f"{_number(self.progress)}"
        if self.total:
            done += f"/{_number(self.total)} ({min(100.0, 100 * self.progress / self.total):.0f}%)"
        return f"{done} {self.message}" if self.message else done


def _number(value: float) -> float | int:
    return int(value) if math.isfinite(value) and value == int(value) else value


class CallProgress:
    """One call's progress: the latest report, handed on at most once per `interval` seconds."""

    def __init__(self, interval: float = PARTIAL_INTERVAL, on_first: Callable[[], None] | None = None) -> None:
        self.interval = interval
        self.latest: Progress | None = None
        self.reports = 0  # how many the server sent (that reached us)
        self._fresh = anyio.Event()
        self._on_first = on_first  # most calls report nothing: whoever pumps starts at the first report

    def report(self, progress: Progress) -> None:
        self.latest = progress
        self.reports += 1
        self._fresh.set()
        if self._on_first is not None:
            on_first, self._on_first = self._on_first, None
            on_first()

    async def pump(self, emit: Callable[[Progress], None]) -> None:
        """Call `emit` with the latest report as reports come, never twice within the interval."""
        sent_at = -math.inf
        while True:
            await self._fresh.wait()
            wait = sent_at + self.interval - anyio.current_time()
            if wait > 0:
                await anyio.sleep(wait)  # reports meanwhile replace the one waiting
            self._fresh = anyio.Event()
            sent_at = anyio.current_time()
            if self.latest is not None:
                emit(self.latest)


_current: ContextVar[CallProgress | None] = ContextVar("gemini_live_call_progress", default=None)


@contextmanager
def reporting(progress: CallProgress) -> Iterator[None]:
    """Within this block (the call's task), a backend's progress reaches `progress`."""
    token = _current.set(progress)
    try:
        yield
    finally:
        _current.reset(token)


def current() -> CallProgress | None:
    return _current.get()


def next_token() -> str:
    return f"{PROGRESS_PREFIX}{next(_tokens)}"


def is_ours(token: Any) -> TypeGuard[str]:
    """A progress token this process sent (so the notification answers a call we made)."""
    return isinstance(token, str) and token.startswith(PROGRESS_PREFIX)


def request_options() -> CallOptions:
    """Options for a tools/call: our id (which is the progress token) and where its progress goes."""
    call = current()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        done = progress
        if call is not None and math.isfinite(done):
            kept = message[:MAX_MESSAGE] if isinstance(message, str) and message else None
            call.report(Progress(done, total if total is not None and math.isfinite(total) else None, kept))

    return {"request_id": next_token(), "on_progress": on_progress}
