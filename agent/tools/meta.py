"""`find_tools` and `call_tool`: how the model reaches tools that are not declared to it.

When a catalog is bigger than a Live session should carry, the setup declares the pinned tools
and these two. `find_tools(query, limit)` answers with the best matches (the declared `name` to
use, the description and the compiled `parameters`); `call_tool(name, arguments)` is resolved by
the catalog into a call of that tool before the router does anything else, so it is validated,
restored, confirmed, timed and answered exactly as a direct call would be (ToolSurface.resolve).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from google.genai import types

from .base import DiscoveredTool
from .catalog import ToolEntry
from .schema import compile_schema

FIND_TOOLS, CALL_TOOL = "find_tools", "call_tool"
META_SOURCE = "gemini-live"
MAX_LIMIT = 20
FIND_TIMEOUT = 10.0

FIND_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "description": "What you want to do, in a few words (e.g. 'list open merge requests')."},
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 5, "description": "How many tools to return (default 5)."},
    },
    "required": ["query"],
}
CALL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "The tool's name exactly as find_tools returned it."},
        "arguments": {"type": "object", "description": "The tool's arguments, as its `parameters` from find_tools describe them."},
    },
    "required": ["name"],
}


def find_description(tools: int) -> str:
    return (f"Find tools for a task among the {tools:,} tools available (most are not declared here). Describe the task in a few "
            "words; returns the best matches, each with the `name` to pass to call_tool, its description and its parameters.")


CALL_DESCRIPTION = "Run a tool found with find_tools: its `name` as find_tools gave it, and its `arguments`."


class MetaBackend:
    """Runs find_tools (a search of the catalog); call_tool never gets here unless its arguments were unusable."""

    def __init__(self, find: Callable[[str, int], Awaitable[list[dict[str, Any]]]]) -> None:
        self._find = find

    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        if tool == FIND_TOOLS:
            query = arguments.get("query")
            limit = arguments.get("limit", 5)
            if not isinstance(query, str) or not query.strip():
                return {"error": "find_tools needs a `query`: the task, in a few words"}
            limit = limit if isinstance(limit, int) and not isinstance(limit, bool) else 5
            found = await self._find(query, max(1, min(MAX_LIMIT, limit)))
            if not found:
                return {"output": {"tools": [], "note": "no tool matches those words; try other words for the task"}}
            return {"output": {"tools": found}}
        return {"error": f"call_tool needs the `name` of a tool that find_tools returned, and its `arguments` as an object (got {tool!r})"}


def meta_entry(name: str, description: str, schema: dict[str, Any], backend: MetaBackend) -> ToolEntry:
    """A ToolEntry for one of the two functions, compiled like any tool's."""
    compiled = compile_schema(schema)
    declaration = types.FunctionDeclaration(
        name=name, description=description, parameters=types.Schema.model_validate(compiled.parameters),
    )
    tool = DiscoveredTool(source=META_SOURCE, name=name, description=description, input_schema=schema)
    return ToolEntry(name, tool, compiled, backend, FIND_TIMEOUT, description, declaration)


def found_tool(entry: ToolEntry) -> dict[str, Any]:
    """One find_tools match as the model reads it."""
    out: dict[str, Any] = {"name": entry.declared_name, "description": entry.description}
    out["parameters"] = entry.schema.parameters or {"type": "OBJECT", "properties": {}}
    return out
