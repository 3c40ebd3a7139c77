"""The whole agent: toolCall from the fake Live server -> real MCP call or local function -> toolResponse.

Sources: an in-process MCP server (streamable HTTP and SSE in this test process), stdio
subprocesses, a local Python module, and published servers from PyPI and npm.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, TEXT_ONLY, interrupt, run_agent, start_agent
from tests.fakes.live_server import FakeConnection
from tests.fakes.mcp_servers import build_server, stdio_command
from tests.test_mcp import published_dir


class ToolModel:
    """Scenario: each user text triggers one toolCall (from `plan`), then a reply once answered."""

    def __init__(self, *plans: list[dict[str, Any]], cancel: list[str] | None = None, wait: float = 30) -> None:
        self.plans = list(plans)
        self.cancel = cancel or []
        self.wait = wait
        self.responses: list[dict[str, Any]] = []
        self.declarations: list[dict[str, Any]] = []

    async def __call__(self, conn: FakeConnection) -> None:
        self.declarations = [d for t in conn.setup.get("tools", []) for d in t.get("function_declarations", [])]
        for plan in self.plans:
            await conn.expect_text()
            await conn.send_tool_call(*plan)
            if self.cancel:
                await asyncio.sleep(0.3)
                await conn.cancel_tool_calls(*self.cancel)
            expected = {c["id"] for c in plan} - set(self.cancel)
            got: set[str] = set()
            deadline = time.monotonic() + self.wait
            while not expected <= got:
                for r in await conn.expect_tool_response(timeout=max(0.1, deadline - time.monotonic())):
                    self.responses.append(r)
                    got.add(r["id"])
            await asyncio.sleep(0.3)  # room for a response that should never come
            while not conn._inbox.empty():
                msg = conn._inbox.get_nowait()
                if msg is not None:
                    self.responses += msg.function_responses
            await conn.send_text("done")

    def by_id(self) -> dict[str, dict[str, Any]]:
        return {r["id"]: r for r in self.responses}


def output(response: dict[str, Any]) -> Any:
    """A success's output; MCP servers wrap a primitive return as structured {"result": value}."""
    value = response["output"]
    return value["result"] if isinstance(value, dict) and set(value) == {"result"} else value


def call(call_id: str, function: str, **args: Any) -> dict[str, Any]:
    return {"id": call_id, "name": function, "args": args}


def toml_server(name: str, command: str, args: list[str], **extra: Any) -> str:
    lines = [f"[mcp_servers.{name}]", f"command = {json.dumps(command)}", f"args = {json.dumps(args)}"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


def basic_stdio(name: str = "basic", *flags: str, **extra: Any) -> str:
    command, args = stdio_command("basic", *flags)
    return toml_server(name, command, args, **extra)


# ---- an MCP server inside this test process -------------------------------------------------


@pytest.fixture
def http_server(request: pytest.FixtureRequest) -> Iterator[str]:
    """The basic test server on 127.0.0.1 in this process; yields its URL."""
    import uvicorn

    transport = request.param
    server = build_server("basic")
    app = server.streamable_http_app() if transport == "streamable-http" else server.sse_app()
    web = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=web.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not web.started:
        assert time.monotonic() < deadline, "in-process MCP server did not start"
        time.sleep(0.02)
    port = web.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}" + ("/mcp" if transport == "streamable-http" else "/sse")
    web.should_exit = True
    thread.join(10)


@pytest.mark.parametrize("http_server", ["streamable-http", "sse"], indirect=True)
def test_in_process_http_server(live, clean_env: Path, http_server: str) -> None:
    transport = "sse" if http_server.endswith("/sse") else "streamable-http"
    (clean_env / "gemini-live.toml").write_text(
        f'[mcp_servers.web]\nurl = "{http_server}"\ntransport = "{transport}"\nheaders = {{ X-Agent = "gemini-live" }}\n'
    )
    model = ToolModel([call("c1", "web__add", a=2, b=40), call("c2", "web__header", name="x-agent")])
    live(model)
    result = run_agent(*TEXT_ONLY, input="add\n")
    assert result.status == 0, result.stderr
    assert result.stdout.strip() == "done"
    got = model.by_id()
    assert output(got["c1"]["response"]) == 42
    assert output(got["c2"]["response"]) == "gemini-live"
    assert "web__add" in {d["name"] for d in model.declarations}


def test_stdio_server_and_local_module_round_trip(live, clean_env: Path) -> None:
    (clean_env / "gemini-live.toml").write_text(basic_stdio())
    model = ToolModel([
        call("s1", "basic__echo", text="hello tools"),
        call("l1", "function_examples__" + local_tool_name(), **local_tool_args()),
    ])
    live(model)
    result = run_agent(*TEXT_ONLY, "--import-functions", str(ROOT / "config" / "function_examples.py"), input="go\n")
    assert result.status == 0, result.stderr
    got = model.by_id()
    assert got["s1"]["name"] == "basic__echo" and output(got["s1"]["response"]) == "hello tools"
    assert "output" in got["l1"]["response"], got["l1"]
    # Declarations go to Live as `parameters` (OpenAPI-style Schema), never parameters_json_schema.
    decl = {d["name"]: d for d in model.declarations}["basic__echo"]
    assert decl["parameters"]["type"] == "OBJECT" and "parameters_json_schema" not in decl


