"""Typed nodes for the schema compiler (strings, numbers, arrays, objects, maps).

A mixin of schema_nodes.NodeCompiler, split out for size.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from .json_trim import cut_size
from .printable import printable
from .schema_limits import Limits
from .schema_restore import (
    ArrayRestorer,
    EntriesRestorer,
    JsonTextRestorer,
    ObjectRestorer,
    Restorer,
    param_names,
)

ANNOTATIONS = frozenset({"description", "title", "default", "examples", "example", "$comment",
                         "$schema", "$id", "$anchor", "deprecated", "readOnly", "writeOnly",
                         "$defs", "definitions", "nullable", "discriminator"})
FORMATS = {"STRING": ("enum", "date-time"), "INTEGER": ("int32", "int64"), "NUMBER": ("float", "double")}
NON_RE2 = re.compile(r"\(\?<?[=!]|\\[1-9]")  # lookaround and backreferences: RE2 rejects them
_MISSING = object()


def is_trivial(s: dict[str, Any]) -> bool:
    """True for a schema that accepts any value ({} plus annotations only)."""
    return ANNOTATIONS.issuperset(s)


def num(v: Any) -> float | int | None:
    """A finite JSON number the Schema model accepts, else None."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v if abs(v) < 1e300 else None


def count(v: Any) -> int | None:
    """A non-negative integer (minLength, maxItems, ...), else None."""
    n = num(v)
    if n is None or n < 0 or (isinstance(n, float) and not n.is_integer()):
        return None
    return int(n)


def join(path: str, name: str) -> str:
    """Argument path for losses: `filters[].name`."""
    return f"{path}.{name}" if path else name


