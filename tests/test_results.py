"""Results the model can act on (issue 10, item 3): success stays {"output": ...}; every failure says
its status and whether trying again may help; an empty success says no_results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from agent.config import McpServerConfig
from agent.events import FunctionCall, FunctionResult
from agent.profiles import profile_for
from agent.tools.catalog import build_catalog
from agent.tools.mcp import McpServer
from agent.tools.results import completed, failure, no_results
from agent.tools.router import Router
from agent.tools.toolset import mcp_source
from tests.conftest import TEXT_ONLY, run_agent
from tests.fakes.live_server import FakeConnection
from tests.fakes.mcp_servers import build_server, in_memory, stdio_command

WAIT = 30


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_shapes() -> None:
    assert failure("timeout", "too slow") == {"status": "timeout", "error": "too slow", "retryable": True}
    assert failure("declined", "no", extra=None) == {"status": "declined", "error": "no", "retryable": False}
    assert completed({"error": "disk full"}) == {"status": "error", "error": "disk full", "retryable": False}
    assert completed({"error": "down", "status": "unavailable", "retryable": False, "server": "x"}) == {
        "status": "unavailable", "error": "down", "retryable": False, "server": "x"}
    assert completed({"output": 1}) == {"output": 1}
    assert no_results() == {"status": "no_results", "retryable": False}


async def answers_from(server: McpServer, *calls: FunctionCall) -> dict[str, dict[str, Any]]:
    got: list[FunctionResult] = []
    changed = anyio.Event()

    async def respond(batch: list[FunctionResult]) -> None:
        nonlocal changed
        got.extend(batch)
        changed.set()
        changed = anyio.Event()

    async with anyio.create_task_group() as tg:
        with anyio.fail_after(60):
            await tg.start(server.run)
        router = Router(build_catalog([mcp_source(server, profile_for("gemini-3.8-live")[0])]), respond=respond)
        await tg.start(router.run)
        router.submit(list(calls))
        with anyio.fail_after(WAIT):
            while len([r for r in got if r.final]) < len(calls):
                await changed.wait()
        tg.cancel_scope.cancel()
    return {r.id: r.response for r in got if r.final}


@pytest.mark.anyio
async def test_an_empty_answer_says_no_results_and_an_enum_miss_lists_the_options() -> None:
    server = McpServer(McpServerConfig(name="people", command="in-process"), transport=in_memory(build_server("people")))
    got = await answers_from(
        server,
        FunctionCall("n", "people__nothing", {}),
        FunctionCall("c", "people__pick_colour", {"colour": "purple"}),
        FunctionCall("ok", "people__pick_colour", {"colour": "blue"}),
    )
    assert got["n"] == {"status": "no_results", "retryable": False}
    assert got["c"]["status"] == "invalid_argument" and got["c"]["valid_options"] == ["red", "green", "blue"]
    assert got["c"]["retryable"] is True and "'purple' is not one of" in got["c"]["error"]
    assert got["ok"] == {"output": {"result": "blue"}}


@pytest.mark.anyio
async def test_a_server_that_is_not_running_answers_unavailable() -> None:
    server = McpServer(McpServerConfig(name="gone", command="/nonexistent/mcp-server"))
    async with anyio.create_task_group() as tg:
        with anyio.fail_after(60):
            await tg.start(server.run)
        assert server.state == "failed"
        answer = await server.call("anything", {})
        tg.cancel_scope.cancel()
    assert answer["status"] == "unavailable" and answer["retryable"] is False and "gone" in answer["error"]


# ---- the whole agent on the 3.8 fake: each failure answers with its status payload -------------


def test_on_38_a_failing_tool_bad_arguments_a_timeout_and_a_declined_call_each_say_so(live, clean_env: Path) -> None:
    command, args = stdio_command("basic")
    (clean_env / "gemini-live.toml").write_text(
        f'[mcp_servers.basic]\ncommand = {json.dumps(command)}\nargs = {json.dumps(args)}\ntimeout = 1\nconfirm = ["echo"]\n'
    )
    marker = clean_env / "marks.txt"
    got: list[dict[str, Any]] = []

    async def model(conn: FakeConnection) -> None:
        await conn.expect_text()
        await conn.send_tool_call(
            {"id": "fail", "name": "basic__fail", "args": {"message": "disk full"}},
            {"id": "args", "name": "basic__add", "args": {"a": "two"}},
            {"id": "slow", "name": "basic__sleep", "args": {"seconds": 30, "marker": str(marker)}},
            {"id": "no", "name": "basic__echo", "args": {"text": "hello"}},
        )
        while len(got) < 4:
            got.extend(await conn.expect_tool_response(timeout=WAIT))
        await conn.send_text("done")

    live(model)
    result = run_agent(*TEXT_ONLY, "--model", "gemini-3.8-live", input="go\nn\n")
    assert result.status == 0, result.stderr
    by_id = {r["id"]: r for r in got}
    assert {k: (r["response"]["status"], r["response"]["retryable"]) for k, r in by_id.items()} == {
        "fail": ("error", False), "args": ("invalid_argument", True), "slow": ("timeout", True), "no": ("declined", False)}
    assert by_id["fail"]["response"]["error"] == "disk full"
    assert {r["name"] for r in got} == {"basic__fail", "basic__add", "basic__sleep", "basic__echo"}
    assert all(r["scheduling"] == "WHEN_IDLE" for r in got)  # non-blocking calls: their final answers wait for a pause
