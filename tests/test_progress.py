"""Long calls report progress (issue 10, item 2): every tools/call carries a progress token of ours,
the stdio reader lets that progress through (and only that), and a non-blocking call's progress
becomes SILENT partial answers, at most one per interval, before its final answer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from agent.config import McpServerConfig
from agent.events import FunctionCall, FunctionResult
from agent.profiles import profile_for
from agent.tools.catalog import build_catalog
from agent.tools.mcp import McpServer
from agent.tools.mcp_lines import ServerNotifications
from agent.tools.progress import PARTIAL_INTERVAL, PROGRESS_PREFIX, CallProgress, Progress, next_token
from agent.tools.router import Router
from agent.tools.toolset import mcp_source
from tests.conftest import TEXT_ONLY, run_agent
from tests.fakes.live_server import FakeConnection
from tests.fakes.mcp_servers import build_server, in_memory, stdio_command

WAIT = 30  # seconds: a bound on waits, never an expectation of speed


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_the_payload_and_the_line() -> None:
    assert Progress(3, 10, "copying").response() == {"status": "in_progress", "progress": 3, "total": 10, "message": "copying"}
    assert Progress(0.5).response() == {"status": "in_progress", "progress": 0.5}
    assert Progress(3, 10, "copying").text() == "3/10 (30%) copying"


@pytest.mark.anyio
async def test_the_latest_report_wins_and_none_comes_twice_within_the_interval() -> None:
    emitted: list[Progress] = []
    started = anyio.Event()
    progress = CallProgress(interval=0.2, on_first=started.set)
    progress.report(Progress(1))
    assert started.is_set()  # the first report starts whoever hands them on
    async with anyio.create_task_group() as tg:
        tg.start_soon(progress.pump, emitted.append)
        with anyio.fail_after(WAIT):
            while not emitted:
                await anyio.sleep(0.01)
        progress.report(Progress(2))
        progress.report(Progress(3))  # replaces 2 before the interval is over
        with anyio.fail_after(WAIT):
            while len(emitted) < 2:
                await anyio.sleep(0.01)
        tg.cancel_scope.cancel()
    assert [p.progress for p in emitted] == [1, 3]


def test_the_stdio_reader_passes_our_progress_and_drops_the_rest() -> None:
    async def check() -> None:
        gate = ServerNotifications("x")
        ours = next_token()

        def progress(token: Any, n: int) -> dict[str, Any]:
            return {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": token, "progress": n}}

        assert gate.consume(progress(ours, 1)) is False  # handed on to the session
        assert gate.consume(progress(ours, 2)) is True  # the same instant: too soon, dropped
        assert gate.consume(progress(7, 1)) is True  # not a token of ours
        assert gate.consume(progress("someone-else", 1)) is True
        assert gate.consume(progress(PROGRESS_PREFIX + "999999", 1)) is False  # any one of ours, once

    anyio.run(check)


# ---- a real MCP server (in-process and over stdio) and the router ---------------------------


class Answers:
    def __init__(self) -> None:
        self.all: list[FunctionResult] = []
        self.changed = anyio.Event()

    async def __call__(self, batch: list[FunctionResult]) -> None:
        self.all.extend(batch)
        self.changed.set()
        self.changed = anyio.Event()

    async def final(self, call_id: str) -> FunctionResult:
        with anyio.fail_after(WAIT):
            while not any(r.id == call_id and r.final for r in self.all):
                await self.changed.wait()
        return next(r for r in self.all if r.id == call_id and r.final)


@asynccontextmanager
async def routed(server: McpServer, model: str, **router: Any) -> AsyncIterator[tuple[Router, Answers]]:
    answers = Answers()
    async with anyio.create_task_group() as tg:
        with anyio.fail_after(60):
            await tg.start(server.run)
        catalog = build_catalog([mcp_source(server, profile_for(model)[0])])
        r = Router(catalog, respond=answers, **router)
        await tg.start(r.run)
        yield r, answers
        tg.cancel_scope.cancel()


def people(transport: str) -> McpServer:
    if transport == "stdio":
        command, args = stdio_command("people")
        return McpServer(McpServerConfig(name="people", command=command, args=args))
    return McpServer(McpServerConfig(name="people", command="in-process"), transport=in_memory(build_server("people")))


@pytest.mark.anyio
@pytest.mark.parametrize("transport", ["memory", "stdio"])
async def test_a_non_blocking_call_reports_progress_silently_then_answers(transport: str) -> None:
    async with routed(people(transport), "gemini-3.8-live") as (router, answers):
        router.submit([FunctionCall("c", "people__count", {"steps": 4, "every": 0.1})])
        final = await answers.final("c")
    partial = [r for r in answers.all if not r.final]
    assert partial, "no progress reached the router"
    assert all(r.will_continue and r.scheduling == "SILENT" and r.name == "people__count" for r in partial)
    assert all(r.response["status"] == "in_progress" and r.response["total"] == 4 for r in partial)
    assert answers.all[-1] is final and final.scheduling == "WHEN_IDLE" and not final.will_continue
    assert final.response == {"output": {"result": "counted to 4"}}


@pytest.mark.anyio
async def test_a_blocking_call_shows_progress_but_sends_only_its_answer() -> None:
    shown: list[Progress] = []

    class Watch:
        def call_progress(self, call: FunctionCall, entry: Any, progress: Progress) -> None:
            shown.append(progress)

    async with routed(people("memory"), "gemini-3.1-flash-live-preview", observer=Watch()) as (router, answers):
        router.submit([FunctionCall("c", "people__count", {"steps": 3, "every": 0.1})])
        await answers.final("c")
    assert shown and all(p.total == 3 for p in shown)
    assert [r.final for r in answers.all] == [True] and answers.all[0].scheduling is None


@pytest.mark.anyio
async def test_a_progress_flood_from_our_own_call_is_absorbed_over_stdio() -> None:
    async with routed(people("stdio"), "gemini-3.8-live") as (router, answers):
        started = anyio.current_time()
        router.submit([FunctionCall("f", "people__progress_flood", {"count": 3000})])
        final = await answers.final("f")
        took = anyio.current_time() - started
    assert final.response == {"output": {"result": "flooded"}}
    partials = len(answers.all) - 1
    assert 1 <= partials <= 1 + took / PARTIAL_INTERVAL  # one now, then one per interval at most: never one per notification


# ---- the whole agent on the 3.8 fake ----------------------------------------------------------


def test_on_38_a_three_second_tool_sends_silent_partials_then_a_when_idle_final(live, clean_env: Path) -> None:
    command, args = stdio_command("people")
    (clean_env / "gemini-live.toml").write_text(f"[mcp_servers.people]\ncommand = {json.dumps(command)}\nargs = {json.dumps(args)}\n")
    got: list[dict[str, Any]] = []

    async def model(conn: FakeConnection) -> None:
        await conn.expect_text()
        await conn.send_tool_call({"id": "n", "name": "people__count", "args": {"steps": 6, "every": 0.5}})
        await conn.send_text("Counting in the background.")
        while not got or got[-1].get("will_continue"):
            got.extend(await conn.expect_tool_response(timeout=WAIT))
        await asyncio.sleep(0.2)
        await conn.send_text("done")

    live(model)
    log = clean_env / "session.jsonl"
    result = run_agent(*TEXT_ONLY, "--model", "gemini-3.8-live", "--log-file", str(log), input="count\n")
    assert result.status == 0, result.stderr
    *partials, final = got
    assert len(partials) >= 1
    for p in partials:
        assert p["name"] == "people__count" and p["will_continue"] is True and p["scheduling"] == "SILENT"
        assert p["response"]["status"] == "in_progress" and p["response"]["total"] == 6
    assert final["name"] == "people__count" and final["scheduling"] == "WHEN_IDLE" and not final.get("will_continue")
    assert "counted to 6" in json.dumps(final["response"])
    records = [json.loads(line) for line in log.read_text().splitlines()]
    shown = [r for r in records if r["event"] == "tool_progress"]
    assert shown and shown[0]["name"] == "people__count" and shown[0]["total"] == 6
    assert "… people__count " in result.stderr and "/6 (" in result.stderr
