"""MCP servers that misbehave (issue 13, items 14-17): deep JSON, huge and odd results, notification
floods, catalogs built as bombs, escape sequences, processes that leave the group. Each server is
tests/fakes/hostile_stdio_server.py, a real stdio subprocess."""

from __future__ import annotations

import json
import logging
import os
import signal
import tracemalloc
from pathlib import Path
from typing import Any

import anyio
import pytest
from google.genai import types

from agent.config import McpServerConfig
from agent.tools.catalog import build_catalog
from agent.tools.listing import format_table, json_for_terminal
from agent.tools.mcp import McpServer
from agent.tools.mcp_lines import LOG_BURST, PROGRESS_GAP
from agent.tools.mcp_results import DEEP_NOTE, MAX_RESULT_DEPTH, MAX_TEXT_CHARS, format_call_result
from agent.tools.toolset import mcp_source
from tests.conftest import TEXT_ONLY, run_agent
from tests.fakes.mcp_servers import hostile_stdio_command
from tests.test_mcp import alive, running
from tests.test_tool_bridge_e2e import ToolModel, call

WAIT = 60  # seconds; a bound on waits that end in well under a second when things work
CONTROLS = ("\x1b", "\x9b", "\x07", "\r", "\u202e")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def hostile(name: str, *extra: str, **kw: Any) -> McpServerConfig:
    command, args = hostile_stdio_command(*extra)
    return McpServerConfig(name=name, command=command, args=args, **kw)


def nesting(value: Any) -> tuple[int, Any]:
    level = 0
    while isinstance(value, dict):
        value, level = value["a"], level + 1
    return level, value


# ---- 14: deep JSON ----------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("depth", [200, 5_000])
async def test_a_schema_nested_deep_keeps_the_server_and_its_other_tools(depth: int) -> None:
    async with running(McpServer(hostile("deep", "--deep-schema", str(depth), startup_timeout=30))) as server:
        assert server.state == "ready", server.error
        assert [t.name for t in server.tools] == ["echo", "deep"]
        with anyio.fail_after(WAIT):
            assert await server.call("echo", {"text": "still here"}) == {"output": "still here"}
    catalog = build_catalog([mcp_source(server)])
    assert catalog.names == ["deep__echo", "deep__deep"]
    deep = next(r for r in catalog.rows if r.tool == "deep")
    assert deep.status == "lossy" and "nested deeper than" in deep.detail


@pytest.mark.anyio
@pytest.mark.parametrize("depth", [300, 5_000])
async def test_deeply_nested_structured_content_is_answered_with_the_nesting_cut(depth: int) -> None:
    async with running(McpServer(hostile("nest"))) as server:
        with anyio.fail_after(WAIT):
            result = await server.call("nest", {"depth": depth})
    assert nesting(result["output"]) == (MAX_RESULT_DEPTH, DEEP_NOTE)
    types.FunctionResponse(id="1", name="nest", response=result).model_dump_json()  # the SDK can send it


def test_deep_values_anywhere_in_a_result_are_answered() -> None:
    deep: Any = 1
    for _ in range(5_000):
        deep = [deep]
    assert "malformed" in format_call_result(deep)["error"]  # repr() of it would raise RecursionError
    assert format_call_result({"content": [deep]})["output"]["content"][0]["type"] == "unknown"
    text = "[" * 5_000 + "]" * 5_000  # JSON text too deep for json.loads, beside structuredContent
    assert format_call_result({"content": [{"type": "text", "text": text}], "structuredContent": {"a": 1}})["output"]["text"] == text


# ---- 15: big and hostile results ---------------------------------------------------------------


@pytest.mark.anyio
async def test_a_50_mb_result_is_trimmed_while_it_is_read() -> None:
    async with running(McpServer(hostile("big"))) as server:
        tracemalloc.start()
        try:
            with anyio.fail_after(WAIT):
                result = await server.call("big", {"mb": 50})
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 30_000_000  # bytes held at once while reading 50 MB (the old reader held several copies)
    text = result["output"]
    assert len(text) < MAX_TEXT_CHARS + 200 and text.startswith("x" * 1000)
    assert "about 50,000,000 bytes" in text  # the model learns the real size


@pytest.mark.anyio
async def test_nan_and_infinity_in_structured_content_go_out_as_strings() -> None:
    async with running(McpServer(hostile("nan"))) as server:
        with anyio.fail_after(WAIT):
            result = await server.call("nan", {})
    assert result == {"output": {"nan": "nan", "inf": "inf", "list": ["-inf", 1.5]}}
    json.dumps(result, allow_nan=False)  # valid JSON on the wire


@pytest.mark.anyio
async def test_a_notification_flood_during_a_call_does_not_reach_the_session(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="agent.tools")
    async with running(McpServer(hostile("flood"))) as server:
        with anyio.fail_after(WAIT):
            started = anyio.current_time()
            assert await server.call("flood", {"count": 20_000}) == {"output": "flooded"}
            took = anyio.current_time() - started
            assert await server.call("echo", {"text": "after"}) == {"output": "after"}
    seen_by_session = [r.getMessage() for r in caplog.records if r.name == "agent.tools.mcp_server" and "notification" in r.getMessage()]
    # 40,000 notifications consumed by the reader; only progress of our own call goes on, at most one per PROGRESS_GAP
    assert all(m.endswith("ProgressNotification") for m in seen_by_session)
    assert len(seen_by_session) <= 1 + took / PROGRESS_GAP
    logged = [r for r in caplog.records if r.getMessage().startswith("[flood log")]
    assert LOG_BURST <= len(logged) < 2 * LOG_BURST  # the server's log lines, rate-limited


