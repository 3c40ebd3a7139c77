"""Routes the model's function calls to tool backends and sends exactly one answer per call id.

Every call runs in its own task and cancel scope, so the receive loop never waits on a tool;
a toolCallCancellation cancels that scope and the call gets no answer. Answers go out through
one sender task that batches whatever is ready, so a slow `respond` delays neither the tools
nor the answers behind it more than one send.

A call delivered again (a resumed connection repeats a call answered on the old one, whose
answer may never have arrived) is answered again from the answers kept by id, never run twice;
calls without an id are each run and answered.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectSendStream

from ..events import FunctionCall, FunctionResult
from .catalog import Catalog, ToolEntry
from .images import take_images
from .progress import CallProgress, Progress, reporting
from .results import DECLINED as NOT_APPROVED
from .results import ERROR as FAILED
from .results import INVALID_ARGUMENT, UNKNOWN_FUNCTION, completed, failure
from .results import TIMEOUT as TIMED_OUT
from .validation import ArgumentValidator

logger = logging.getLogger(__name__)

OK, ERROR, TIMEOUT, CANCELLED, DECLINED = "ok", "error", "timeout", "cancelled", "declined"
SILENT = "SILENT"  # a progress report: taken into the context without a reply
_REMEMBERED_IDS = 10_000  # answered ids kept to drop re-deliveries; old ones age out
_REMEMBERED_ANSWERS = 256  # answers kept to answer a re-delivery (each at most ~32k characters)
ALREADY_HANDLED = "this call was already handled (cancelled, or answered too long ago to repeat the answer); it was not run again"


@dataclass(frozen=True)
class CallReport:
    """How one call ended, for the console, logs and metrics."""

    call: FunctionCall
    entry: ToolEntry | None
    outcome: str  # "ok" | "error" | "timeout" | "cancelled"
    duration: float  # seconds
    response: dict[str, Any] | None  # None when cancelled (nothing is sent)


class RouterObserver(Protocol):
    """Optional listener; its exceptions are logged and ignored."""

    def call_started(self, call: FunctionCall, entry: ToolEntry | None) -> None: ...

    def call_finished(self, report: CallReport) -> None: ...


Respond = Callable[[list[FunctionResult]], Awaitable[None]]
Confirm = Callable[[str, str, str, dict[str, Any]], Awaitable[str | None]]  # (name, tool, source, args) -> why declined


class Router:
    """Runs function calls concurrently; each id runs once and gets its answer (again, if delivered again)."""

    def __init__(
        self, catalog: Catalog, *, respond: Respond, observer: RouterObserver | None = None, partial_results: bool = True,
        confirm: Confirm | None = None,
    ) -> None:
        self._confirm = confirm  # asks a person before a call whose policy says so (agent.questions.Confirmations)
        self._catalog = catalog
        self._partial_results = partial_results  # progress of a non-blocking call goes to the model (not on Vertex AI)
        self._respond = respond
        self._observer = observer
        self._validator = ArgumentValidator()
        self._tg: anyio.abc.TaskGroup | None = None
        self._scopes: dict[str, anyio.CancelScope] = {}  # in flight
        self._seen: set[str] = set()
        self._seen_order: deque[str] = deque()
        self._answers: OrderedDict[str, FunctionResult] = OrderedDict()  # id -> the answer sent, newest last
        self._unnamed = 0  # calls without an id so far: each gets its own key
        self._send: MemoryObjectSendStream[FunctionResult] | None = None  # set by run()
        self._pending = 0  # results queued or being sent
        self._idle = anyio.Event()
        self._idle.set()

    @property
    def busy(self) -> bool:
        """True while a call runs or an answer has not been handed to `respond` yet."""
        return bool(self._scopes) or self._pending > 0

    async def idle(self) -> None:
        """Wait until every call submitted so far is answered (or cancelled)."""
        while self.busy:
            await self._idle.wait()

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Own the calls' task group until cancelled; cancelling it cancels every call."""
        send, ready = anyio.create_memory_object_stream[FunctionResult](math.inf)
        async with send, anyio.create_task_group() as tg:
            tg.start_soon(self._sender, ready)
            self._send, self._tg = send, tg
            try:
                task_status.started()
                await anyio.sleep_forever()
            finally:
                self._tg = None
                tg.cancel_scope.cancel()

    def submit(self, calls: list[FunctionCall]) -> None:
        """Start every call of a toolCall; never blocks. A repeated id runs once (see _repeat)."""
        if self._tg is None:
            raise RuntimeError("Router.submit() before Router.run() started")
        for call in calls:
            if call.id and self._repeat(call):
                continue
            if call.id:
                self._remember(call.id)
                key = call.id
            else:
                self._unnamed += 1
                key = f"\0unnamed {self._unnamed}"  # cannot clash with an id the server sends
            scope = anyio.CancelScope()
            self._scopes[key] = scope
            self._set_busy()
            self._tg.start_soon(self._run_call, call, key, scope, name=f"tool call {call.id}")

    def cancel(self, ids: list[str]) -> None:
        """toolCallCancellation: cancel those calls; they get no answer."""
        for call_id in ids:
            scope = self._scopes.get(call_id)
            if scope is None:
                logger.debug("cancellation for %s: not in flight", call_id)
                continue
            scope.cancel()

    def reject(self, call: FunctionCall, reason: str) -> None:
        """Answer a call that cannot run as it came (unreadable arguments) without running it."""
        if self._send is None:
            raise RuntimeError("Router.reject() before Router.run() started")
        response = failure(INVALID_ARGUMENT, f"invalid arguments: {reason}")
        entry = self._catalog.get(call.name)
        self._queue(FunctionResult(call.id, call.name, response, scheduling=_scheduling(entry)))
        self._notify("call_finished", CallReport(call, entry, ERROR, 0.0, response))

    # ---- internals ----------------------------------------------------------------------

    def _repeat(self, call: FunctionCall) -> bool:
        """A call id seen before: left to its run in flight, or answered again without running."""
        if call.id in self._scopes:
            logger.info("function call %s (%s) delivered again while it runs; it is answered once", call.id, call.name)
            return True
        answer = self._answers.get(call.id)
        if answer is not None:
            logger.info("function call %s (%s) delivered again; its answer is sent again, the tool is not run twice",
                        call.id, call.name)
            self._queue(answer)
            return True
        if call.id in self._seen:
            logger.warning("function call %s (%s) delivered again; %s", call.id, call.name, ALREADY_HANDLED)
            self._queue(FunctionResult(call.id, call.name, failure(FAILED, ALREADY_HANDLED)))
            return True
        return False

    def _queue(self, result: FunctionResult) -> None:
        """Hand an answer to the sender, and keep it to answer a re-delivery of its id."""
        assert self._send is not None
        if result.id and result.final:  # a progress report is not the answer to repeat
            self._answers[result.id] = dataclasses.replace(result, images=()) if result.images else result  # kept small
            self._answers.move_to_end(result.id)
            if len(self._answers) > _REMEMBERED_ANSWERS:
                self._answers.popitem(last=False)
        self._pending += 1
        self._set_busy()
        self._send.send_nowait(result)

    async def _run_call(self, call: FunctionCall, key: str, scope: anyio.CancelScope) -> None:
        target, entry = self._catalog.resolve(call)  # call_tool(name, arguments) runs as a call of that tool
        self._notify("call_started", target, entry)
        started = time.perf_counter()
        response: dict[str, Any] | None = None
        outcome = CANCELLED
        pump = anyio.CancelScope()
        progress = CallProgress(on_first=lambda: self._start_pump(call, entry, progress, pump))
        try:
            with scope, reporting(progress):
                response, outcome = await self._execute(target, entry)
        except Exception as exc:  # loop top: a bug here must still answer the call
            logger.exception("routing %s (%s) failed", call.id, call.name)
            response, outcome = failure(FAILED, f"internal error: {type(exc).__name__}: {exc}"), ERROR
        finally:
            pump.cancel()  # no progress report after the answer
            self._scopes.pop(key, None)
            response, images = take_images(response)
            if response is not None and not scope.cancel_called and self._send is not None:
                self._queue(FunctionResult(call.id, call.name, response, scheduling=_scheduling(entry), images=images))
            else:
                response, outcome = None, CANCELLED
            report = CallReport(target, entry, outcome, time.perf_counter() - started, response)
            self._notify("call_finished", report)
            self._check_idle()

    async def _execute(self, call: FunctionCall, entry: ToolEntry | None) -> tuple[dict[str, Any], str]:
        if entry is None:
            known = ", ".join(self._catalog.names[:8]) or "none"
            return failure(UNKNOWN_FUNCTION, f"unknown function {call.name!r}; known functions include: {known}"), ERROR
        args = entry.schema.restore_args(call.args if isinstance(call.args, dict) else {})
        violations = await self._validator.check(entry.tool.input_schema, args)
        if violations:
            return failure(INVALID_ARGUMENT, "invalid arguments: " + "; ".join(violations), valid_options=_options(violations)), ERROR
        if entry.policy.confirm:  # a person says yes first; a declined call never reaches the tool
            declined = await self._confirm(call.name, entry.name, entry.source, args) if self._confirm else "nobody can confirm it here"
            if declined is not None:
                return failure(NOT_APPROVED, declined), DECLINED
        timeout = entry.timeout if entry.timeout and entry.timeout > 0 else math.inf
        try:
            with anyio.move_on_after(timeout) as deadline:
                result = await entry.backend.call(entry.name, args)
        except Exception as exc:  # the backend should return {"error"}; this one raised
            logger.warning("tool %s/%s raised", entry.source, entry.name, exc_info=True)
            return failure(FAILED, f"{type(exc).__name__}: {exc}"), ERROR
        if deadline.cancel_called:  # also when the backend swallowed the cancellation
            return failure(TIMED_OUT, f"{call.name} timed out after {entry.timeout:g} s"), TIMEOUT
        return _normalise(result)

    async def _sender(self, ready: anyio.abc.ObjectReceiveStream[FunctionResult]) -> None:
        async with ready:
            async for first in ready:
                batch = [first]
                while True:  # whatever else finished meanwhile goes in the same message
                    try:
                        batch.append(ready.receive_nowait())  # type: ignore[attr-defined]
                    except anyio.WouldBlock:
                        break
                try:
                    await self._respond(batch)
                except Exception:  # loop top: a failed send must not end the router
                    logger.exception("sending %d tool response(s) failed", len(batch))
                finally:
                    self._pending -= len(batch)
                    self._check_idle()

    def _start_pump(self, call: FunctionCall, entry: ToolEntry | None, progress: CallProgress, pump: anyio.CancelScope) -> None:
        """The call reported progress: from now on hand on the latest, at most once per interval."""
        partial = self._partial_results and entry is not None and entry.policy.non_blocking

        def emit(report: Progress) -> None:
            self._notify("call_progress", call, entry, report)
            if partial:  # the model hears it without answering; the call stays in flight
                self._queue(FunctionResult(call.id, call.name, report.response(), scheduling=SILENT, will_continue=True))

        async def run() -> None:
            with pump:
                await progress.pump(emit)

        if self._tg is not None and not pump.cancel_called:
            self._tg.start_soon(run, name=f"progress of {call.id}")

    def _remember(self, call_id: str) -> None:
        self._seen.add(call_id)
        self._seen_order.append(call_id)
        if len(self._seen_order) > _REMEMBERED_IDS:
            self._seen.discard(self._seen_order.popleft())

    def _set_busy(self) -> None:
        if self._idle.is_set():
            self._idle = anyio.Event()

    def _check_idle(self) -> None:
        if not self.busy:
            self._idle.set()

    def _notify(self, method: str, *args: Any) -> None:
        if self._observer is None:
            return
        handler = getattr(self._observer, method, None)  # call_progress is optional
        if handler is None:
            return
        try:
            handler(*args)
        except Exception:  # an observer must never break routing
            logger.exception("router observer %s failed", method)


def _scheduling(entry: ToolEntry | None) -> str | None:
    """When the model takes up a call's final answer: set for non-blocking calls only."""
    return entry.policy.final_scheduling() if entry is not None else None


def _options(violations: list[str]) -> Any:
    """`valid_options` for bad values that had an enum: its values, or by argument path when several did."""
    found = {getattr(v, "path", ""): v.options for v in violations if getattr(v, "options", None)}  # type: ignore[attr-defined]
    if len(found) > 1:
        return found
    return next(iter(found.values()), None)


def _normalise(result: Any) -> tuple[dict[str, Any], str]:
    """The backend's answer as the model gets it: {"output": ...}, a status payload, or a failure (see results.py)."""
    if isinstance(result, dict) and "error" in result:
        return completed(result), ERROR
    if isinstance(result, dict) and ("output" in result or "status" in result):
        return result, OK
    return {"output": result}, OK
