"""McpServer / McpHub against real MCP servers: our fakes in-process and over stdio, and published ones."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession
from mcp.client._memory import InMemoryTransport
from pydantic import ValidationError

from agent.config import McpServerConfig
from agent.tools.images import take_images
from agent.tools.mcp import McpHub, McpServer, McpStartupError
from agent.tools.mcp_results import MAX_TEXT_CHARS, format_call_result
from tests.fakes.mcp_servers import (
    BIG_CHARS,
    PAGINATED_TOOLS,
    build_server,
    in_memory,
    raw_stdio_command,
    stdio_command,
)

ROOT = Path(__file__).resolve().parent.parent
BASIC_TOOLS = {"echo", "add", "sleep", "fail", "raise", "protocol_error", "crash", "image", "audio",
               "resource", "resource_link", "big", "structured", "mixed", "header"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def stdio_cfg(name: str, flavour: str = "basic", *extra: str, **kw: Any) -> McpServerConfig:
    command, args = stdio_command(flavour, *extra)
    return McpServerConfig(name=name, command=command, args=args, **kw)


def raw_cfg(name: str, *extra: str, **kw: Any) -> McpServerConfig:
    command, args = raw_stdio_command(*extra)
    return McpServerConfig(name=name, command=command, args=args, **kw)


def memory_server(flavour: str, name: str | None = None) -> McpServer:
    cfg = McpServerConfig(name=name or flavour, command="in-process")  # command unused with a transport
    return McpServer(cfg, transport=in_memory(build_server(flavour)))


@asynccontextmanager
async def running(component: McpServer | McpHub) -> AsyncIterator[Any]:
    async with anyio.create_task_group() as tg:
        with anyio.fail_after(60):
            await tg.start(component.run)
        yield component
        tg.cancel_scope.cancel()


def alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie (a zombie is dead, just not reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


async def wait_for_file(path: Path, text: str) -> None:
    with anyio.fail_after(20):
        while not (path.exists() and text in path.read_text()):
            await anyio.sleep(0.02)


def assert_no_base64(result: Any) -> None:
    dumped = json.dumps(result)
    assert "iVBOR" not in dumped and "AAAA" not in dumped


# ---- result formatting (pure) -----------------------------------------------------------------


def test_result_formatting_edge_cases() -> None:
    assert format_call_result({"content": []}) == {"status": "no_results", "retryable": False}
    assert format_call_result({"content": [{"type": "text", "text": ""}]}) == {"status": "no_results", "retryable": False}
    assert "malformed" in format_call_result(["not", "a", "dict"])["error"]
    assert format_call_result({"content": [], "isError": True}) == {
        "error": "the tool reported an error without a message"
    }
    image_error = format_call_result({"isError": True, "content": [{"type": "image", "mimeType": "image/png", "data": "AAAA"}]})
    assert "image/png" in image_error["error"] and "AAAA" not in image_error["error"]
    many = format_call_result({"content": [{"type": "resource_link", "uri": f"file:///{i}", "name": str(i)} for i in range(80)]})
    assert len(many["output"]["content"]) == 51 and "30 more" in many["output"]["content"][-1]["text"]
    texts = [{"type": "resource", "resource": {"uri": f"file:///{i}", "text": "y" * 20_000}} for i in range(5)]
    shared = json.dumps(format_call_result({"content": [{"type": "text", "text": "x" * 20_000}, *texts]}))
    assert len(shared) < MAX_TEXT_CHARS + 5_000
    unknown = format_call_result({"content": [{"type": "hologram", "depth": 3}]})
    assert unknown == {"output": {"content": [{"type": "hologram", "keys": ["depth", "type"]}]}}


# ---- discovery and calls ---------------------------------------------------------------------


async def check_basic_calls(server: McpServer) -> None:
    assert {t.name for t in server.tools} == BASIC_TOOLS
    echo = next(t for t in server.tools if t.name == "echo")
    assert echo.source == server.name
    assert echo.description == "Return the text unchanged."
    assert echo.input_schema["properties"]["text"]["type"] == "string"

    assert await server.call("echo", {"text": "hi"}) == {"output": {"result": "hi"}}
    assert await server.call("add", {"a": 2, "b": 3}) == {"output": {"result": 5}}
    assert await server.call("fail", {"message": "nope"}) == {"error": "nope"}
    raised = await server.call("raise", {"message": "boom"})
    assert "error" in raised and "raise" in raised["error"]
    protocol = await server.call("protocol_error", {})
    assert protocol["error"].endswith("-32603: internal failure on purpose")
    unknown = await server.call("no_such_tool", {})
    assert "error" in unknown and "no_such_tool" in unknown["error"]

    image, pictures = take_images(await server.call("image", {}))
    assert image == {"output": {"content": [{"type": "image", "mimeType": "image/png", "bytes": 70}]}}
    assert [p.mime_type for p in pictures] == ["image/png"]  # the picture itself goes to the model beside the JSON
    audio = await server.call("audio", {})
    assert audio == {"output": {"content": [{"type": "audio", "mimeType": "audio/wav", "bytes": 1000}]}}
    resource = await server.call("resource", {})
    assert resource["output"]["content"] == [
        {"type": "resource", "uri": "file:///notes.txt", "mimeType": "text/plain", "text": "a note"},
        {"type": "resource", "uri": "file:///data.bin", "mimeType": "application/octet-stream", "bytes": 300},
    ]
    link = await server.call("resource_link", {})
    assert link["output"]["content"][0]["uri"] == "file:///big.log"
    mixed, _ = take_images(await server.call("mixed", {}))
    assert mixed["output"]["structuredContent"] == {"count": 1}
    assert mixed["output"]["text"] == "see the picture"
    for result in (image, audio, resource, mixed):
        assert_no_base64(result)

    structured = await server.call("structured", {"city": "Oslo"})
    assert structured == {"output": {"city": "Oslo", "celsius": 21.5, "tags": ["sunny", "mild"]}}

    big = await server.call("big", {})
    text = json.dumps(big)
    assert len(text) < MAX_TEXT_CHARS + 1_000
    assert "truncated" in text and f"{BIG_CHARS:,}" in text


@pytest.mark.anyio
async def test_in_process_discovery_and_calls() -> None:
    async with running(memory_server("basic")) as server:
        assert server.state == "ready"
        assert server.server_info.name == "basic"
        await check_basic_calls(server)


@pytest.mark.anyio
async def test_stdio_discovery_and_calls() -> None:
    async with running(McpServer(stdio_cfg("basic"))) as server:
        assert server.state == "ready"
        assert server.protocol_version is not None
        assert len(server.processes) == 1 and alive(server.processes[0].pid)
        await check_basic_calls(server)
    assert server.state == "stopped"
    assert not alive(server.processes[0].pid)


@pytest.mark.anyio
@pytest.mark.parametrize("where", ["memory", "stdio"])
async def test_pagination_follows_next_cursor(where: str) -> None:
    server = memory_server("paginated") if where == "memory" else McpServer(stdio_cfg("paginated", "paginated"))
    async with running(server):
        names = [t.name for t in server.tools]
        assert names == [f"tool_{i:02d}" for i in range(PAGINATED_TOOLS)]
        assert await server.call("tool_24", {}) == {"output": "called tool_24"}


@pytest.mark.anyio
async def test_mcp_itself_rejects_the_no_type_listing() -> None:
    """Why mcp.py reads tools/list raw: mcp 2.3's list_tools() fails on the whole result."""
    async with InMemoryTransport(build_server("notype")) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        with pytest.raises(ValidationError):
            await session.list_tools()