# ---- 16: hostile catalogs and escape sequences ------------------------------------------------


@pytest.mark.anyio
async def test_a_bomb_catalog_is_bounded_and_says_what_was_cut() -> None:
    async with running(McpServer(hostile("bomb", "--bomb"))) as server:
        assert server.state == "ready", server.error
        stderr = list(server.processes[0].stderr_tail)
    catalog = build_catalog([mcp_source(server)])
    declarations = catalog.declarations_json()
    assert len(json.dumps(declarations)) < 150_000  # was 5.9 MB
    assert all(len(json.dumps(d)) < 45_000 for d in declarations)
    detail = {r.tool: r.detail for r in catalog.rows}
    assert "description of 2,000,000 characters cut to 1,024" in detail["long_description"]
    assert "description of 500,000 characters cut" in detail["long_description"]
    assert "enum of 100,000 values" in detail["huge_enum"]
    assert "4,900 of 5,000 properties not declared" in detail["many_properties"]
    assert "pattern of 1,000,000 characters not declared" in detail["long_pattern"]
    many = catalog.get("bomb__many_properties").declaration.parameters
    assert "p4999" in many.properties and many.required == ["p4999"]  # required properties are kept first
    enum = catalog.get("bomb__huge_enum").declaration.parameters.properties["v"]
    assert enum.enum is None and "One of 100,000 allowed values" in enum.description

    table = format_table(catalog, {}, set())
    shown = table + json_for_terminal(declarations) + "\n".join(stderr)
    assert not any(c in shown for c in CONTROLS)
    assert "Looks" in table or "esc" in table
    assert any("starting" in line and "up" in line for line in stderr)


def test_gemini_live_tools_prints_no_escape_sequences(clean_env: Path) -> None:
    command, args = hostile_stdio_command("--bomb")
    config = clean_env / "hostile.toml"
    config.write_text(f"[mcp_servers.bomb]\ncommand = {json.dumps(command)}\nargs = {json.dumps(args)}\n"
                      f"[mcp_servers.broken]\ncommand = {json.dumps(command)}\nargs = [\"-c\", \"import sys; "
                      f"sys.stderr.write('fatal \\\\x1b[2J\\\\x1b]0;pwned\\\\x07 error'); sys.exit(3)\"]\n")
    for extra in ((), ("--json",)):
        result = run_agent("tools", "--config", str(config), *extra, timeout=120)
        assert result.status == 0, result.stderr
        assert "bomb__huge_enum" in result.stdout
        assert not any(c in result.stdout + result.stderr for c in CONTROLS), (result.stdout + result.stderr)[-2000:]
    assert "fatal" in result.stderr and "error" in result.stderr  # the reason is still shown, made safe


def test_tool_activity_lines_print_no_escape_sequences(live: Any, clean_env: Path) -> None:
    command, args = hostile_stdio_command("--bomb")
    config = clean_env / "hostile.toml"
    config.write_text(f"[mcp_servers.bomb]\ncommand = {json.dumps(command)}\nargs = {json.dumps(args)}\n")
    model = ToolModel([call("e", "bomb__escape")])
    live(model)
    result = run_agent(*TEXT_ONLY, "--config", str(config), input="go\n", timeout=120)
    assert result.status == 0, result.stderr
    assert "bad" in model.responses[0]["response"]["error"]  # the model gets the message
    shown = result.stdout + result.stderr
    assert "bad" in shown and "thing" in shown  # the person sees it too, made safe
    assert not any(c in shown for c in CONTROLS), shown[-2000:]


# ---- 17: processes that leave the group -------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("how", ["--daemon", "--setsid-child"])
async def test_processes_that_left_the_group_end_with_the_server(how: str, tmp_path: Path) -> None:
    pidfile = tmp_path / "escaped.pid"
    pid = 0
    try:
        async with running(McpServer(hostile("leaver", how, str(pidfile)))) as server:
            with anyio.fail_after(WAIT):
                while not pidfile.exists():
                    await anyio.sleep(0.02)
            pid = int(pidfile.read_text())
            assert alive(pid) and os.getpgid(pid) != server.processes[0].pid  # really out of the group
        with anyio.fail_after(10):
            while alive(pid):
                await anyio.sleep(0.05)
    finally:
        if pid and alive(pid):  # do not leave it behind when the test fails
            os.kill(pid, signal.SIGKILL)


def test_one_line_server_text_loses_escapes_controls_and_invisible_characters() -> None:
    """Names and one-line messages from a server: no escapes, no line breaks, no zero-width
    characters that hide or spoof what is shown; prose keeps its joiners (emoji sequences)."""
    from agent.tools.printable import printable

    spoof = "rea\u200bd_fi\u200cle\x1b[2J\nnext\u2028line\u202e"
    assert printable(spoof, one_line=True) == "read_file next line"
    assert printable("family 👨\u200d👩\u200d👧") == "family 👨\u200d👩\u200d👧"
