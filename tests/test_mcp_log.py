"""MCP servers' log messages (issue 11, item 4): shown with -v, always in --log-file, `log_level` per server.

The server is tests/fakes/logging_server.py: in this process (the session's logging callback) and
over stdio (the stdio reader hands them on before the session), and under the real agent.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import anyio
import pytest

from agent.config import McpServerConfig
from agent.tools.mcp import McpServer
from agent.tools.mcp_log import ServerLogs
from tests.conftest import TEXT_ONLY, run_agent
from tests.fakes.logging_server import chatty_server
from tests.fakes.mcp_servers import in_memory, stdio_command
from tests.test_mcp import running
from tests.test_tool_bridge_e2e import ToolModel, call, output, toml_server

ESCAPES = "\x1b[2J\x1b]0;title\x07\u202e"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Recorded:
    """Stands in for Recorder.event: the events, in order."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, kind: str, **fields: Any) -> None:
        self.events.append({"event": kind, **fields})

    async def wait_for(self, count: int) -> list[dict[str, Any]]:
        with anyio.fail_after(20):  # bounded: the session hands a notification on in its own task
            while len(self.events) < count:
                await anyio.sleep(0.01)
        return self.events


def server_with_logs(cfg: McpServerConfig, transport: Any = None) -> tuple[McpServer, Recorded]:
    logs, recorded = ServerLogs(), Recorded()
    logs.record = recorded
    return McpServer(cfg, transport=transport, logs=logs), recorded


def chatty_cfg(name: str = "chatty", **kw: Any) -> McpServerConfig:
    command, args = stdio_command("chatty")
    return McpServerConfig(name=name, command=command, args=args, **kw)


@pytest.mark.anyio
async def test_log_messages_are_recorded_and_shown_verbosely(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="agent.tools.mcp_log")
    server, recorded = server_with_logs(McpServerConfig(name="chatty", command="in-process"), in_memory(chatty_server()))
    async with running(server):
        assert (await server.call("say", {"level": "warning", "text": "disk almost full", "logger": "fs"}))["output"] == "said"
        assert (await server.call("level", {}))["output"] == "unset"  # no log_level: none sent
        events = await recorded.wait_for(1)
    assert events == [{"event": "mcp_log", "server": "chatty", "level": "warning", "logger": "fs", "text": "disk almost full"}]
    assert "[chatty log warning] fs: disk almost full" in caplog.messages


@pytest.mark.anyio
async def test_log_level_is_sent_to_a_server_that_declares_logging() -> None:
    server, recorded = server_with_logs(McpServerConfig(name="chatty", command="in-process", log_level="warning"),
                                        in_memory(chatty_server()))
    async with running(server):
        assert (await server.call("level", {}))["output"] == "warning"
        assert (await server.call("say", {"level": "info", "text": "chatter"}))["output"] == "not said"
        assert (await server.call("say", {"level": "error", "text": "broken"}))["output"] == "said"
        events = await recorded.wait_for(1)
    assert [e["text"] for e in events] == ["broken"]


@pytest.mark.anyio
async def test_log_level_applies_to_a_server_that_ignores_it() -> None:
    """No logging capability: no logging/setLevel is sent, and what is below the level is dropped here."""
    server, recorded = server_with_logs(McpServerConfig(name="loose", command="in-process", log_level="error"),
                                        in_memory(chatty_server(declares_logging=False)))
    async with running(server):
        for level in ("debug", "warning", "critical", "error"):
            assert (await server.call("say", {"level": level, "text": level}))["output"] == "said"
        events = await recorded.wait_for(2)
        await anyio.sleep(0.2)  # room for a message that should not come
    assert sorted(e["text"] for e in events) == ["critical", "error"]


@pytest.mark.anyio
async def test_a_stdio_servers_log_messages_are_made_printable(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="agent.tools.mcp_log")
    server, recorded = server_with_logs(chatty_cfg(startup_timeout=30))
    async with running(server):
        with anyio.fail_after(30):
            await server.call("say", {"level": "error", "text": f"bad {ESCAPES}\nthing", "logger": f"x{ESCAPES}"})
            await server.call("say", {"level": "info", "text": {"structured": [1, 2]}})  # data need not be text
        events = await recorded.wait_for(2)
    assert events[0]["text"] == "bad \nthing" and events[0]["logger"] == "x"  # newlines kept in the record
    assert events[1]["text"] == '{"structured": [1, 2]}'
    assert "[chatty log error] x: bad  thing" in caplog.messages  # one line on stderr
    assert all("\x1b" not in m and "\u202e" not in m for m in caplog.messages)


def test_the_agent_shows_them_with_v_and_records_them_always(live, clean_env: Path) -> None:
    command, args = stdio_command("chatty")
    (clean_env / "gemini-live.toml").write_text(toml_server("chatty", command, args, log_level="notice"))
    for verbose in (True, False):
        model = ToolModel([call("c1", "chatty__say", level="warning", text="cache is cold", logger="cache"),
                           call("c2", "chatty__say", level="info", text="too chatty")])
        live(model)
        log = clean_env / f"session-{verbose}.jsonl"
        result = run_agent(*TEXT_ONLY, *(["-v"] if verbose else []), "--log-file", str(log), input="go\n", timeout=90)
        assert result.status == 0, result.stderr
        assert [output(r["response"]) for r in sorted(model.responses, key=lambda r: r["id"])] == ["said", "not said"]
        events = [json.loads(line) for line in log.read_text().splitlines()]
        logged = [e for e in events if e["event"] == "mcp_log"]
        assert [(e["server"], e["level"], e["logger"], e["text"]) for e in logged] == [("chatty", "warning", "cache", "cache is cold")]
        assert ("[chatty log warning] cache: cache is cold" in result.stderr) is verbose
        assert "[chatty log info]" not in result.stderr
