"""Routing toolCalls: concurrency, one answer per id, errors as data, timeouts, cancellation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from agent.events import FunctionCall, FunctionResult
from agent.tools.base import DiscoveredTool
from agent.tools.catalog import Catalog, ToolSource, build_catalog
from agent.tools.router import ALREADY_HANDLED, CallReport, Router

WAIT = 10  # seconds; only a bound on waits that should end almost at once


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class GatedBackend:
    """Calls block until the test opens the gate; records what happened, in order."""

    def __init__(self) -> None:
        self.gate = anyio.Event()
        self.events: list[tuple[str, Any]] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._changed = anyio.Event()

    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        n = arguments.get("n")
        self.calls.append((tool, arguments))
        self._record("start", n)
        try:
            if tool != "fast":
                await self.gate.wait()
        except anyio.get_cancelled_exc_class():
            self._record("cancelled", n)
            raise
        self._record("end", n)
        if tool == "fail":
            return {"error": "the tool said no"}
        if tool == "boom":
            raise ValueError("boom")
        return {"output": {"n": n, "arguments": arguments}}

    def _record(self, what: str, n: Any) -> None:
        self.events.append((what, n))
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_for(self, what: str, count: int) -> None:
        with anyio.fail_after(WAIT):
            while sum(1 for e in self.events if e[0] == what) < count:
                await self._changed.wait()


class Responses:
    """The `respond` callable: collects results; can be held to simulate a slow send."""

    def __init__(self) -> None:
        self.batches: list[list[FunctionResult]] = []
        self.hold: anyio.Event | None = None
        self.entered = anyio.Event()
        self._taken = 0
        self._changed = anyio.Event()

    async def __call__(self, batch: list[FunctionResult]) -> None:
        self.entered.set()
        if self.hold is not None:
            await self.hold.wait()
        self.batches.append(batch)
        self._changed.set()
        self._changed = anyio.Event()

    async def take(self, count: int, *, again: bool = False) -> dict[str, FunctionResult]:
        """The next `count` results (by id), failing on a second answer for an id unless `again`."""
        new = await self.take_list(count)
        out = {r.id: r for r in new}
        if not again:
            assert len(out) == count and not {r.id for r in self.all[: self._taken - count]} & set(out), "answered twice"
        return out

    async def take_list(self, count: int) -> list[FunctionResult]:
        """The next `count` results, in the order they were sent."""
        with anyio.fail_after(WAIT):
            while len(self.all) < self._taken + count:
                await self._changed.wait()
        new = self.all[self._taken : self._taken + count]
        self._taken += count
        return new

    @property
    def all(self) -> list[FunctionResult]:
        return [r for batch in self.batches for r in batch]


class Observer:
    def __init__(self) -> None:
        self.started: list[str] = []
        self.finished: list[CallReport] = []

    def call_started(self, call: FunctionCall, entry: Any) -> None:
        self.started.append(call.id)

    def call_finished(self, report: CallReport) -> None:
        self.finished.append(report)

    def outcome(self, call_id: str) -> str:
        return next(r.outcome for r in self.finished if r.call.id == call_id)


N_SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}}


def make_catalog(backend: GatedBackend, timeout: float = 30) -> Catalog:
    tools = [DiscoveredTool("t", name, input_schema=N_SCHEMA) for name in ("slow", "fast", "fail", "boom")]
    tools.append(DiscoveredTool("t", "strict", input_schema={
        "type": "object", "additionalProperties": False, "required": ["path", "mode"],
        "properties": {"path": {"type": "string"}, "mode": {"enum": [1, 2]}, "$meta": {"type": "string"},
                       "tags": {"type": "array", "items": {"type": "string"}}}}))
    tools.append(DiscoveredTool("t", "broken", input_schema={"type": "object", "properties": {"a": {"$ref": "#/nowhere"}}}))
    tools.append(DiscoveredTool("t", "weird", input_schema={"$schema": "http://example.com/unknown-draft", "type": 7}))
    return build_catalog([ToolSource("t", tools, backend, prefix="", timeout=timeout)])


@asynccontextmanager
async def running(catalog: Catalog, respond: Responses, observer: Observer | None = None) -> AsyncIterator[Router]:
    router = Router(catalog, respond=respond, observer=observer)
    async with anyio.create_task_group() as tg:
        await tg.start(router.run)
        yield router
        tg.cancel_scope.cancel()


def calls(name: str, count: int, first: int = 0) -> list[FunctionCall]:
    return [FunctionCall(f"c{i}", name, {"n": i}) for i in range(first, first + count)]


@pytest.mark.anyio
async def test_calls_of_one_toolcall_run_concurrently_and_each_id_is_answered_once() -> None:
    backend, responses = GatedBackend(), Responses()
    async with running(make_catalog(backend), responses) as router:
        router.submit(calls("slow", 8))  # returns at once: nothing here awaits a tool
        await backend.wait_for("start", 8)
        assert not any(e[0] == "end" for e in backend.events)  # all 8 overlap
        assert router.busy
        backend.gate.set()
        results = await responses.take(8)
        with anyio.fail_after(WAIT):
            await router.idle()
    assert sorted(results) == [f"c{i}" for i in range(8)]
    assert all(r.response == {"output": {"n": int(r.id[1:]), "arguments": {"n": int(r.id[1:])}}} for r in results.values())
    assert len(responses.all) == 8 and not router.busy


@pytest.mark.anyio
async def test_duplicate_ids_in_flight_run_once_and_are_answered_once() -> None:
    backend, responses = GatedBackend(), Responses()
    async with running(make_catalog(backend), responses) as router:
        router.submit([FunctionCall("dup", "slow", {"n": 1}), FunctionCall("dup", "slow", {"n": 1})])
        await backend.wait_for("start", 1)
        router.submit([FunctionCall("dup", "slow", {"n": 1})])  # again while in flight
        backend.gate.set()
        await responses.take(1)
        with anyio.fail_after(WAIT):
            await router.idle()
    assert [r.id for r in responses.all] == ["dup"]
    assert len(backend.calls) == 1


@pytest.mark.anyio
async def test_a_call_delivered_again_after_its_answer_is_answered_again_without_running() -> None:
    # A resumed connection repeats a call answered on the old one: the model still waits for it.
    backend, responses = GatedBackend(), Responses()
    async with running(make_catalog(backend), responses) as router:
        backend.gate.set()
        router.submit([FunctionCall("r", "slow", {"n": 1}), FunctionCall("bad", "strict", {})])
        first = await responses.take(2)
        router.submit([FunctionCall("r", "slow", {"n": 1}), FunctionCall("next", "fast", {"n": 2}), FunctionCall("bad", "strict", {})])
        again = await responses.take(3, again=True)
        with anyio.fail_after(WAIT):
            await router.idle()
    assert again["r"] == first["r"] and again["bad"] == first["bad"]  # the same answers, sent again
    assert again["next"].ok
    assert [tool for tool, _ in backend.calls] == ["slow", "fast"]  # nothing ran twice


@pytest.mark.anyio
async def test_an_id_whose_answer_aged_out_or_was_cancelled_gets_an_error_not_a_second_run() -> None:
    backend, responses = GatedBackend(), Responses()
    async with running(make_catalog(backend), responses) as router:
        router.submit([FunctionCall("gone", "slow", {"n": -1})])
        await backend.wait_for("start", 1)
        router.cancel(["gone"])
        await backend.wait_for("cancelled", 1)
        router.submit(calls("fast", 300))  # more answers than the router keeps
        await responses.take(300)
        router.submit([FunctionCall("c0", "fast", {}), FunctionCall("gone", "slow", {}), FunctionCall("c299", "fast", {})])
        again = await responses.take(3, again=True)
    assert again["c0"].response == again["gone"].response == {"status": "error", "error": ALREADY_HANDLED, "retryable": False}
    assert again["c299"].response["output"]["n"] == 299  # a recent answer is still kept
    assert len(backend.calls) == 301


@pytest.mark.anyio
async def test_calls_without_an_id_are_each_run_and_answered() -> None:
    backend, responses = GatedBackend(), Responses()
    async with running(make_catalog(backend), responses) as router:
        router.submit([FunctionCall("", "fast", {"n": 1}), FunctionCall("", "fast", {"n": 2})])
        router.submit([FunctionCall("", "fast", {"n": 3})])
        answered = await responses.take_list(3)
        with anyio.fail_after(WAIT):
            await router.idle()
    assert sorted(r.response["output"]["n"] for r in answered) == [1, 2, 3]
    assert all(r.id == "" and r.name == "fast" for r in answered)


@pytest.mark.anyio
async def test_unknown_function_lists_known_names() -> None:
    responses = Responses()
    async with running(make_catalog(GatedBackend()), responses) as router:
        router.submit([FunctionCall("u", "nope", {})])
        result = (await responses.take(1))["u"]
    assert result.name == "nope"
    assert result.response["error"].startswith("unknown function 'nope'") and "slow" in result.response["error"]
    assert result.response["status"] == "unknown_function" and result.response["retryable"] is False


@pytest.mark.anyio
async def test_invalid_arguments_list_each_violation_with_its_path() -> None:
    backend, responses = GatedBackend(), Responses()
    async with running(make_catalog(backend), responses) as router:
        router.submit([FunctionCall("bad", "strict", {"mode": "3", "tags": ["a", 5], "extra": 1})])
        response = (await responses.take(1))["bad"].response
    error = response["error"]
    assert response["status"] == "invalid_argument" and response["retryable"] is True
    assert response["valid_options"] == [1, 2]  # `mode` had an enum: its values, as the tool's schema has them
    assert error.startswith("invalid arguments: ")
    assert "'path' is a required property" in error
    assert "/tags/1: 5 is not of type 'string'" in error
    assert "/mode:" in error and "Additional properties" in error
    assert backend.calls == []


@pytest.mark.anyio
async def test_arguments_are_restored_before_validation_and_the_call() -> None:
    backend, responses = GatedBackend(), Responses()
    catalog = make_catalog(backend)
    props = catalog.get("strict").declaration.parameters.properties
    assert "_meta" in props and props["mode"].enum == ["1", "2"]
    async with running(catalog, responses) as router:
        router.submit([FunctionCall("ok", "strict", {"path": "/x", "mode": "2", "_meta": "m"})])
        backend.gate.set()
        result = (await responses.take(1))["ok"]
    assert result.ok
    assert backend.calls == [("strict", {"path": "/x", "mode": 2, "$meta": "m"})]


@pytest.mark.anyio
async def test_schemas_jsonschema_cannot_use_skip_validation() -> None:
    backend, responses = GatedBackend(), Responses()
    async with running(make_catalog(backend), responses) as router:
        backend.gate.set()
        router.submit([FunctionCall("b", "broken", {"a": 1}), FunctionCall("w", "weird", {"x": 1})])
        results = await responses.take(2)
    assert results["b"].ok and results["w"].ok


@pytest.mark.anyio
async def test_backend_error_passes_through_and_exceptions_become_errors() -> None:
    backend, responses, observer = GatedBackend(), Responses(), Observer()
    async with running(make_catalog(backend), responses, observer) as router:
        backend.gate.set()
        router.submit([FunctionCall("f", "fail", {}), FunctionCall("x", "boom", {})])
        results = await responses.take(2)
    assert results["f"].response == {"status": "error", "error": "the tool said no", "retryable": False}
    assert results["x"].response == {"status": "error", "error": "ValueError: boom", "retryable": False}
    assert observer.outcome("f") == "error" and observer.outcome("x") == "error"


@pytest.mark.anyio
async def test_timeout_answers_with_an_error_and_cancels_the_backend() -> None:
    backend, responses, observer = GatedBackend(), Responses(), Observer()
    async with running(make_catalog(backend, timeout=0.05), responses, observer) as router:
        router.submit([FunctionCall("t", "slow", {"n": 7})])  # the gate never opens
        result = (await responses.take(1))["t"]
    assert result.response == {"status": "timeout", "error": "slow timed out after 0.05 s", "retryable": True}
    assert ("cancelled", 7) in backend.events
    assert observer.outcome("t") == "timeout"


@pytest.mark.anyio
async def test_cancellation_gets_no_response_and_the_backend_sees_it() -> None:
    backend, responses, observer = GatedBackend(), Responses(), Observer()
    async with running(make_catalog(backend), responses, observer) as router:
        router.submit(calls("slow", 3))
        await backend.wait_for("start", 3)
        router.cancel(["c1", "not-a-call"])
        await backend.wait_for("cancelled", 1)
        backend.gate.set()
        await responses.take(2)
        with anyio.fail_after(WAIT):
            await router.idle()
        router.cancel(["c0"])  # already answered: nothing happens
    assert sorted(r.id for r in responses.all) == ["c0", "c2"]
    assert ("cancelled", 1) in backend.events and ("end", 1) not in backend.events
    assert observer.outcome("c1") == "cancelled"
    report = next(r for r in observer.finished if r.call.id == "c1")
    assert report.response is None and report.entry is not None and report.entry.name == "slow"


@pytest.mark.anyio
async def test_a_slow_respond_does_not_stall_other_calls() -> None:
    backend, responses = GatedBackend(), Responses()
    responses.hold = anyio.Event()
    async with running(make_catalog(backend), responses) as router:
        router.submit([FunctionCall("a", "fast", {"n": 0})])
        with anyio.fail_after(WAIT):
            await responses.entered.wait()  # the send of "a" is now stuck
        router.submit(calls("fast", 3, first=1))
        await backend.wait_for("end", 4)  # the other calls ran to completion meanwhile
        assert router.busy and responses.batches == []
        responses.hold.set()
        results = await responses.take(4)
        with anyio.fail_after(WAIT):
            await router.idle()
    assert sorted(results) == ["a", "c1", "c2", "c3"]
    assert [len(b) for b in responses.batches] == [1, 3]  # what finished meanwhile went out together


@pytest.mark.anyio
async def test_a_failing_respond_does_not_end_the_router() -> None:
    backend = GatedBackend()
    sent: list[str] = []

    async def respond(batch: list[FunctionResult]) -> None:
        if batch[0].id == "first":
            raise ConnectionError("socket closed")
        sent.extend(r.id for r in batch)

    router = Router(make_catalog(backend), respond=respond)
    async with anyio.create_task_group() as tg:
        await tg.start(router.run)
        router.submit([FunctionCall("first", "fast", {})])
        with anyio.fail_after(WAIT):
            await router.idle()
        router.submit([FunctionCall("second", "fast", {})])
        with anyio.fail_after(WAIT):
            await router.idle()
        tg.cancel_scope.cancel()
    assert sent == ["second"]


@pytest.mark.anyio
async def test_observer_sees_start_and_finish_and_its_errors_are_contained() -> None:
    backend, responses = GatedBackend(), Responses()

    class Broken(Observer):
        def call_started(self, call: FunctionCall, entry: Any) -> None:
            super().call_started(call, entry)
            raise RuntimeError("observer bug")

    observer = Broken()
    async with running(make_catalog(backend), responses, observer) as router:
        router.submit([FunctionCall("o", "fast", {"n": 1})])
        result = (await responses.take(1))["o"]
    assert result.ok and observer.started == ["o"]
    report = observer.finished[0]
    assert report.outcome == "ok" and report.duration >= 0 and report.response == result.response


@pytest.mark.anyio
async def test_stopping_the_router_cancels_calls_in_flight() -> None:
    backend, responses = GatedBackend(), Responses()
    async with running(make_catalog(backend), responses) as router:
        router.submit(calls("slow", 2))
        await backend.wait_for("start", 2)
    assert sorted(e for e in backend.events if e[0] == "cancelled") == [("cancelled", 0), ("cancelled", 1)]
    assert responses.all == []


def test_submit_before_run_is_an_error() -> None:
    router = Router(make_catalog(GatedBackend()), respond=Responses())
    assert not router.busy
    with pytest.raises(RuntimeError):
        router.submit(calls("fast", 1))