class ShapesMixin:
    """The typed builders; relies on NodeCompiler's node/any/combine/loss."""

    if TYPE_CHECKING:  # provided by NodeCompiler
        limits: Limits
        size: int

        def loss(self, path: str, msg: str) -> None: ...

        def text(self, path: str, text: str, what: str = "description") -> str: ...

        def node(self, s: Any, path: str, depth: int, refs: tuple) -> tuple[dict | None, Restorer | None]: ...

        def any(self, s: dict[str, Any], path: str = "") -> tuple[dict, Restorer]: ...

        def combine(self, s: dict, outs: list, path: str, nullable: bool, notes: list[str]) -> tuple[dict | None, Restorer | None]: ...

    # ---- scalars --------------------------------------------------------------------

    def string(self, s: dict, path: str, notes: list[str]) -> dict:
        out: dict[str, Any] = {"type": "STRING"}
        fmt = s.get("format")
        if fmt in FORMATS["STRING"] and fmt != "enum":
            out["format"] = fmt
        self.bounds(out, s, path, ("minLength", "min_length"), ("maxLength", "max_length"))
        pattern = s.get("pattern")
        if isinstance(pattern, str) and len(pattern) > self.limits.pattern:
            size = cut_size(pattern) or len(pattern)  # cut_size: the stdio reader cut it already
            self.loss(path, f"pattern of {size:,} characters not declared (at most {self.limits.pattern:,})")
        elif isinstance(pattern, str) and pattern:
            self.size += len(pattern)
            if NON_RE2.search(pattern):
                self.loss(path, "pattern uses lookaround/backreferences; kept in description only")
                notes.append(f"Pattern: {pattern}")
            else:
                out["pattern"] = pattern
        return out

    def number(self, s: dict, kind: str, path: str, notes: list[str]) -> dict:
        t = "INTEGER" if kind == "integer" else "NUMBER"
        out: dict[str, Any] = {"type": t}
        fmt = s.get("format")
        if fmt in FORMATS[t]:
            out["format"] = fmt
        lo, hi = num(s.get("minimum")), num(s.get("maximum"))
        for key, sign in (("exclusiveMinimum", 1), ("exclusiveMaximum", -1)):
            x = s.get(key)
            bound = lo if sign == 1 else hi
            if x is True and bound is not None:  # draft-04: a flag on minimum/maximum
                x = bound
            x = num(x)
            if x is None:
                continue
            cand: float | int
            if t == "INTEGER" and float(x).is_integer():
                cand = int(x) + sign  # exact for integers
            else:
                cand = x
                notes.append(f"Must be {'greater' if sign == 1 else 'less'} than {x}.")
                self.loss(path, f"{key} kept as an inclusive bound plus description")
            if sign == 1:
                lo = cand if lo is None or s.get(key) is True else max(lo, cand)
            else:
                hi = cand if hi is None or s.get(key) is True else min(hi, cand)
        if lo is not None and hi is not None and lo > hi:
            self.loss(path, f"minimum {lo} above maximum {hi}; bounds dropped")
            lo = hi = None
        if lo is not None:
            out["minimum"] = lo
        if hi is not None:
            out["maximum"] = hi
        step = num(s.get("multipleOf"))
        if step is not None:
            notes.append(f"Must be a multiple of {step}.")
            self.loss(path, "multipleOf kept in description only")
        return out

    def bounds(self, out: dict, s: dict, path: str, lo_keys: tuple[str, str], hi_keys: tuple[str, str]) -> None:
        if lo_keys[0] not in s and hi_keys[0] not in s:
            return
        lo, hi = count(s.get(lo_keys[0])), count(s.get(hi_keys[0]))
        if lo is not None and hi is not None and lo > hi:
            self.loss(path, f"{lo_keys[0]} {lo} above {hi_keys[0]} {hi}; both dropped")
            return
        if lo is not None:
            out[lo_keys[1]] = lo
        if hi is not None:
            out[hi_keys[1]] = hi


    def array(self, s: dict, path: str, depth: int, refs: tuple, notes: list[str]) -> tuple[dict, Restorer | None]:
        out: dict[str, Any] = {"type": "ARRAY"}
        ipath = path + "[]"
        items = s.get("items", _MISSING)
        prefix = s.get("prefixItems")
        max_items: int | None = None
        if isinstance(prefix, list) or isinstance(items, list):
            tup = prefix if isinstance(prefix, list) else items
            extra = items if isinstance(prefix, list) else s.get("additionalItems", _MISSING)
            outs = [self.node(sub, f"{path}[{i}]", depth + 1, refs) for i, sub in enumerate(tup)]
            names = ", ".join(o.get("type", "any").lower() if o else "nothing" for o, _ in outs)
            if extra is False:
                max_items = len(tup)
            elif extra is not _MISSING:
                outs.append(self.node(extra, ipath, depth + 1, refs))
            notes.append(f"Items in this order: {names}.")
            self.loss(path, "tuple items sent as a list of any of their types")
            item, restorer = self.combine({}, outs, ipath, False, [])
        elif items is _MISSING or items is True:
            self.loss(ipath, "array items of any type; sent as JSON text")
            item, restorer = self.any({})
        elif items is False:
            item, restorer = None, None
        else:
            item, restorer = self.node(items, ipath, depth + 1, refs)
        if item is None:  # no item is valid: only the empty list
            item, restorer, max_items = {"type": "STRING"}, None, 0
        out["items"] = item
        self.bounds(out, s, path, ("minItems", "min_items"), ("maxItems", "max_items"))
        if max_items is not None and out.get("max_items", max_items) >= max_items:
            out["max_items"] = max_items
            if out.get("min_items", 0) > max_items:
                del out["min_items"]
        if s.get("uniqueItems") is True:
            notes.append("Items must be unique.")
            self.loss(path, "uniqueItems kept in description only")
        return out, (ArrayRestorer(restorer) if restorer is not None else None)

    def object(self, s: dict, path: str, depth: int, refs: tuple, notes: list[str],
               root: bool = False) -> tuple[dict, Restorer | None]:
        props = s.get("properties")
        if not isinstance(props, dict):
            if props is not None:
                self.loss(path, "properties is not an object; ignored")
            props = {}
        if len(props) > self.limits.properties:
            props = self.fewer_properties(s, props, path)
        keys = [k if isinstance(k, str) else str(k) for k in props]
        names = param_names(keys)
        self.size += sum(map(len, names.values()))
        out_props: dict[str, dict] = {}
        fields: dict[str, tuple[str, Restorer | None]] = {}
        for key, sub in zip(keys, props.values(), strict=True):
            child, r = self.node(sub, join(path, key), depth + 1, refs)
            if child is None:
                self.loss(join(path, key), "no value is valid (false schema); property left out")
                continue
            decl = names[key]
            if decl != key:
                desc = child.get("description")
                shown = printable(key if len(key) <= 80 else key[:79] + "…", one_line=True)
                child["description"] = f"{desc} (Original name: {shown}.)" if desc else f"Original name: {shown}."
            if decl != key or r is not None:
                fields[decl] = (key, r)
            out_props[decl] = child
        extra = s.get("additionalProperties", _MISSING)
        patterns = s.get("patternProperties")
        patterns = patterns if isinstance(patterns, dict) and patterns else None
        map_value = isinstance(extra, dict) and not is_trivial(extra)
        if not out_props:
            if patterns or map_value:
                return self.entries(s, path, depth, refs, notes, patterns, extra)
            if root:
                return {"type": "OBJECT"}, None
            notes.append("A JSON object, written as JSON text.")
            self.loss(path, "object without properties; sent as JSON text")
            return {"type": "STRING"}, JsonTextRestorer(dict)
        out: dict[str, Any] = {"type": "OBJECT", "properties": out_props}
        required = s.get("required")
        if isinstance(required, list):
            req: list[str] = []
            for name in required:
                if not isinstance(name, str) or names.get(name) in req:
                    continue
                if names.get(name) in out_props:
                    req.append(names[name])
                elif name not in names:
                    self.loss(path, f"required property {name!r} has no schema; cannot be sent")
            if req:
                out["required"] = req
        if len(out_props) > 1:
            out["property_ordering"] = list(out_props)
        self.bounds(out, s, path, ("minProperties", "min_properties"), ("maxProperties", "max_properties"))
        if map_value or patterns:
            notes.append("Other properties are allowed too.")
            what = "patternProperties" if patterns else "additionalProperties schema"
            self.loss(path, f"{what} beside properties not expressed")
        return out, (ObjectRestorer(fields) if fields else None)

    def fewer_properties(self, s: dict, props: dict, path: str) -> dict:
        """The first Limits.properties properties, required ones first; the rest is a loss."""
        cap = self.limits.properties
        required = s.get("required")
        required = required if isinstance(required, list) else []
        wanted = {r for r in required if isinstance(r, str) and r in props}
        keep = [k for k in props if k in wanted][:cap]
        keep += [k for k in props if k not in wanted][: cap - len(keep)]
        kept = set(keep)
        self.loss(path, f"{len(props) - cap:,} of {len(props):,} properties not declared (at most {cap}); the model cannot send them")
        return {k: v for k, v in props.items() if k in kept}

    def entries(self, s: dict, path: str, depth: int, refs: tuple, notes: list[str],
                patterns: dict | None, extra: Any) -> tuple[dict, Restorer | None]:
        """A map (additionalProperties/patternProperties only) as a list of {key, value}."""
        values = list(patterns.values()) if patterns else []
        if isinstance(extra, dict) and not is_trivial(extra):
            values.append(extra)
        value, vr = self.node(values[0] if len(values) == 1 else {"anyOf": values}, path + "{}", depth + 1, refs)
        if value is None:
            value, vr = self.any({})
        key: dict[str, Any] = {"type": "STRING"}
        names = s.get("propertyNames")
        key_patterns = list(patterns) if patterns else []
        if isinstance(names, dict) and isinstance(names.get("pattern"), str):
            key_patterns.append(names["pattern"])
        if len(key_patterns) == 1 and not NON_RE2.search(key_patterns[0]):
            key["pattern"] = key_patterns[0]
        elif key_patterns:
            key["description"] = self.text(path, "Matches one of the patterns: " + ", ".join(key_patterns))
        item = {"type": "OBJECT", "properties": {"key": key, "value": value},
                "required": ["key", "value"], "property_ordering": ["key", "value"]}
        out: dict[str, Any] = {"type": "ARRAY", "items": item}
        self.bounds(out, s, path, ("minProperties", "min_items"), ("maxProperties", "max_items"))
        notes.append("A map, given as a list of {key, value} entries.")
        self.loss(path, "map (additionalProperties/patternProperties) sent as a list of key/value entries")
        return out, EntriesRestorer(vr)
