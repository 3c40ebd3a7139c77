"""An MCP server that logs (issue 11, item 4), built on mcp's lowlevel Server.

Tools: say(level, text, logger) sends a `notifications/message` during the call; level() answers the
level the client set with `logging/setLevel` ("unset" before). With `declares_logging` (the
stdio flavour "chatty") it handles `logging/setLevel`, so it declares the logging capability, and
drops messages below the level set, as a well-behaved server does; without it, it neither declares
the capability nor filters, and the client has to.
"""

from __future__ import annotations

import warnings
from typing import Any

import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPDeprecationWarning

LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")

TOOLS = [
    types.Tool(
        name="say",
        description="Send a log message.",
        input_schema={
            "type": "object",
            "properties": {"level": {"type": "string", "enum": list(LEVELS)}, "text": {"type": "string"},
                           "logger": {"type": "string"}},
            "required": ["level", "text"],
        },
    ),
    types.Tool(name="level", description="The log level the client set.", input_schema={"type": "object", "properties": {}}),
]


def chatty_server(declares_logging: bool = True) -> Server[Any]:
    level: dict[str, str] = {}  # what logging/setLevel asked for

    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=TOOLS)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        args = params.arguments or {}
        if params.name == "level":
            text = level.get("set", "unset")
        else:
            said = str(args.get("level", "info"))
            if declares_logging and LEVELS.index(said) < LEVELS.index(level.get("set", "debug")):
                text = "not said"
            else:
                with warnings.catch_warnings():  # deprecated as of 2026-07-28; still what 2025 clients get
                    warnings.simplefilter("ignore", MCPDeprecationWarning)
                    await ctx.session.send_log_message(said, args.get("text", ""), args.get("logger"), ctx.request_id)
                text = "said"
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)])

    server = Server("chatty", on_list_tools=list_tools, on_call_tool=call_tool)
    if declares_logging:

        async def set_level(ctx: Any, params: types.SetLevelRequestParams) -> types.EmptyResult:
            level["set"] = params.level
            return types.EmptyResult()

        server.add_request_handler("logging/setLevel", types.SetLevelRequestParams, set_level)
    return server