@pytest.mark.anyio
@pytest.mark.parametrize("where", ["memory", "stdio", "raw-stdio"])
async def test_server_without_schema_type_still_contributes_tools(where: str) -> None:
    if where == "memory":
        server = memory_server("notype")
    elif where == "stdio":
        server = McpServer(stdio_cfg("notype", "notype"))
    else:
        server = McpServer(raw_cfg("notype", "--notype"))
    async with running(server):
        assert server.state == "ready"
        assert len(server.tools) == 2
        for tool in server.tools:
            assert tool.input_schema == {"$schema": "http://json-schema.org/draft-07/schema#"}
        if where == "raw-stdio":
            assert await server.call("echo", {"text": "hey"}) == {"output": "hey"}
            assert server.tools[0].annotations == {"readOnlyHint": True}
        else:
            assert await server.call("greet", {"name": "Ada"}) == {"output": {"result": "hello Ada"}}


@pytest.mark.anyio
async def test_weird_schemas_are_passed_on_as_sent() -> None:
    async with running(memory_server("weird")) as server:
        draw = next(t for t in server.tools if t.name == "draw")
        assert "$defs" in draw.input_schema
        assert draw.input_schema["properties"]["shape"] == {"$ref": "#/$defs/Shape"}
        assert draw.input_schema["$defs"]["Shape"]["additionalProperties"] is False
        nothing = next(t for t in server.tools if t.name == "nothing")
        assert nothing.input_schema.get("properties", {}) == {}
        result = await server.call("draw", {"shape": {"kind": "circle", "centre": {"x": 1, "y": 2}}})
        assert result == {"output": {"result": "circle at 1.0,2.0 level 1"}}


