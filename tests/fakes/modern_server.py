"""MCP servers that speak only the stateless 2026-07-28 protocol (issue 11, item 6).

mcp 2.3's servers are dual-era: a connection's first request decides, and an `initialize` opens a
2025 connection. These serve every connection the way mcp serves a 2026-07-28 one, with the SDK's
own loop for it (`mcp.server.runner._serve_modern_stream`, private; a test fake may use it): no
handshake (`initialize` is refused with UNSUPPORTED_PROTOCOL_VERSION naming the versions served),
`server/discover` describes the server, and every request carries its own `_meta` envelope.

`modern_only(server)` is a transport factory for `McpServer(cfg, transport=...)`; over stdio,
tests/fakes/stdio_server.py takes `--modern-only`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio
from mcp.client._transport import TransportStreams
from mcp.server.lowlevel import Server
from mcp.server.mcpserver import MCPServer
from mcp.server.runner import _serve_modern_stream
from mcp.shared.memory import create_client_server_memory_streams


async def serve_modern_only(server: MCPServer | Server[Any], read: Any, write: Any) -> None:
    """Serve one connection on the 2026-07-28 protocol only, until the client closes it."""
    lowlevel: Server[Any] = server._lowlevel_server if isinstance(server, MCPServer) else server  # noqa: SLF001
    async with lowlevel.lifespan(lowlevel) as state:
        try:
            await _serve_modern_stream(lowlevel, read, write, lifespan_state=state, raise_exceptions=False)
        finally:
            await write.aclose()


def modern_only(server: MCPServer | Server[Any]) -> Callable[[], AbstractAsyncContextManager[TransportStreams]]:
    """A transport factory connecting to `server`, in this process, on the 2026-07-28 protocol only."""

    @asynccontextmanager
    async def connect() -> AsyncIterator[TransportStreams]:
        async with create_client_server_memory_streams() as (client, (server_read, server_write)), anyio.create_task_group() as tg:
            tg.start_soon(serve_modern_only, server, server_read, server_write)
            yield client
            tg.cancel_scope.cancel()

    return connect
