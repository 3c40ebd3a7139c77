"""MCP servers as tool backends: the hub that starts them all (see mcp_server for one server).

`McpHub.run` starts every enabled server concurrently, each within its own startup_timeout,
reports started once each is up or has failed (or, with `startup_wait`, once that many seconds
have passed: servers still starting then are "late" and join when ready, through their
`on_tools_listed`; `required` servers are always waited for), and serves until cancelled;
cancelling it shuts every server down at once. A server that fails to start is logged with its
reason and left out, unless it is `required`: then start-up fails with McpStartupError naming it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

import anyio
import anyio.abc

from agent.config import McpServerConfig
from agent.errors import UserError
from agent.tools.mcp_log import ServerLogs
from agent.tools.mcp_server import McpServer, ServerState, TransportFactory
from agent.tools.printable import printable

__all__ = ["McpHub", "McpServer", "McpStartupError", "ServerState", "TransportFactory"]

logger = logging.getLogger(__name__)


class McpStartupError(UserError):
    """A server marked `required` did not start; names it and says why."""

    def __init__(self, failures: Mapping[str, str]) -> None:
        self.failures = dict(failures)
        lines = [f"required MCP server {name!r} failed to start: {why}" for name, why in self.failures.items()]
        super().__init__("\n".join(lines))


class McpHub:
    """All configured MCP servers, started concurrently; failures are reported and left out."""

    def __init__(
        self,
        servers: list[McpServerConfig],
        *,
        transports: Mapping[str, TransportFactory] | None = None,
        startup_wait: float | None = None,
    ) -> None:
        transports = transports or {}
        self.logs = ServerLogs()  # the servers' log messages; the app points `logs.record` at --log-file
        self.servers = [McpServer(cfg, transport=transports.get(cfg.name), logs=self.logs) for cfg in servers if cfg.enabled]
        self.startup_wait = startup_wait  # None: wait for every server

    @property
    def starting(self) -> list[McpServer]:
        """Servers still starting (late ones, once the session has started without them)."""
        return [s for s in self.servers if s.state in ("idle", "starting")]

    @property
    def ready(self) -> list[McpServer]:
        """Servers that started (a crashed one still counts: it restarts on use)."""
        return [s for s in self.servers if s.state not in ("failed", "idle", "starting")]

    @property
    def failures(self) -> dict[str, str]:
        """Why each failed server failed, made printable (the reason quotes the server)."""
        return {s.name: printable(s.error or "failed") for s in self.servers if s.state == "failed"}

    def server(self, name: str) -> McpServer:
        return next(s for s in self.servers if s.name == name)

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Start every server at once; started() when each is up or failed; serve until cancelled."""
        required_failures: dict[str, str] = {}
        async with anyio.create_task_group() as tg:
            for server in self.servers:
                tg.start_soon(server.run, name=f"mcp:{server.name}")
            with anyio.move_on_after(math.inf if self.startup_wait is None else self.startup_wait):
                for server in self.servers:
                    await server.wait_started()
            for server in self.servers:
                if server.cfg.required:
                    await server.wait_started()
            for name, why in self.failures.items():
                logger.warning("MCP server %s failed to start and is left out: %s", name, why)
            for server in self.starting:
                logger.warning("MCP server %s is still starting; the session starts without it and its tools join when it is ready",
                               printable(server.name))
                tg.start_soon(_report_late_failure, server)
            required_failures = {name: why for name, why in self.failures.items() if self.server(name).cfg.required}
            if required_failures:
                tg.cancel_scope.cancel()
            else:
                task_status.started()
                await anyio.sleep_forever()
        if required_failures:
            raise McpStartupError(required_failures)


async def _report_late_failure(server: McpServer) -> None:
    """A late server that then failed: said once, as a failure at start is."""
    await server.wait_started()
    if server.state == "failed":
        logger.warning("MCP server %s failed to start and is left out: %s", printable(server.name), printable(server.error or "failed"))
