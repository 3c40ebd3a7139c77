"""What the model is given of a catalog: every tool declared, or, past the budget, the pinned ones
plus find_tools and call_tool.

A Live session should not carry hundreds of declarations (512 at most per tool, 131k input
tokens on 3.8, and a crowded tool list degrades the model), so when the catalog has more than
`max_declared_tools` tools or its declarations exceed `max_declarations_kb`, the setup declares
the tools matched by `pin` patterns (within the budget), and `find_tools` / `call_tool` reach
the rest. On models that take contextUpdate, a tool the model called through call_tool is
promoted to a direct declaration within the budget; the least recently used promoted tool
leaves first. `ToolSurface` is the one object the router and the setup builder hold: a catalog
update (`replace`) or a promotion changes it in place.
"""

from __future__ import annotations

import fnmatch
import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
from google.genai import types

from ..events import FunctionCall
from ..profiles import profile_for
from .catalog import Catalog, ToolEntry
from .meta import CALL_DESCRIPTION, CALL_SCHEMA, CALL_TOOL, FIND_SCHEMA, FIND_TOOLS, MetaBackend, find_description, found_tool, meta_entry
from .search import ToolIndex

logger = logging.getLogger(__name__)

DIRECT, PINNED, PROMOTED, FOUND = "direct", "pinned", "promoted", "find_tools"


@dataclass(frozen=True)
class Budget:
    """How much of the catalog the setup may declare, and what is always declared."""

    max_tools: int = 64
    max_bytes: int = 60 * 1024
    pins: Sequence[str] = ()  # glob patterns on declared names or "server/tool"
    server_pins: Mapping[str, Sequence[str]] = field(default_factory=dict)  # server -> patterns on its tool names
    promote: bool = False  # the model takes contextUpdate: found tools may become declarations mid-session

    @classmethod
    def from_config(cls, config: Any) -> Budget:
        """The config's budget and pins; promotion where the model's profile takes contextUpdate."""
        overrides = config.model_profile.fields_set() if config.model_profile else None
        promote = profile_for(config.model, overrides)[0].context_update
        servers = {name: tuple(cfg.pin) for name, cfg in config.mcp_servers.items() if cfg.pin}
        return cls(config.max_declared_tools, int(config.max_declarations_kb * 1024), tuple(config.pin), servers, promote)

    def pinned(self, entry: ToolEntry) -> bool:
        names = (entry.declared_name, f"{entry.source}/{entry.name}")
        if any(fnmatch.fnmatchcase(n, p) for p in self.pins for n in names):
            return True
        return any(fnmatch.fnmatchcase(entry.name, p) for p in self.server_pins.get(entry.source, ()))


def declaration_size(declaration: types.FunctionDeclaration) -> int:
    """Bytes of one declaration in the setup message (compact JSON, as sent)."""
    return len(json.dumps(declaration.model_dump(mode="json", exclude_none=True), separators=(",", ":")).encode())


