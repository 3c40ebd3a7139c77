"""`gemini-live tools`: connect every configured source, print what the model would see, exit."""

from __future__ import annotations

import json
import sys

import anyio

from agent.config import Config
from agent.tools.catalog import Catalog
from agent.tools.toolset import ToolSet


def format_table(catalog: Catalog, failures: dict[str, str], required: set[str]) -> str:
    rows = [("SERVER", "TOOL", "DECLARED AS", "STATUS")]
    for r in catalog.rows:
        status = r.status if not r.detail else f"{r.status}: {r.detail}"
        rows.append((r.server, r.tool, r.declared_name or "-", status))
    for name, why in sorted(failures.items()):
        label = "failed to start (required)" if name in required else "failed to start"
        rows.append((name, "*", "-", f"left out: {label}: {why}"))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join(cell.ljust(widths[i]) if i < 3 else cell for i, cell in enumerate(row)).rstrip() for row in rows]
    lines += [f"note: {n}" for n in catalog.notes]
    lines.append(f"{len(catalog)} tools declared")
    return "\n".join(lines)


async def list_tools(config: Config, as_json: bool) -> int:
    """Print the table (or the declarations as JSON); exit 1 if a required server failed."""
    required = {c.name for c in config.mcp_servers.values() if c.required and c.enabled}
    # Listing shows every failure instead of stopping at the first required one.
    servers = [c.model_copy(update={"required": False}) for c in config.mcp_servers.values()]
    toolset = ToolSet(config, servers=servers)
    async with anyio.create_task_group() as tg:
        catalog = await tg.start(toolset.run)
        tg.cancel_scope.cancel()
    if as_json:
        print(json.dumps(catalog.declarations_json(), indent=2, ensure_ascii=False))
    else:
        print(format_table(catalog, toolset.failures, required))
    for name, why in sorted(toolset.failures.items()):
        print(f"gemini-live: MCP server {name} failed to start: {why}", file=sys.stderr)
    return 1 if required & set(toolset.failures) else 0