def local_tool_name() -> str:
    sys.path.insert(0, str(ROOT / "config"))
    try:
        import function_examples
    finally:
        sys.path.pop(0)
    return next(n for n in ("convert_units", "calculate", "roll_dice") if hasattr(function_examples, n))


def local_tool_args() -> dict[str, Any]:
    return {"convert_units": {"value": 10, "from_unit": "km", "to_unit": "mi"}, "calculate": {"expression": "6*7"},
            "roll_dice": {}}[local_tool_name()]


def test_faults_become_error_responses_and_the_session_goes_on(live, clean_env: Path) -> None:
    (clean_env / "gemini-live.toml").write_text(basic_stdio(timeout=1.0))
    model = ToolModel(
        [
            call("unknown", "basic__nope"),
            call("badargs", "basic__add", a="two", c=3),
            call("iserror", "basic__fail", message="disk full"),
            call("raises", "basic__raise", message="kaboom"),
            call("timeout", "basic__sleep", seconds=30),
            call("ok", "basic__add", a=1, b=2),
        ],
        [call("after", "basic__echo", text="still alive")],
    )
    live(model)
    result = run_agent(*TEXT_ONLY, input="first\nsecond\n")
    assert result.status == 0, result.stderr
    got = {k: v["response"] for k, v in model.by_id().items()}
    assert "unknown function" in got["unknown"]["error"] and "basic__add" in got["unknown"]["error"]
    assert "invalid arguments" in got["badargs"]["error"] and "'b' is a required property" in got["badargs"]["error"]
    assert "disk full" in got["iserror"]["error"]
    assert "raise" in got["raises"]["error"]  # mcp 2.x servers hide the exception text itself
    assert "timed out after 1" in got["timeout"]["error"]
    assert output(got["ok"]) == 3
    assert output(got["after"]) == "still alive"
    assert len(model.responses) == 7  # exactly one response per id
    statuses = {k: (v.get("status"), v.get("retryable")) for k, v in got.items() if "error" in v}
    assert statuses == {"unknown": ("unknown_function", False), "badargs": ("invalid_argument", True),
                        "iserror": ("error", False), "raises": ("error", False), "timeout": ("timeout", True)}


def test_duplicate_id_runs_once_and_cancelled_calls_get_no_response(live, clean_env: Path) -> None:
    marker = clean_env / "marks.txt"
    (clean_env / "gemini-live.toml").write_text(basic_stdio())
    model = ToolModel(
        [call("dup", "basic__echo", text="once"), call("dup", "basic__echo", text="twice"),
         call("slow", "basic__sleep", seconds=20, marker=str(marker))],
        cancel=["slow"],
    )
    live(model)
    result = run_agent(*TEXT_ONLY, input="go\n")
    assert result.status == 0, result.stderr
    assert [r["id"] for r in model.responses] == ["dup"]
    assert output(model.responses[0]["response"]) == "once"
    deadline = time.monotonic() + 10
    while "cancelled" not in (marker.read_text() if marker.exists() else ""):
        assert time.monotonic() < deadline, "the MCP server was not told of the cancellation"
        time.sleep(0.05)


def test_a_call_delivered_again_after_its_answer_is_answered_again_not_run_again(live, clean_env: Path) -> None:
    # What a resumed connection does with a call answered on the old one (issue 13, item 10).
    marker = clean_env / "marks.txt"
    (clean_env / "gemini-live.toml").write_text(basic_stdio())
    again = call("r", "basic__sleep", seconds=0.01, marker=str(marker))
    model = ToolModel([again], [again])
    live(model)
    result = run_agent(*TEXT_ONLY, input="go\nagain\n")
    assert result.status == 0, result.stderr
    assert [r["id"] for r in model.responses] == ["r", "r"]
    assert model.responses[0]["response"] == model.responses[1]["response"]
    assert marker.read_text().splitlines() == ["started", "done"]  # the tool ran once


def test_server_killed_mid_call_answers_with_an_error_and_restarts(live, clean_env: Path) -> None:
    (clean_env / "gemini-live.toml").write_text(basic_stdio())
    model = ToolModel([call("boom", "basic__crash", delay=0.2)], [call("next", "basic__echo", text="back again")])
    live(model)
    result = run_agent(*TEXT_ONLY, input="crash it\nand again\n")
    assert result.status == 0, result.stderr
    got = model.by_id()
    assert got["boom"]["response"]["status"] == "unavailable" and got["boom"]["response"]["retryable"] is True
    assert output(got["next"]["response"]) == "back again"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def test_no_orphans_after_eof(live, clean_env: Path) -> None:
    pidfile = clean_env / "child.pid"
    (clean_env / "gemini-live.toml").write_text(basic_stdio("basic", "--spawn-child", str(pidfile), "--ignore-sigterm"))
    live(ToolModel([call("c", "basic__echo", text="x")]))
    result = run_agent(*TEXT_ONLY, input="go\n")
    assert result.status == 0, result.stderr
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while alive(child):
        assert time.monotonic() < deadline, "the MCP server's child process outlived the agent"
        time.sleep(0.05)