@pytest.mark.anyio
@pytest.mark.parametrize("version", ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"])
async def test_every_handshake_protocol_version_is_accepted(version: str) -> None:
    async with running(McpServer(raw_cfg("old", "--protocol", version))) as server:
        assert server.state == "ready" and server.protocol_version == version
        assert await server.call("echo", {"text": version}) == {"output": version}


@pytest.mark.anyio
async def test_an_unknown_protocol_version_fails_start_up_clearly() -> None:
    async with running(McpServer(raw_cfg("future", "--protocol", "2099-01-01"))) as server:
        assert server.state == "failed"
        assert "2099-01-01" in server.error


@pytest.mark.anyio
async def test_non_protocol_lines_on_stdout_are_skipped() -> None:
    async with running(McpServer(raw_cfg("chatty", "--banner"))) as server:
        assert server.state == "ready", server.error
        assert await server.call("echo", {"text": "fine"}) == {"output": "fine"}


@pytest.fixture
def http_server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """Our basic server over HTTP (streamable-http or sse) in a subprocess; yields its URL."""
    transport = request.param
    port_file = tmp_path / "port"
    command, args = stdio_command("basic", "--http", transport, "--port-file", str(port_file))
    process = subprocess.Popen([command, *args], stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists():
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            assert time.monotonic() < deadline, "HTTP server did not start"
            time.sleep(0.02)
        path = "/mcp" if transport == "streamable-http" else "/sse"
        yield f"http://127.0.0.1:{port_file.read_text()}{path}"
    finally:
        process.kill()
        process.wait()
        if process.stderr:
            process.stderr.close()


@pytest.mark.anyio
@pytest.mark.parametrize("http_server", ["streamable-http", "sse"], indirect=True)
async def test_http_transports_send_the_configured_headers(http_server: str) -> None:
    transport = "sse" if http_server.endswith("/sse") else "streamable-http"
    cfg = McpServerConfig(name="remote", url=http_server, transport=transport, headers={"X-Test-Token": "secret"})
    async with running(McpServer(cfg)) as server:
        assert server.state == "ready", server.error
        assert {t.name for t in server.tools} == BASIC_TOOLS
        assert await server.call("header", {"name": "x-test-token"}) == {"output": {"result": "secret"}}
        assert await server.call("add", {"a": 20, "b": 22}) == {"output": {"result": 42}}
        assert await server.call("fail", {}) == {"error": "it went wrong"}


@pytest.mark.anyio
async def test_unreachable_url_is_a_start_failure_naming_it() -> None:
    server = McpServer(McpServerConfig(name="gone", url="http://127.0.0.1:9/mcp", startup_timeout=20))
    async with running(server):
        assert server.state == "failed"
        assert "cannot reach http://127.0.0.1:9/mcp" in server.error


# ---- failures, crashes, restarts -------------------------------------------------------------


@pytest.mark.anyio
async def test_crash_mid_call_answers_at_once_then_restarts_on_next_use(tmp_path: Path) -> None:
    marker = tmp_path / "crash"
    async with running(McpServer(stdio_cfg("crashy"), backoff=0.05)) as server:
        first_pid = server.processes[0].pid
        with anyio.fail_after(10):  # well under any tool timeout: the error comes from the EOF
            result = await server.call("crash", {"delay": 0.2, "marker": str(marker)})
        assert "stopped while running 'crash'" in result["error"]
        assert "exited with code 3" in result["error"]
        assert marker.read_text() == "started\n"
        with anyio.fail_after(30):
            assert await server.call("echo", {"text": "again"}) == {"output": {"result": "again"}}
        assert len(server.processes) == 2
        assert not alive(first_pid)
        assert server.processes[0].returncode == 3


@pytest.mark.anyio
async def test_a_server_killed_while_idle_is_restarted_on_next_use() -> None:
    async with running(McpServer(raw_cfg("idle"), backoff=0.05)) as server:
        os.kill(server.processes[0].pid, signal.SIGKILL)
        with anyio.fail_after(10):
            while server.state != "crashed":  # noticed without any call in flight
                await anyio.sleep(0.02)
        assert server.processes[0].returncode == -signal.SIGKILL
        with anyio.fail_after(30):
            assert await server.call("echo", {"text": "back"}) == {"output": "back"}
        assert len(server.processes) == 2


@pytest.mark.anyio
async def test_in_flight_calls_all_fail_when_the_server_dies(tmp_path: Path) -> None:
    results: list[dict[str, Any]] = []
    async with running(McpServer(stdio_cfg("crashy"), backoff=0.05)) as server:

        async def call(tool: str, args: dict[str, Any]) -> None:
            results.append(await server.call(tool, args))

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                for i in range(3):
                    tg.start_soon(call, "sleep", {"seconds": 60, "marker": str(tmp_path / f"s{i}")})
                for i in range(3):
                    await wait_for_file(tmp_path / f"s{i}", "started")
                tg.start_soon(call, "crash", {})
    assert len(results) == 4 and all("stopped while running" in r["error"] for r in results)


async def wait_state(server: McpServer, *states: str) -> None:
    with anyio.fail_after(60):  # bounded: the cool-downs here are 0.5 s
        while server.state not in states:
            await anyio.sleep(0.02)


@pytest.mark.anyio
async def test_a_server_that_crashes_on_every_call_is_paused_then_tried_again() -> None:
    async with running(McpServer(stdio_cfg("fragile"), backoff=0.01, max_restarts=2, cool_down=0.5)) as server:
        with anyio.fail_after(60):
            for _ in range(3):  # the first start and two restarts, each ended by the call
                assert "stopped while running" in (await server.call("crash", {}))["error"]
            result = await server.call("echo", {"text": "x"})
        assert server.state == "paused"
        assert result["status"] == "unavailable" and result["retryable"] is True
        assert "paused" in result["error"] and "2 times in a row" in result["error"]
        assert "tried again on the first call in 1 s or later" in result["error"]
        assert len(server.processes) == 3
        with anyio.fail_after(5):  # answered at once, without a new process
            assert (await server.call("echo", {"text": "x"}))["status"] == "unavailable"
        assert len(server.processes) == 3
        await wait_state(server, "crashed")  # rested: tried again on its next use
        with anyio.fail_after(30):
            assert await server.call("echo", {"text": "back"}) == {"output": {"result": "back"}}
        assert len(server.processes) == 4


@pytest.mark.anyio
async def test_a_server_that_keeps_failing_to_restart_rests_longer_each_time(tmp_path: Path) -> None:
    flag = tmp_path / "refuse"
    cfg = stdio_cfg("fragile", "basic", "--exit-if-exists", str(flag), startup_timeout=20)
    async with running(McpServer(cfg, backoff=0.01, max_restarts=2, cool_down=0.5)) as server:
        flag.touch()  # from now on every restart dies at once
        with anyio.fail_after(60):
            assert "stopped while running" in (await server.call("crash", {}))["error"]
            result = await server.call("echo", {"text": "x"})
        assert server.state == "paused" and server.cool_down.bursts == 1
        assert "refusing to start on purpose" in result["error"]  # the stderr tail says why
        await wait_state(server, "crashed")
        with anyio.fail_after(60):
            assert (await server.call("echo", {"text": "x"}))["status"] == "unavailable"  # still refusing
        assert server.state == "paused" and server.cool_down.bursts == 2  # resting 1 s now
        assert len(server.processes) == 5
        flag.unlink()  # fixed
        await wait_state(server, "crashed")
        with anyio.fail_after(30):
            assert await server.call("echo", {"text": "ok"}) == {"output": {"result": "ok"}}
        assert server.cool_down.bursts == 0  # a call that works starts the sequence again


@pytest.mark.anyio
async def test_cool_downs_double_up_to_a_cap() -> None:
    from agent.tools.cool_down import CoolDown, in_words

    rests = CoolDown(0.01, cap=0.04)
    seen = []
    for _ in range(4):
        seen.append(rests.next_seconds())
        await rests.rest()
    assert seen == [0.01, 0.02, 0.04, 0.04] and not rests.resting
    rests.succeeded()
    assert rests.next_seconds() == 0.01
    assert [in_words(s) for s in (0.2, 30, 119.5, 120, 300, 301)] == [
        "in 1 s", "in 30 s", "in 2 min", "in 2 min", "in 5 min", "in 5 min 1 s"]


@pytest.mark.anyio
async def test_failing_servers_are_left_out_with_a_reason() -> None:
    hub = McpHub([
        stdio_cfg("good"),
        McpServerConfig(name="missing", command="/nonexistent/mcp-server"),
        stdio_cfg("dies", "basic", "--exit-at-start", "4", "--stderr-lines", "3"),
        McpServerConfig(name="off", command="/nonexistent", enabled=False),
    ])
    async with running(hub):
        assert [s.name for s in hub.servers] == ["good", "missing", "dies"]
        assert [s.name for s in hub.ready] == ["good"]
        failures = hub.failures
        assert set(failures) == {"missing", "dies"}
        assert "/nonexistent/mcp-server" in failures["missing"] and "not found" in failures["missing"]
        assert "exited with code 4" in failures["dies"]
        assert "fake server stderr line 2" in failures["dies"]
        assert "refusing to start on purpose" in failures["dies"]
        assert await hub.server("good").call("add", {"a": 1, "b": 1}) == {"output": {"result": 2}}
        assert "unavailable" in (await hub.server("dies").call("echo", {"text": "x"}))["error"]


@pytest.mark.anyio
async def test_required_server_failure_stops_start_up_naming_it() -> None:
    hub = McpHub([stdio_cfg("good"), stdio_cfg("vital", "basic", "--exit-at-start", "2", required=True)])
    with anyio.fail_after(60), pytest.raises(McpStartupError) as caught:
        await hub.run()
    assert "vital" in str(caught.value) and "exited with code 2" in str(caught.value)
    assert list(caught.value.failures) == ["vital"]
    assert not any(alive(p.pid) for s in hub.servers for p in s.processes)


@pytest.mark.anyio
async def test_start_up_timeout_kills_the_server() -> None:
    server = McpServer(raw_cfg("slow", "--start-delay", "60", startup_timeout=0.5))
    with anyio.fail_after(20):
        async with running(server):
            assert server.state == "failed"
            assert "did not start within 0.5 s" in server.error
    assert not alive(server.processes[0].pid)


@pytest.mark.anyio
async def test_servers_start_concurrently(tmp_path: Path) -> None:
    """Each server waits at start-up until all of them have started: only concurrent start-up passes."""
    count = 6
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    hub = McpHub([raw_cfg(f"s{i}", "--barrier", str(barrier), "--count", str(count), startup_timeout=30)
                  for i in range(count)])
    async with running(hub):
        assert hub.failures == {}
        assert all(len(s.tools) == 2 for s in hub.servers)


# ---- cancellation and shutdown ---------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("where", ["memory", "stdio"])
async def test_cancelling_a_call_cancels_it_on_the_server(where: str, tmp_path: Path) -> None:
    server = memory_server("basic") if where == "memory" else McpServer(stdio_cfg("basic"))
    marker = tmp_path / "sleep"
    async with running(server):
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.call, "sleep", {"seconds": 60, "marker": str(marker)})
            await wait_for_file(marker, "started")
            tg.cancel_scope.cancel()  # what the router does on toolCallCancellation or timeout
        await wait_for_file(marker, "cancelled")
        assert await server.call("echo", {"text": "still there"}) == {"output": {"result": "still there"}}


@pytest.mark.anyio
async def test_shutdown_ends_every_process_even_one_ignoring_sigterm(tmp_path: Path) -> None:
    child_pidfile = tmp_path / "child.pid"
    hub = McpHub([
        stdio_cfg("polite"),
        stdio_cfg("parent", "basic", "--spawn-child", str(child_pidfile)),
        stdio_cfg("stubborn", "basic", "--ignore-sigterm", "--linger"),
        raw_cfg("raw"),
    ])
    async with running(hub):
        assert hub.failures == {}
        grandchild = int(child_pidfile.read_text())
        pids = [p.pid for s in hub.servers for p in s.processes] + [grandchild]
        assert all(alive(pid) for pid in pids)
        started = anyio.current_time()
    took = anyio.current_time() - started
    assert not [pid for pid in pids if alive(pid)]
    codes = {s.name: s.processes[0].returncode for s in hub.servers}
    assert codes["stubborn"] == -signal.SIGKILL
    assert codes["polite"] == 0 and codes["raw"] == 0  # exited on their own when stdin closed
    assert took < 10  # ~1.5 s by design; generous for a loaded machine
    assert all(s.state == "stopped" for s in hub.servers)


@pytest.mark.anyio
async def test_calls_after_shutdown_get_an_error() -> None:
    server = memory_server("basic")
    async with running(server):
        pass
    assert server.state == "stopped"
    assert "not running" in (await server.call("echo", {"text": "x"}))["error"]


@pytest.mark.anyio
async def test_stdio_env_is_the_parent_environment_plus_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARENT_VAR", "parent")
    monkeypatch.setenv("GEMINI_API_KEY", "do-not-leak")
    monkeypatch.setenv("GOOGLE_API_KEY", "passed-on-purpose")
    script = tmp_path / "env_server.py"
    script.write_text(
        "import os, runpy, sys\n"
        "assert os.environ.get('PATH') and os.environ['PARENT_VAR'] == 'parent', 'parent env missing'\n"
        "assert os.environ['EXTRA_VAR'] == 'extra', 'config env missing'\n"
        "assert 'GEMINI_API_KEY' not in os.environ, 'credential leaked'\n"
        "assert os.environ['GOOGLE_API_KEY'] == 'passed-on-purpose', 'explicit env dropped'\n"
        "assert os.getcwd() == sys.argv[1], 'cwd not applied'\n"
        f"sys.argv = [{str(raw_stdio_command()[1][-1])!r}]\n"
        "runpy.run_path(sys.argv[0], run_name='__main__')\n"
    )
    cfg = McpServerConfig(
        name="env", command=sys.executable, args=[str(script), str(tmp_path)], cwd=str(tmp_path),
        env={"EXTRA_VAR": "extra", "GOOGLE_API_KEY": "passed-on-purpose"},
    )
    async with running(McpServer(cfg)) as server:
        assert server.state == "ready", server.error


# ---- published servers -----------------------------------------------------------------------


def published_dir() -> Path:
    configured = Path(os.environ.get("GEMINI_LIVE_TEST_SERVERS", ".tmp/test-servers"))
    directory = configured if configured.is_absolute() else ROOT / configured
    marker_files = [
        directory / "time-venv" / "bin" / "python",
        directory / "node_modules/@modelcontextprotocol/server-everything/dist/index.js",
        directory / "node_modules/@modelcontextprotocol/server-filesystem/dist/index.js",
    ]
    missing = [str(p) for p in marker_files if not p.exists()]
    if missing:
        message = f"published MCP servers not installed (run .ci/install-test-servers): missing {missing}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return directory


@pytest.mark.published
@pytest.mark.anyio
async def test_published_mcp_server_time() -> None:
    venv_python = published_dir() / "time-venv" / "bin" / "python"
    cfg = McpServerConfig(name="time", command=str(venv_python), args=["-m", "mcp_server_time", "--local-timezone", "UTC"])
    async with running(McpServer(cfg)) as server:
        assert server.state == "ready", server.error
        assert "get_current_time" in {t.name for t in server.tools}
        result = await server.call("get_current_time", {"timezone": "Europe/Paris"})
        assert "Europe/Paris" in json.dumps(result["output"])
        bad = await server.call("get_current_time", {"timezone": "Not/AZone"})
        assert "error" in bad


@pytest.mark.published
@pytest.mark.anyio
async def test_published_server_everything() -> None:
    script = published_dir() / "node_modules/@modelcontextprotocol/server-everything/dist/index.js"
    async with running(McpServer(McpServerConfig(name="everything", command="node", args=[str(script)]))) as server:
        assert server.state == "ready", server.error
        names = {t.name for t in server.tools}
        assert "echo" in names
        echoed = await server.call("echo", {"message": "hello"})
        assert "hello" in json.dumps(echoed["output"])
        add = next((n for n in ("get-sum", "add") if n in names), None)
        assert add is not None, f"no adding tool in {sorted(names)}"
        assert "5" in json.dumps((await server.call(add, {"a": 2, "b": 3}))["output"])
        image = next((n for n in names if "image" in n), None)
        if image is not None:
            from agent.tools.images import take_images

            result, images = take_images(await server.call(image, {}))
            assert "output" in result
            assert_no_base64(result)  # the answer's JSON describes the image, never carries it
            assert images and images[0].mime_type.startswith("image/") and images[0].data  # it goes to the model as a part


@pytest.mark.published
@pytest.mark.anyio
async def test_published_server_filesystem(tmp_path: Path) -> None:
    script = published_dir() / "node_modules/@modelcontextprotocol/server-filesystem/dist/index.js"
    (tmp_path / "hello.txt").write_text("hello from the test\n")
    (tmp_path / "sub").mkdir()
    cfg = McpServerConfig(name="fs", command="node", args=[str(script), str(tmp_path)])
    async with running(McpServer(cfg)) as server:
        assert server.state == "ready", server.error
        names = {t.name for t in server.tools}
        read = "read_text_file" if "read_text_file" in names else "read_file"
        content = await server.call(read, {"path": str(tmp_path / "hello.txt")})
        assert "hello from the test" in json.dumps(content["output"])
        listing = await server.call("list_directory", {"path": str(tmp_path)})
        assert "hello.txt" in json.dumps(listing["output"]) and "sub" in json.dumps(listing["output"])
        outside = await server.call(read, {"path": "/etc/passwd"})
        assert "error" in outside
