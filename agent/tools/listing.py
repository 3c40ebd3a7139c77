"""`gemini-live tools`: connect every configured source, print what the model would see, exit."""

from __future__ import annotations

import json
import re

import anyio

from agent.config import Config
from agent.tools.catalog import Catalog
from agent.tools.policy import check as check_policies
from agent.tools.policy import describe as describe_policy
from agent.tools.printable import printable
from agent.tools.surface import ToolSurface
from agent.tools.toolset import ToolSet

# What a JSON dump with ensure_ascii=False leaves raw that a terminal acts on: DEL, C1, bidi controls.
_RAW_CONTROLS = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
MAX_CELL = 200  # characters of a tool name shown in the table


def format_table(catalog: Catalog, failures: dict[str, str], required: set[str]) -> str:
    """The `gemini-live tools` table; everything a server supplied is made printable. Past the
    declaration budget a REACHED column says which tools are declared (pinned, promoted) and
    which the model reaches through find_tools."""
    surface = catalog if isinstance(catalog, ToolSurface) and catalog.overflow else None
    rows = [("SERVER", "TOOL", "DECLARED AS", *(("REACHED",) if surface else ()), "STATUS")]
    for r in catalog.rows:
        status = r.status if not r.detail else f"{r.status}: {r.detail}"
        entry = catalog.get(r.declared_name) if r.declared_name else None
        if entry is not None:  # how it runs: blocking or not, its answer's scheduling, whether it asks first
            status = f"{describe_policy(entry.policy)}; {status}"
        reached = (surface.reach(r.declared_name) or "-",) if surface else ()
        rows.append((_cell(r.server), _cell(r.tool), r.declared_name or "-", *reached, printable(status, one_line=True)))
    for name, why in sorted(failures.items()):
        label = "failed to start (required)" if name in required else "failed to start"
        rows.append((_cell(name), "*", "-", *(("-",) if surface else ()), f"left out: {label}: {printable(why)}"))
    last = len(rows[0]) - 1
    widths = [max(len(row[i]) for row in rows) for i in range(last)]
    lines = ["  ".join(cell.ljust(widths[i]) if i < last else cell for i, cell in enumerate(row)).rstrip() for row in rows]
    lines += [f"note: {printable(n, one_line=True)}" for n in catalog.notes]
    lines.append(summary(catalog))
    return "\n".join(lines)


def summary(catalog: Catalog) -> str:
    """`N tools declared`, or past the budget how many are declared and how many found."""
    if not (isinstance(catalog, ToolSurface) and catalog.overflow):
        return f"{len(catalog)} tools declared"
    direct = catalog.declared_count - 2
    cut = f"; pinned but over the budget: {len(catalog.over_budget_pins)}" if catalog.over_budget_pins else ""
    return (f"{len(catalog)} tools: {direct} declared directly, {len(catalog) - direct} reached through find_tools + call_tool "
            f"({catalog.declared_count} declarations, {catalog.setup_bytes() / 1024:.1f} KB; max_declared_tools "
            f"{catalog.budget.max_tools}, max_declarations_kb {catalog.budget.max_bytes / 1024:g}){cut}")


async def list_tools(config: Config, as_json: bool) -> int:
    """Print the table (or the declarations as JSON); exit 2 if a required server failed, as a run does."""
    required = {c.name for c in config.mcp_servers.values() if c.required and c.enabled}
    # Listing shows every failure instead of stopping at the first required one.
    servers = [c.model_copy(update={"required": False}) for c in config.mcp_servers.values()]
    toolset = ToolSet(config, servers=servers)
    async with anyio.create_task_group() as tg:
        catalog = await tg.start(toolset.run)
        tg.cancel_scope.cancel()
    if as_json:
        print(json_for_terminal(catalog.declarations_json()))
    else:
        print(format_table(catalog, toolset.failures, required))
    check_policies(entry.policy for entry in catalog)  # a behaviour the model cannot run: exit 2, as a run does
    return 2 if required & set(toolset.failures) else 0  # as a run would: a problem you can fix


def json_for_terminal(value: object) -> str:
    """Indented JSON, readable (non-ASCII kept) but with every control character escaped."""
    text = json.dumps(value, indent=2, ensure_ascii=False)  # C0 controls are escaped already
    return _RAW_CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _cell(text: str) -> str:
    text = printable(text, one_line=True)
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"
