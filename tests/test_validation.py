"""Argument checks in bounded time (issue 13, item 18): a server's regex never freezes the event loop."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from agent.events import FunctionCall
from agent.tools.base import DiscoveredTool
from agent.tools.catalog import ToolSource, build_catalog
from agent.tools.validation import ArgumentValidator, needs_thread
from tests.test_router import WAIT, GatedBackend, Responses, running

EVIL = "(a+)+$"  # Python's engine backtracks 2^n times on n a's and a mismatch at the end
EVIL_LOOKAROUND = "^(?!b)(a+)+$"  # the same, with a lookahead RE2 refuses: only Python's engine runs it


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def pattern_schema(pattern: str) -> dict[str, Any]:
    return {"type": "object", "properties": {"s": {"type": "string", "pattern": pattern}}}


@pytest.mark.anyio
@pytest.mark.timeout(60)  # a backtracking engine never finishes: this is how the test fails then
async def test_a_backtracking_pattern_is_checked_in_linear_time() -> None:
    # Python's engine froze the event loop for 3.8 s at 25 characters, doubling with each one more.
    backend, responses = GatedBackend(), Responses()
    catalog = build_catalog([ToolSource("t", [DiscoveredTool("t", "fast", input_schema=pattern_schema(EVIL))], backend, prefix="")])
    async with running(catalog, responses) as router:
        router.submit([FunctionCall("evil", "fast", {"s": "a" * 100 + "!"}), FunctionCall("fine", "fast", {"s": "aaaa"})])
        results = await responses.take(2)
    assert results["evil"].response["error"].startswith("invalid arguments: /s: ") and "does not match" in results["evil"].response["error"]
    assert results["fine"].ok and backend.calls == [("fast", {"s": "aaaa"})]


@pytest.mark.anyio
async def test_a_pattern_only_python_can_run_is_checked_off_the_loop_and_bounded() -> None:
    validator = ArgumentValidator(timeout=0.5)
    schema = pattern_schema(EVIL_LOOKAROUND)
    assert needs_thread(schema) and not needs_thread(pattern_schema(EVIL))
    ticks = 0

    async def heartbeat() -> None:  # runs only if the loop is free while the check goes on
        nonlocal ticks
        while True:
            await anyio.sleep(0.01)
            ticks += 1

    async with anyio.create_task_group() as tg:
        tg.start_soon(heartbeat)
        with anyio.fail_after(WAIT):
            assert await validator.check(schema, {"s": "aaaa"}) == []
            slow = await validator.check(schema, {"s": "a" * 25 + "!"})  # seconds of backtracking
        tg.cancel_scope.cancel()
    assert len(slow) == 1 and "could not be checked" in slow[0] and "not called" in slow[0]
    assert ticks > 0


@pytest.mark.anyio
async def test_patterns_and_pattern_properties_still_validate() -> None:
    validator = ArgumentValidator()
    schema = {"type": "object", "properties": {"code": {"type": "string", "pattern": r"^\p{Lu}{3}$"}},
              "patternProperties": {"^x-": {"type": "integer"}}, "additionalProperties": False}
    with anyio.fail_after(WAIT):
        assert await validator.check(schema, {"code": "ÉTÉ", "x-a": 1}) == []
        problems = await validator.check(schema, {"code": "abc", "x-a": "1", "y": 2})
    assert any(p.startswith("/code: 'abc' does not match") for p in problems)
    assert any(p.startswith("/x-a: '1' is not of type 'integer'") for p in problems)
    assert any("'y' does not match any of the regexes" in p for p in problems)  # additionalProperties
