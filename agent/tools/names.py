"""Declared function names: `<prefix>__<tool>`, sanitised to Gemini's rules and unique.

The declared name is only what the model sees; routing always uses the original server and tool
name, so every rewrite here is safe as long as it is deterministic and unique.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from typing import NamedTuple

logger = logging.getLogger(__name__)

MAX_NAME = 64  # the SDK allows 128; the docs and most clients keep to 64
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,63}\Z")
SEPARATOR = "__"
_BAD = re.compile(r"[^A-Za-z0-9_.:-]")


class NameRequest(NamedTuple):
    """One tool that needs a declared name."""

    source: str
    prefix: str  # "" for no prefix
    tool: str


def sanitize_name(raw: str) -> str:
    """Make `raw` a valid Gemini function name (deterministic; long names get a hash suffix)."""
    name = _BAD.sub("_", raw)
    if not name or not (name[0].isascii() and (name[0].isalpha() or name[0] == "_")):
        name = "_" + name
    if len(name) > MAX_NAME:
        name = name[: MAX_NAME - 9] + "_" + _hash(raw, 8)
    return name


def declared_name(prefix: str, tool: str) -> str:
    """`<prefix>__<tool>` (just the tool when the prefix is empty), sanitised."""
    return sanitize_name(f"{prefix}{SEPARATOR}{tool}" if prefix else tool)


def assign_names(requests: Sequence[NameRequest]) -> tuple[list[str], list[str]]:
    """Declared names for `requests`, unique, and per request a note on how a collision was resolved."""
    notes = [""] * len(requests)
    names = [declared_name(r.prefix, r.tool) for r in requests]
    # An empty prefix only stands when it collides with no other source's tool; else use the
    # source's name (within one source a prefix would not help: the suffix rule below does).
    groups = _groups(names)
    for i, r in enumerate(requests):
        if not r.prefix and any(requests[j].source != r.source for j in groups[names[i]]):
            fallback = declared_name(r.source, r.tool)
            others = ", ".join(_who(requests[j]) for j in groups[names[i]] if requests[j].source != r.source)
            notes[i] = f"{names[i]!r} (no prefix) collides with {others}; declared as {fallback!r}"
            names[i] = fallback
    taken = set(names)
    for name, members in _groups(names).items():
        if len(members) < 2:
            continue
        # The member whose name needed no sanitising keeps it (list_databases beats
        # list-databases); ties go to the earlier source, so the result is stable.
        keep = min(members, key=lambda j: (_raw(requests[j]) != name, j))
        for j in members:
            if j == keep:
                continue
            salt, new = 0, ""
            while not new or new in taken:
                new = _suffixed(name, f"{requests[j].source}\0{requests[j].tool}\0{salt}")
                salt += 1
            taken.add(new)
            note = f"name collision on {name!r} with {_who(requests[keep])}; declared as {new!r}"
            notes[j] = f"{notes[j]}; {note}" if notes[j] else note
            names[j] = new
    for r, note in zip(requests, notes, strict=True):
        if note:
            logger.info("tool name of %s: %s", _who(r), note)
    return names, notes


def _groups(names: list[str]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for i, n in enumerate(names):
        groups.setdefault(n, []).append(i)
    return groups


def _raw(r: NameRequest) -> str:
    return f"{r.prefix}{SEPARATOR}{r.tool}" if r.prefix else r.tool


def _who(r: NameRequest) -> str:
    return f"{r.source}/{r.tool}"


def _suffixed(name: str, key: str) -> str:
    suffix = "_" + _hash(key, 6)
    return name[: MAX_NAME - len(suffix)] + suffix


def _hash(text: str, n: int) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:n]
