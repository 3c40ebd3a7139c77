"""The tool table: every source's tools filtered, named, compiled and ready to declare and route."""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pydantic
from google.genai import types

from ..events import FunctionCall
from .base import DiscoveredTool, ToolBackend
from .json_trim import cut_size
from .names import NameRequest, assign_names
from .policy import DEFAULT_POLICY, ToolPolicy
from .printable import printable
from .schema import CompiledSchema, compile_schema
from .text_cut import cut_text

logger = logging.getLogger(__name__)

DESCRIPTION_LIMIT = 1024  # long MCP descriptions cost setup size and the model's attention
TRIM_MARKER = "… [trimmed]"
DEFAULT_TIMEOUT = 60.0

OK, LOSSY, LEFT_OUT = "ok", "lossy", "left out"


@dataclass(frozen=True)
class ToolSource:
    """One MCP server or Python module, as the catalog needs it."""

    name: str
    tools: Sequence[DiscoveredTool]
    backend: ToolBackend
    prefix: str | None = None  # None: the source's name; "": no prefix (if nothing collides)
    timeout: float = DEFAULT_TIMEOUT  # seconds per call; <= 0 means none
    include: Sequence[str] = ()  # glob patterns on the tool's own name; empty: all
    exclude: Sequence[str] = ()
    policy: Callable[[DiscoveredTool], ToolPolicy] | None = None  # how each tool runs (agent/tools/policy.py)


@dataclass(frozen=True)
class ToolEntry:
    """One declared function and everything the router needs to run it."""

    declared_name: str
    tool: DiscoveredTool
    schema: CompiledSchema
    backend: ToolBackend = field(repr=False)
    timeout: float
    description: str
    declaration: types.FunctionDeclaration = field(repr=False, compare=False)
    policy: ToolPolicy = field(default=DEFAULT_POLICY, compare=False)  # behaviour, scheduling, confirmation

    @property
    def source(self) -> str:
        return self.tool.source

    @property
    def name(self) -> str:
        return self.tool.name


@dataclass(frozen=True)
class ReportRow:
    """One line of the `gemini-live tools` table."""

    server: str
    tool: str
    declared_name: str  # "" when left out
    status: str  # "ok" | "lossy" | "left out"
    detail: str = ""  # what was lost, or why it was left out, or how a collision was resolved


class Catalog:
    """Declared name -> ToolEntry, plus the report of how the table was built."""

    def __init__(self, entries: Sequence[ToolEntry], rows: Sequence[ReportRow], notes: Sequence[str]) -> None:
        self._entries = {e.declared_name: e for e in entries}
        self.rows = tuple(rows)
        self.notes = tuple(notes)

    def get(self, declared_name: str) -> ToolEntry | None:
        """The entry for a function name the model called, or None."""
        return self._entries.get(declared_name)

    @property
    def names(self) -> list[str]:
        return list(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[ToolEntry]:
        return iter(self._entries.values())

    def function_declarations(self) -> list[types.FunctionDeclaration]:
        """The declarations for LiveConnectConfig.tools (with `parameters`, not JSON Schema)."""
        return [e.declaration for e in self._entries.values()]

    def declarations_json(self) -> list[dict[str, Any]]:
        """The declarations exactly as the setup message carries them."""
        return [d.model_dump(mode="json", exclude_none=True) for d in self.function_declarations()]

    def replace(self, other: Catalog) -> None:
        """Take `other`'s tools in place: whoever holds this object (router, setup) sees the new ones."""
        self._entries, self.rows, self.notes = dict(other._entries), other.rows, other.notes

    def resolve(self, call: FunctionCall) -> tuple[FunctionCall, ToolEntry | None]:
        """The call to run and its entry; a catalog with find_tools/call_tool maps call_tool to the tool it names."""
        return call, self.get(call.name)


def build_catalog(sources: Sequence[ToolSource], *, description_limit: int = DESCRIPTION_LIMIT) -> Catalog:
    """Filter, name, compile and declare every source's tools; never raises for a bad tool."""
    rows: list[ReportRow | None] = []
    kept: list[tuple[int, ToolSource, DiscoveredTool]] = []
    for source in sources:
        seen: set[str] = set()
        for tool in source.tools:
            why = _left_out(source, tool, seen)
            seen.add(tool.name)
            if why:
                rows.append(ReportRow(source.name, tool.name, "", LEFT_OUT, why))
                continue
            kept.append((len(rows), source, tool))
            rows.append(None)  # filled once names are known, keeping the listing order
    requests = [NameRequest(s.name, s.name if s.prefix is None else s.prefix, t.name) for _, s, t in kept]
    names, name_notes = assign_names(requests)
    notes = [f"{s.name}/{t.name}: {n}" for (_, s, t), n in zip(kept, name_notes, strict=True) if n]
    entries: list[ToolEntry] = []
    for (row, source, tool), name, note in zip(kept, names, name_notes, strict=True):
        compiled = compile_schema(tool.input_schema)
        given = tool.description or _title(tool)
        description = trim(given, description_limit)
        policy = source.policy(tool) if source.policy is not None else DEFAULT_POLICY
        try:
            declaration = types.FunctionDeclaration(
                name=name,
                description=description or None,
                parameters=types.Schema.model_validate(compiled.parameters) if compiled.parameters else None,
                behavior=policy.declared,
            )
        except pydantic.ValidationError as exc:  # a compiler bug must not take the other tools down
            logger.error("declaration of %s/%s rejected by the SDK: %s", source.name, tool.name, exc)
            rows[row] = ReportRow(source.name, tool.name, "", LEFT_OUT, f"declaration rejected by the SDK: {exc}")
            continue
        entries.append(ToolEntry(name, tool, compiled, source.backend, source.timeout, description, declaration, policy))
        details = list(compiled.losses)
        given_size = cut_size(given) or len(given.strip())  # cut_size: the stdio reader cut it already
        if given_size > description_limit:
            details.insert(0, f"description of {given_size:,} characters cut to {description_limit:,} ({cut_where(description)}; "
                              "max_description_chars keeps more)")
        if note:
            details.insert(0, note)
        status = LOSSY if compiled.lossy or len(details) > (1 if note else 0) else OK
        rows[row] = ReportRow(source.name, tool.name, name, status, "; ".join(details))
    return Catalog(entries, [r for r in rows if r is not None], notes)


def trim(text: str, limit: int = DESCRIPTION_LIMIT) -> str:
    """`text` cut to `limit` characters with a visible marker, without control characters."""
    text = printable(text.strip())
    if len(text) <= limit:
        return text
    return cut_text(text, limit, TRIM_MARKER)


def cut_where(description: str) -> str:
    """Where a cut description ends, for the report: after a sentence, or (no sentence fitted) a word."""
    kept = description.removesuffix(TRIM_MARKER).rstrip()
    return "at the end of a sentence" if kept.endswith((".", "!", "?", ":")) else "at the end of a word"


def _left_out(source: ToolSource, tool: DiscoveredTool, seen: set[str]) -> str:
    if tool.name in seen:
        return "duplicate tool name from the same server"
    for pattern in source.exclude:
        if fnmatch.fnmatchcase(tool.name, pattern):
            return f"excluded by pattern {pattern!r}"
    if source.include and not any(fnmatch.fnmatchcase(tool.name, p) for p in source.include):
        return "not matched by the include patterns"
    return ""


def _title(tool: DiscoveredTool) -> str:
    title = (tool.annotations or {}).get("title")
    return title if isinstance(title, str) else ""
