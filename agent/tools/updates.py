"""Tools that change during a session: rebuild the catalog, say what changed, tell the model.

Every MCP server calls `wanted()` after each tools/list (its first, a `notifications/tools/
list_changed`, a restart of a stdio server, a remote server's recovery, a late server that became
ready). `CatalogUpdates.run` then rebuilds the catalog from every ready source, swaps it into the
ToolSurface that the router and the setup builder hold (calls already running keep the entry they
started with), and hands a `ToolChange` to its listener when anything changed: the app shows it
("tools: +secret −old"), records it, and asks the session to send the new declarations at the
next interaction boundary (`declarations_changed`; past the budget a new tool may only join
find_tools, and then the declarations stay as they were).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.abc

from .catalog import Catalog
from .printable import printable
from .surface import ToolSurface

logger = logging.getLogger(__name__)

SHOWN_NAMES = 12  # names in the one-line summary; the rest are counted


@dataclass(frozen=True)
class ToolChange:
    """What one rebuild changed, by declared name."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()  # same name, another declaration (description or parameters)
    declarations_changed: bool = False  # what the setup declares is different: the model must be told

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.declarations_changed)

    def text(self) -> str:
        """`tools: +secret −old ~edited`, bounded and printable (names come from servers)."""
        marks = [f"+{n}" for n in self.added] + [f"−{n}" for n in self.removed] + [f"~{n}" for n in self.changed]
        shown = " ".join(printable(m, one_line=True)[:80] for m in marks[:SHOWN_NAMES])
        more = f" (+{len(marks) - SHOWN_NAMES} more)" if len(marks) > SHOWN_NAMES else ""
        return f"tools: {shown}{more}" if marks else "tools: the declarations changed"

    def record(self) -> dict[str, Any]:
        return {"added": list(self.added), "removed": list(self.removed), "changed": list(self.changed),
                "declarations_changed": self.declarations_changed}


def _fingerprints(catalog: Catalog) -> dict[str, str]:
    """Declared name -> its declaration and routing identity, as text to compare."""
    return {e.declared_name: json.dumps([e.source, e.name, e.declaration.model_dump(mode="json", exclude_none=True)], sort_keys=True)
            for e in catalog}


def _declared(surface: Catalog) -> str:
    return json.dumps(surface.declarations_json(), sort_keys=True)


def diff(before: dict[str, str], after: dict[str, str], declarations_changed: bool) -> ToolChange:
    return ToolChange(
        added=tuple(n for n in after if n not in before),
        removed=tuple(n for n in before if n not in after),
        changed=tuple(n for n in after if n in before and before[n] != after[n]),
        declarations_changed=declarations_changed,
    )


class CatalogUpdates:
    """Rebuilds `surface` from `build()` whenever a source's tools were listed again."""

    def __init__(self, surface: ToolSurface, build: Callable[[], Catalog], on_change: Callable[[ToolChange], None] | None = None) -> None:
        self.surface = surface
        self.build = build
        self.on_change: Callable[[ToolChange], None] = on_change or (lambda change: None)
        self.updates = 0
        self._wanted = anyio.Event()

    def wanted(self) -> None:
        """A source listed its tools (again): rebuild soon. Never blocks; many calls make one rebuild."""
        self._wanted.set()

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            await self._wanted.wait()
            self._wanted = anyio.Event()
            await anyio.sleep(0)  # let listings that arrive in the same moment join this rebuild
            try:
                self.apply()
            except Exception:  # loop top: a failed rebuild keeps the tools the session has
                logger.exception("rebuilding the tool catalog failed; the previous tools stay")

    def apply(self) -> ToolChange:
        """Rebuild now; the change (possibly empty) is returned and, if not empty, reported."""
        before, declared_before = _fingerprints(self.surface), _declared(self.surface)
        self.surface.replace(self.build())
        change = diff(before, _fingerprints(self.surface), _declared(self.surface) != declared_before)
        if change:
            self.updates += 1
            logger.info("%s", change.text())
            self.on_change(change)
        return change
