"""Map the arguments the model sends for a compiled schema back to the tool's original form.

The compiler (schema.py) changes a few things the model sees: property names Gemini rejects are
renamed, non-string enum values become strings, maps become lists of {key, value} entries and
"any value" schemas become JSON text. Each change leaves a restorer here; restorers are tolerant:
a value that does not have the expected shape passes through untouched, so the tool's own
validation (the router's jsonschema check) reports it instead of us guessing.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

PARAM_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
_BAD_PARAM_CHARS = re.compile(r"[^A-Za-z0-9_]")


class Restorer:
    """Identity; subclasses undo one change the compiler made."""

    __slots__ = ()

    def accepts(self, value: Any) -> bool:
        return False

    def score(self, value: Any) -> int:
        return 0

    def restore(self, value: Any) -> Any:
        return value


class ObjectRestorer(Restorer):
    """Renames declared property names back and restores each property's value."""

    __slots__ = ("fields",)

    def __init__(self, fields: dict[str, tuple[str, Restorer | None]]) -> None:
        self.fields = fields  # declared name -> (original name, restorer or None)

    def accepts(self, value: Any) -> bool:
        return isinstance(value, dict)

    def score(self, value: Any) -> int:
        return sum(1 for k in value if k in self.fields) + 1

    def restore(self, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        out: dict[str, Any] = {}
        for key, item in value.items():
            field = self.fields.get(key)
            if field is None:
                out[key] = item
            else:
                original, restorer = field
                out[original] = restorer.restore(item) if restorer is not None else item
        return out


class ArrayRestorer(Restorer):
    """Restores every item of a list."""

    __slots__ = ("item",)

    def __init__(self, item: Restorer) -> None:
        self.item = item

    def accepts(self, value: Any) -> bool:
        return isinstance(value, list)

    def restore(self, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        return [self.item.restore(v) for v in value]


class EnumRestorer(Restorer):
    """Maps the string form of a non-string enum/const value back to the value ("1" -> 1)."""

    __slots__ = ("mapping",)

    def __init__(self, mapping: dict[str, Any]) -> None:
        self.mapping = mapping

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and value in self.mapping

    def score(self, value: Any) -> int:
        return 2  # an exact enum hit beats a JSON-text guess in a union

    def restore(self, value: Any) -> Any:
        if isinstance(value, str) and value in self.mapping:
            return self.mapping[value]
        return value


class JsonTextRestorer(Restorer):
    """Decodes a value the model was asked to write as JSON text; keeps the text if it isn't."""

    __slots__ = ("kind",)

    def __init__(self, kind: type | None = None) -> None:
        self.kind = kind  # dict/list: only accept a decoded value of that type

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str)

    def restore(self, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            decoded = json.loads(value)
        except ValueError:
            return value
        if self.kind is not None and not isinstance(decoded, self.kind):
            return value
        return decoded


class EntriesRestorer(Restorer):
    """Turns a list of {key, value} entries back into a map."""

    __slots__ = ("value",)

    def __init__(self, value: Restorer | None) -> None:
        self.value = value

    def accepts(self, value: Any) -> bool:
        return isinstance(value, (list, dict))

    def restore(self, value: Any) -> Any:
        vr = self.value
        if isinstance(value, dict):  # the model sent a map anyway: fine
            return {k: vr.restore(v) for k, v in value.items()} if vr else value
        if not isinstance(value, list):
            return value
        if not all(isinstance(e, dict) and "key" in e for e in value):
            return value
        out: dict[str, Any] = {}
        for entry in value:
            item = entry.get("value")
            out[str(entry["key"])] = vr.restore(item) if vr is not None else item
        return out


class UnionRestorer(Restorer):
    """For anyOf: restores with the alternative that fits the value best."""

    __slots__ = ("options",)

    def __init__(self, options: list[Restorer]) -> None:
        self.options = options

    def accepts(self, value: Any) -> bool:
        return any(r.accepts(value) for r in self.options)

    def score(self, value: Any) -> int:
        return max((r.score(value) for r in self.options if r.accepts(value)), default=0)

    def restore(self, value: Any) -> Any:
        best, best_score = None, -1
        for r in self.options:
            if r.accepts(value):
                s = r.score(value)
                if s > best_score:
                    best, best_score = r, s
        return best.restore(value) if best is not None else value


class UnwrapRestorer(Restorer):
    """Root wrapped in one property: the tool gets that property's (restored) value as its args."""

    __slots__ = ("key", "inner")

    def __init__(self, key: str, inner: Restorer | None) -> None:
        self.key, self.inner = key, inner

    def accepts(self, value: Any) -> bool:
        return isinstance(value, dict)

    def restore(self, value: Any) -> Any:
        if not isinstance(value, dict) or self.key not in value:
            return value
        inner = value[self.key]
        if self.inner is not None:
            inner = self.inner.restore(inner)
        return inner if isinstance(inner, dict) else value


def param_names(names: list[str]) -> dict[str, str]:
    """Map each property name to one Gemini accepts; valid names keep theirs, the rest are unique."""
    if all(PARAM_NAME_RE.match(n) for n in names):
        return {n: n for n in names}
    out = {n: n for n in names if PARAM_NAME_RE.match(n)}
    used = set(out)
    for name in names:
        if name in out:
            continue
        base = _BAD_PARAM_CHARS.sub("_", name)
        if not base or not (base[0].isalpha() or base[0] == "_") or not base[0].isascii():
            base = "_" + base
        if len(base) > 64:
            base = base[:55] + "_" + _short_hash(name)
        candidate, n = base, 2
        while candidate in used:  # deterministic: order of the schema's properties
            suffix = f"_{n}"
            candidate = base[: 64 - len(suffix)] + suffix
            n += 1
        used.add(candidate)
        out[name] = candidate
    return out


def _short_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
