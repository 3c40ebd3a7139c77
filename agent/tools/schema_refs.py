"""JSON Schema plumbing for the compiler: `$ref` resolution and `allOf`-style merging.

Pure functions on JSON-shaped data; nothing here raises on malformed input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

_MIN_KEYS = frozenset(
    {"minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties", "minContains"}
)
_MAX_KEYS = frozenset(
    {"maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties", "maxContains"}
)
_MISSING = object()


def resolve_ref(root: Any, ref: Any) -> Any:
    """Resolve a local `$ref` ("#", "#/$defs/X", "#/properties/a/items"); None when it can't."""
    if not isinstance(ref, str):
        return None
    if ref in ("#", ""):
        return root
    if not ref.startswith("#/"):
        return _find_anchor(root, ref[1:]) if ref.startswith("#") else None
    node = root
    for raw in ref[2:].split("/"):
        part = unquote(raw).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            node = node.get(part, _MISSING)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
        if node is _MISSING:
            return None
    return node if isinstance(node, (dict, bool)) else None


def _find_anchor(root: Any, anchor: str, budget: list[int] | None = None) -> Any:
    """Find a subschema named by `$anchor` (2019-09+) or a plain-name `$id` (draft-07 "#foo")."""
    budget = budget if budget is not None else [2000]  # bounded walk: big schemas stay fast
    stack = [root]
    while stack and budget[0] > 0:
        node = stack.pop()
        budget[0] -= 1
        if isinstance(node, dict):
            if node.get("$anchor") == anchor or node.get("$id") == "#" + anchor:
                return node
            stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, (dict, list)))
    return None


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _types(v: Any) -> list[str] | None:
    if isinstance(v, str):
        return [v]
    if isinstance(v, list):
        return [t for t in v if isinstance(t, str)]
    return None


def merge(a: dict[str, Any], b: dict[str, Any], loss: Callable[[str], None]) -> dict[str, Any]:
    """Merge two schemas that must both hold (allOf, `$ref` + siblings); `a` wins annotations."""
    out = dict(a)
    for key, bv in b.items():
        av = out.get(key, _MISSING)
        if av is _MISSING:
            out[key] = bv
        elif av is bv or av == bv:
            continue
        elif key == "properties" and isinstance(av, dict) and isinstance(bv, dict):
            props = dict(av)
            for name, sub in bv.items():
                props[name] = {"allOf": [props[name], sub]} if name in props else sub
            out[key] = props
        elif key == "required" and isinstance(av, list) and isinstance(bv, list):
            out[key] = av + [r for r in bv if r not in av]
        elif key in _MIN_KEYS and _is_number(av) and _is_number(bv):
            out[key] = max(av, bv)
        elif key in _MAX_KEYS and _is_number(av) and _is_number(bv):
            out[key] = min(av, bv)
        elif key == "type":
            at, bt = _types(av), _types(bv)
            if at is None or bt is None:
                out[key] = bv if at is None else av
                continue
            # integer is a subset of number
            both = [t for t in at if t in bt or (t == "integer" and "number" in bt)]
            both += [t for t in bt if t == "integer" and "number" in at and t not in both]
            if both:
                out[key] = both[0] if len(both) == 1 else both
            else:
                loss(f"allOf requires types {at} and {bt} at once; kept {at}")
        elif key == "enum" and isinstance(av, list) and isinstance(bv, list):
            common = [v for v in av if v in bv]
            if common:
                out[key] = common
            else:
                loss("allOf enums have no value in common; kept the first")
        elif key in ("anyOf", "oneOf"):
            loss(f"allOf of several {key} lists; only the first kept")
        elif key in ("additionalProperties", "items") and (av is False or bv is False):
            out[key] = False
        elif key in ("items", "additionalProperties") and isinstance(av, dict) and isinstance(bv, dict):
            out[key] = {"allOf": [av, bv]}
        # anything else: annotations and rarer keywords, the first one wins
    return out
