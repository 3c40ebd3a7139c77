"""MCP servers whose tools change, or that are many, for the catalog-update and budget tests.

    python tests/fakes/changing_server.py [--start-delay S] [--flip-file FILE] [--mark FILE]
    python tests/fakes/changing_server.py --corpus FILE [--servers N] [--copies K]

Default flavour ("changing"): tools `unlock` and `old`. Calling `unlock` adds `secret` and
removes `old`, then sends notifications/tools/list_changed. With --flip-file, a server that
starts while FILE exists lists `secret` instead of `old` from the start (a restarted server
that came back with other tools). `toggle` adds `secret` if it is absent and removes it if not,
then sends list_changed, appending the time.monotonic() of the notification to --mark FILE
(bench_catalog_update.py).

--corpus serves the tools captured from published servers (benchmarks/data/tool_corpus.json):
every tool of the first N servers, K times over (copies renamed `<name>_k`), each answering
`called <name> with <arguments>`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.server.mcpserver import Context, MCPServer

CORPUS = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "tool_corpus.json"


def changing_server(flipped: bool = False, mark: str = "") -> MCPServer:
    server = MCPServer("changing")

    def secret(word: str = "") -> str:
        """Tell the secret."""
        return f"the secret is 42{' ' + word if word else ''}"

    def old() -> str:
        """An old tool that goes away."""
        return "old"

    @server.tool()
    async def unlock(ctx: Context) -> str:
        """Unlock the secret tool (and retire the old one)."""
        if "secret" not in {t.name for t in await server.list_tools()}:
            server.add_tool(secret)
            server.remove_tool("old")
            await ctx.session.send_tool_list_changed()
        return "unlocked"

    @server.tool()
    async def toggle(ctx: Context) -> str:
        """Add the secret tool if it is absent, remove it if not, and say so."""
        present = "secret" in {t.name for t in await server.list_tools()}
        if present:
            server.remove_tool("secret")
        else:
            server.add_tool(secret)
        if mark:
            with open(mark, "a", encoding="utf-8") as f:
                f.write(f"{time.monotonic()}\n")
        await ctx.session.send_tool_list_changed()
        return "removed" if present else "added"

    if flipped:
        server.add_tool(secret)
    else:
        server.add_tool(old)
    return server


def corpus_tools(path: Path, servers: int, copies: int) -> list[dict[str, Any]]:
    data = json.loads(path.read_text())
    tools: list[dict[str, Any]] = []
    for k in range(copies):
        for server in data["servers"][:servers]:
            for tool in server["tools"]:
                name = tool["name"] if k == 0 else f"{tool['name']}_{k}"
                tools.append({**tool, "name": f"{server['name']}_{name}"[:64]})
    seen: set[str] = set()
    return [t for t in tools if not (t["name"] in seen or seen.add(t["name"]))]  # type: ignore[func-returns-value]


def corpus_server(tools: list[dict[str, Any]]) -> Server[Any]:
    listed = [types.Tool.model_validate({**t, "inputSchema": t.get("inputSchema") or {"type": "object"}}) for t in tools]

    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=listed)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        text = f"called {params.name} with {json.dumps(params.arguments or {}, sort_keys=True)}"
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)])

    return Server("corpus", on_list_tools=list_tools, on_call_tool=call_tool)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--start-delay", type=float, default=0.0)
    parser.add_argument("--flip-file")
    parser.add_argument("--mark", default="")
    parser.add_argument("--corpus")
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--copies", type=int, default=1)
    opts = parser.parse_args()
    if opts.start_delay:
        time.sleep(opts.start_delay)
    if opts.corpus:
        server: Any = corpus_server(corpus_tools(Path(opts.corpus), opts.servers, opts.copies))
    else:
        server = changing_server(flipped=bool(opts.flip_file and Path(opts.flip_file).exists()), mark=opts.mark)
    from mcp.server.stdio import stdio_server

    async def serve() -> None:
        lowlevel = getattr(server, "_lowlevel_server", server)
        async with stdio_server() as (read, write):
            await lowlevel.run(read, write, lowlevel.create_initialization_options())

    anyio.run(serve)
    os._exit(0)


def command(*extra: str) -> tuple[str, list[str]]:
    """(command, args) that run this server over stdio."""
    return sys.executable, [str(Path(__file__).resolve()), *extra]


if __name__ == "__main__":
    main()
