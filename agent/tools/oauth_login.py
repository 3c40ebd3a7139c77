"""`gemini-live login NAME` and `logout NAME`: sign in to a remote MCP server ahead of a session, or forget it."""

from __future__ import annotations

import sys

import anyio

from agent.config import Config, McpServerConfig
from agent.errors import SessionError, UserError
from agent.tools.mcp_remote import RemoteConnector
from agent.tools.mcp_server import McpServer
from agent.tools.oauth import FileTokenStorage, Provider, token_path


def remote_server(config: Config, name: str) -> McpServerConfig:
    """The configured remote server NAME with OAuth on, or a UserError saying what is there instead."""
    cfg = config.mcp_servers.get(name)
    if cfg is None:
        remote = sorted(n for n, c in config.mcp_servers.items() if c.url is not None)
        known = f"; remote servers in the config: {', '.join(remote)}" if remote else "; the config has no remote servers"
        raise UserError(f"no MCP server named {name!r}{known}")
    if cfg.url is None:
        raise UserError(f"MCP server {name!r} runs a command (stdio); signing in applies to remote servers (url)")
    if not cfg.oauth_enabled:
        raise UserError(f"MCP server {name!r} has `oauth = false`")
    return cfg


async def login(cfg: McpServerConfig) -> int:
    """Connect with sign-in allowed (the browser opens if the server asks), list the tools, report."""
    explicit = cfg if cfg.oauth is not None else cfg.model_copy(update={"oauth": True})  # a header token does not stop a login
    server = McpServer(explicit)
    server.remote = RemoteConnector(explicit, authorize=True)
    async with anyio.create_task_group() as tg:
        await tg.start(server.run)
        tg.cancel_scope.cancel()
    if server.state == "failed":
        raise SessionError(f"cannot sign in to {cfg.name}: {server.error}")
    auth = server.remote.auth
    signed_in = isinstance(auth, Provider) and auth.authorized.is_set()
    how = "signed in" if signed_in else "already signed in (the stored token works)" if isinstance(auth, Provider) else "connected (it asked for no sign-in)"
    print(f"{cfg.name}: {how}; {len(server.tools)} tools", file=sys.stderr)
    return 0


def logout(cfg: McpServerConfig) -> int:
    forgot = FileTokenStorage(token_path(cfg)).forget()
    print(f"{cfg.name}: " + ("signed out (the stored tokens are deleted)" if forgot else "no stored sign-in"), file=sys.stderr)
    return 0