class ToolSurface(Catalog):
    """A catalog that declares what fits and reaches the rest through find_tools / call_tool."""

    def __init__(self, catalog: Catalog, budget: Budget | None = None) -> None:
        super().__init__((), (), ())
        self.budget = budget or Budget()
        # Called (names promoted, names that left) when a promotion changed the declarations.
        self.on_promoted: Callable[[list[str], list[str]], None] = lambda added, left: None
        self.overflow = False
        self.over_budget_pins: list[str] = []  # pinned tools the budget had no room for
        self._declared: list[str] = []
        self._reach: dict[str, str] = {}
        self._sizes: dict[str, tuple[types.FunctionDeclaration, int]] = {}  # declared name -> (declaration, bytes)
        self._promoted: OrderedDict[str, None] = OrderedDict()  # least recently used first
        self._index: ToolIndex | None = None
        self._building: anyio.Lock | None = None
        self._backend = MetaBackend(self.find)
        self._meta = {
            FIND_TOOLS: meta_entry(FIND_TOOLS, find_description(0), FIND_SCHEMA, self._backend),
            CALL_TOOL: meta_entry(CALL_TOOL, CALL_DESCRIPTION, CALL_SCHEMA, self._backend),
        }
        self.replace(catalog)

    # ---- Catalog -------------------------------------------------------------------------

    def replace(self, other: Catalog) -> None:
        super().replace(other)
        self._index = None
        self._sizes = {e.declared_name: (e.declaration, self._size(e)) for e in self._entries.values()}
        for name in [n for n in self._promoted if n not in self._entries]:
            del self._promoted[name]
        self._plan()

    def get(self, declared_name: str) -> ToolEntry | None:
        if self.overflow and declared_name in self._meta:
            return self._meta[declared_name]
        return super().get(declared_name)

    @property
    def names(self) -> list[str]:
        """The declared names (what an unknown-function answer suggests)."""
        return [*self._declared, *(self._meta if self.overflow else ())]

    def function_declarations(self) -> list[types.FunctionDeclaration]:
        declared = [self._entries[n].declaration for n in self._declared]
        return declared + [m.declaration for m in self._meta.values()] if self.overflow else declared

    def resolve(self, call: FunctionCall) -> tuple[FunctionCall, ToolEntry | None]:
        """call_tool(name, arguments) becomes a call of that tool, with the same id."""
        if not (self.overflow and call.name == CALL_TOOL):
            entry = self.get(call.name)
            if call.name in self._promoted:
                self._promoted.move_to_end(call.name)
            return call, entry
        meta = self._meta[CALL_TOOL]
        args = meta.schema.restore_args(call.args)
        name, arguments = args.get("name"), args.get("arguments")
        arguments = {} if arguments is None else arguments
        if not isinstance(name, str) or not name or not isinstance(arguments, dict):
            return call, meta  # the router checks it against call_tool's own schema and says what is wrong
        entry = super().get(name)
        if entry is not None:
            self._use(name)
        return FunctionCall(call.id, name, arguments), entry

    # ---- the budget ------------------------------------------------------------------------

    def reach(self, declared_name: str) -> str:
        """How the model reaches a tool: direct, pinned, promoted, or find_tools ("" if unknown)."""
        return self._reach.get(declared_name, "")

    @property
    def declared_count(self) -> int:
        return len(self.function_declarations())

    def setup_bytes(self) -> int:
        """Bytes of every function declaration the setup carries."""
        return sum(declaration_size(d) for d in self.function_declarations())

    async def find(self, query: str, limit: int) -> list[dict[str, Any]]:
        """find_tools: the best matches among every tool of the catalog. The index is built once per
        catalog, in a worker thread (~0.2 s at 1,000 tools: the event loop keeps the audio going)."""
        index = self._index
        if index is None:
            self._building = self._building or anyio.Lock()
            async with self._building:  # many find_tools calls at once build it once
                index, entries = self._index, self._entries
                if index is None:
                    index = await anyio.to_thread.run_sync(ToolIndex, list(entries.values()))
                    if self._entries is entries:  # not replaced meanwhile
                        self._index = index
        return [found_tool(e) for e in index.search(query, limit)]

    def _size(self, entry: ToolEntry) -> int:
        cached = self._sizes.get(entry.declared_name)
        return cached[1] if cached is not None and cached[0] is entry.declaration else declaration_size(entry.declaration)

    def _plan(self) -> None:
        """Decide what is declared: everything if it fits, else pinned + promoted + the two functions."""
        b = self.budget
        entries = list(self._entries.values())
        total = sum(self._size(e) for e in entries)
        self.overflow = len(entries) > b.max_tools or total > b.max_bytes
        self.over_budget_pins = []
        if not self.overflow:
            self._declared = [e.declared_name for e in entries]
            self._reach = dict.fromkeys(self._declared, DIRECT)
            self._promoted.clear()
            return
        if self._meta[FIND_TOOLS].description != find_description(len(entries)):
            self._meta[FIND_TOOLS] = meta_entry(FIND_TOOLS, find_description(len(entries)), FIND_SCHEMA, self._backend)
        tools_left = b.max_tools - len(self._meta)
        bytes_left = b.max_bytes - sum(self._size(m) for m in self._meta.values())
        reach: dict[str, str] = {}
        for e in entries:
            if b.pinned(e):
                size = self._size(e)
                if tools_left > 0 and size <= bytes_left:
                    reach[e.declared_name] = PINNED
                    tools_left, bytes_left = tools_left - 1, bytes_left - size
                else:
                    self.over_budget_pins.append(e.declared_name)
        for name in reversed(list(self._promoted)):  # most recently used first
            size = self._size(self._entries[name])
            if name not in reach and tools_left > 0 and size <= bytes_left:
                reach[name] = PROMOTED
                tools_left, bytes_left = tools_left - 1, bytes_left - size
            elif name not in reach or reach[name] != PROMOTED:
                del self._promoted[name]  # no room: it leaves (the least recently used go first)
        if self.over_budget_pins:
            logger.warning("%d pinned tools do not fit in the declaration budget and are reached through find_tools: %s",
                           len(self.over_budget_pins), ", ".join(self.over_budget_pins[:5]))
        self._declared = [e.declared_name for e in entries if e.declared_name in reach]
        self._reach = {e.declared_name: reach.get(e.declared_name, FOUND) for e in entries}

    def _use(self, name: str) -> None:
        """A tool run through call_tool: promote it (contextUpdate models), evicting the least recently used."""
        if not self.budget.promote or self._reach.get(name) in (PINNED, PROMOTED):
            if name in self._promoted:
                self._promoted.move_to_end(name)
            return
        before = set(self._declared)
        self._promoted[name] = None
        self._plan()
        after = set(self._declared)
        if after != before:
            self.on_promoted(sorted(after - before), sorted(before - after))
