"""Servers on the stateless 2026-07-28 MCP protocol (issue 11, item 6) next to 2025 ones.

The client runs the 2025 `initialize` handshake and, when a server refuses it as a 2026-07-28-only
server does, mcp's `server/discover` probe (agent/tools/mcp_era.py). Servers: mcp's own, dual-era
as mcp serves them (they keep the handshake) and 2026-07-28 only (tests/fakes/modern_server.py), in
this process and over stdio.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import METHOD_NOT_FOUND

from agent.config import McpServerConfig
from agent.tools.mcp import McpServer
from tests.fakes.logging_server import chatty_server
from tests.fakes.mcp_servers import build_server, in_memory
from tests.fakes.modern_server import modern_only
from tests.test_mcp import BASIC_TOOLS, running, stdio_cfg
from tests.test_mcp_log import server_with_logs

MODERN = "2026-07-28"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def in_process(name: str, transport: Any, **kw: Any) -> McpServer:
    return McpServer(McpServerConfig(name=name, command="in-process", **kw), transport=transport)


@pytest.mark.anyio
async def test_a_server_that_speaks_only_2026_works() -> None:
    async with running(in_process("modern", modern_only(build_server("basic")))) as server:
        assert server.state == "ready", server.error
        assert server.protocol_version == MODERN
        assert {t.name for t in server.tools} == BASIC_TOOLS
        with anyio.fail_after(20):
            assert await server.call("echo", {"text": "hi"}) == {"output": {"result": "hi"}}
            assert await server.call("add", {"a": 2, "b": 3}) == {"output": {"result": 5}}
            failed = await server.call("fail", {"message": "nope"})
            assert failed["error"] == "nope"
            assert (await server.call("structured", {"city": "Oslo"}))["output"]["city"] == "Oslo"


@pytest.mark.anyio
async def test_a_dual_era_server_keeps_the_2025_handshake() -> None:
    """mcp's servers speak both: the handshake keeps list_changed, elicitation and setLevel with them."""
    async with running(in_process("both", in_memory(build_server("basic")))) as server:
        assert server.state == "ready", server.error
        assert server.protocol_version == "2025-11-25"
        with anyio.fail_after(20):
            assert await server.call("echo", {"text": "hi"}) == {"output": {"result": "hi"}}


@pytest.mark.anyio
async def test_a_2026_server_over_stdio_and_its_restart() -> None:
    async with running(McpServer(stdio_cfg("modern", "basic", "--modern-only", startup_timeout=30), backoff=0.05)) as server:
        assert server.state == "ready", server.error
        assert server.protocol_version == MODERN
        with anyio.fail_after(30):
            assert await server.call("echo", {"text": "one"}) == {"output": {"result": "one"}}
            assert "stopped while running" in (await server.call("crash", {}))["error"]
            assert await server.call("echo", {"text": "two"}) == {"output": {"result": "two"}}  # restarted, rediscovered
        assert server.protocol_version == MODERN and len(server.processes) == 2


@pytest.mark.anyio
async def test_a_2026_server_logs_what_each_request_asks_for() -> None:
    """Log messages are an opt-in per request at 2026-07-28: at `log_level`, or info by default."""
    for log_level, expected in ((None, ["careful", "broken"]), ("error", ["broken"])):
        server, recorded = server_with_logs(McpServerConfig(name="chatty", command="in-process", log_level=log_level),
                                            modern_only(chatty_server()))
        async with running(server):
            assert server.protocol_version == MODERN
            for level, text in (("debug", "noise"), ("warning", "careful"), ("error", "broken")):
                with anyio.fail_after(20):
                    await server.call("say", {"level": level, "text": text})
            events = await recorded.wait_for(len(expected))
            await anyio.sleep(0.2)  # room for a message that should not come
        assert [e["text"] for e in events] == expected, log_level


@pytest.mark.anyio
async def test_a_server_that_refuses_both_is_reported_by_its_answer_to_initialize() -> None:
    async def refuse_initialize(ctx: Any, call_next: Any) -> Any:
        if ctx.method == "initialize":
            raise MCPError(code=METHOD_NOT_FOUND, message="no initialize here")
        return await call_next(ctx)

    # mcp's dual-era loop then serves the connection as a 2025 one: the enveloped server/discover is refused too
    async with running(in_process("neither", in_memory(MCPServer("neither", middleware=[refuse_initialize])))) as server:
        assert server.state == "failed"
        assert server.error is not None and "-32601: no initialize here" in server.error