def test_ctrl_c_during_a_tool_call_leaves_no_processes(live, clean_env: Path) -> None:
    marker = clean_env / "marks.txt"
    pidfile = clean_env / "child.pid"
    (clean_env / "gemini-live.toml").write_text(basic_stdio("basic", "--spawn-child", str(pidfile)))
    server = live(ToolModel([call("slow", "basic__sleep", seconds=60, marker=str(marker))]))
    proc = start_agent(*TEXT_ONLY, cwd=clean_env)
    proc.stdin.write("go\n")
    proc.stdin.flush()
    deadline = time.monotonic() + 30
    while "started" not in (marker.read_text() if marker.exists() else ""):
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read() if proc.poll() is not None else "tool never started"
        time.sleep(0.05)
    started = time.monotonic()
    status, _out, err = interrupt(proc)
    assert status == 130, err
    assert time.monotonic() - started < 5  # prompt, even with a tool call in flight
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while alive(child):
        assert time.monotonic() < deadline, "a grandchild of the agent survived Ctrl-C"
        time.sleep(0.05)
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)
    assert server.connections


def test_tools_command_lists_and_prints_declarations(clean_env: Path) -> None:
    (clean_env / "gemini-live.toml").write_text(
        basic_stdio() + toml_server("broken", sys.executable, ["-c", "import sys; sys.exit(3)"])
    )
    table = run_agent("tools")
    assert table.status == 0, table.stderr
    assert "basic__echo" in table.stdout and "broken" in table.stdout and "failed to start" in table.stdout
    as_json = run_agent("tools", "--json")
    assert as_json.status == 0
    declarations = json.loads(as_json.stdout)
    echo = next(d for d in declarations if d["name"] == "basic__echo")
    assert set(echo) <= {"name", "description", "parameters", "behavior"} and echo["parameters"]["type"] == "OBJECT"
    assert echo["behavior"] == "NON_BLOCKING"  # the default model, gemini-3.8-live, runs calls asynchronously


def test_tools_command_on_the_shipped_example_config(clean_env: Path) -> None:
    env = {"XDG_DATA_HOME": str(clean_env / "data")}
    result = run_agent("tools", "--config", str(ROOT / "config" / "gemini-live.toml"), env=env, timeout=120)
    assert result.status == 0, result.stderr
    assert "notes__add_note" in result.stdout and "function_examples__" in result.stdout


def test_tools_command_config_error_exits_2(clean_env: Path) -> None:
    (clean_env / "gemini-live.toml").write_text("[mcp_servers.x]\ncommand = 3\n")
    result = run_agent("tools")
    assert result.status == 2 and "mcp_servers.x.command" in result.stderr


def test_required_server_failure_stops_start_up(live, clean_env: Path) -> None:
    (clean_env / "gemini-live.toml").write_text(toml_server("needed", sys.executable, ["-c", "import sys; sys.exit(3)"], required=True))
    live()
    result = run_agent(*TEXT_ONLY, input="hi\n")
    assert result.status == 2 and "needed" in result.stderr and "Traceback" not in result.stderr


# ---- published servers ----------------------------------------------------------------------


@pytest.mark.published
def test_published_servers_end_to_end(live, clean_env: Path) -> None:
    directory = published_dir()
    files = clean_env / "files"
    files.mkdir()
    (files / "hello.txt").write_text("hello from the filesystem server")
    modules = directory / "node_modules" / "@modelcontextprotocol"
    (clean_env / "gemini-live.toml").write_text(
        toml_server("time", str(directory / "time-venv" / "bin" / "python"), ["-m", "mcp_server_time", "--local-timezone", "UTC"])
        + toml_server("everything", "node", [str(modules / "server-everything" / "dist" / "index.js")])
        + toml_server("fs", "node", [str(modules / "server-filesystem" / "dist" / "index.js"), str(files)])
    )
    model = ToolModel([
        call("t", "time__get_current_time", timezone="Europe/Paris"),
        call("e", "everything__echo", message="hi"),
        call("f", "fs__read_text_file", path=str(files / "hello.txt")),
    ])
    live(model)
    result = run_agent(*TEXT_ONLY, input="go\n", timeout=120)
    assert result.status == 0, result.stderr
    got = {k: v["response"] for k, v in model.by_id().items()}
    assert "Europe/Paris" in json.dumps(got["t"]), got["t"]
    assert "hi" in json.dumps(got["e"]), got["e"]
    assert "hello from the filesystem server" in json.dumps(got["f"]), got["f"]
