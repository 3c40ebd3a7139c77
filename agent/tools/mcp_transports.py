"""Transports other than our stdio one, and a read-stream wrapper that notices a dropped connection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Generic, TypeVar

import anyio
from mcp.client._transport import ReadStream, TransportStreams
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from agent.config import McpServerConfig

T = TypeVar("T")


class WatchedReadStream(Generic[T]):
    """Passes a transport's read stream through to the session, setting `lost` at EOF/close.

    The dispatcher answers pending requests with CONNECTION_CLOSED at EOF but tells nobody
    else; this is how the server's owning task learns that its process died.
    """

    def __init__(self, inner: ReadStream[T], lost: anyio.Event) -> None:
        self._inner = inner
        self._lost = lost

    @property
    def last_context(self) -> Any:
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> T:
        try:
            return await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._lost.set()
            raise

    def __aiter__(self) -> WatchedReadStream[T]:
        return self

    async def __anext__(self) -> T:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> WatchedReadStream[T]:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


@asynccontextmanager
async def open_remote(cfg: McpServerConfig) -> AsyncIterator[TransportStreams]:
    """Streamable HTTP or SSE with the configured headers (and mcp's stdio_client on Windows)."""
    if cfg.kind == "stdio":  # Windows: no process groups, so use the SDK's Job Object handling
        assert cfg.command is not None
        from agent.tools.mcp_server import server_environment  # import cycle: mcp_server imports us

        params = StdioServerParameters(command=cfg.command, args=cfg.args, env=server_environment(cfg.env), cwd=cfg.cwd)
        async with stdio_client(params) as streams:
            yield streams
        return
    assert cfg.url is not None
    if cfg.kind == "sse":
        async with sse_client(cfg.url, headers=dict(cfg.headers) or None) as streams:
            yield streams
        return
    async with (
        create_mcp_http_client(headers=dict(cfg.headers) or None) as client,
        streamable_http_client(cfg.url, http_client=client) as streams,
    ):
        yield streams
