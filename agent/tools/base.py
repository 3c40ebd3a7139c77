"""What every tool source (MCP server, Python module) hands the router."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class DiscoveredTool:
    """A tool as its source describes it, before any compiling or renaming."""

    source: str  # the MCP server's config name, or the Python module's name
    name: str  # the tool's own name, used for routing
    description: str = ""
    input_schema: dict[str, Any] = field(default_factory=dict)  # the original JSON Schema
    annotations: dict[str, Any] | None = None


class ToolBackend(Protocol):
    """Something that can run a source's tools.

    `call` returns the API's convention, {"output": ...} on success or {"error": "..."} on any
    failure; it raises only when cancelled (and then tells the tool, where it can).
    """

    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]: ...
