"""Pure compiler: any JSON Schema -> the OpenAPI-3.0-style `parameters` Gemini Live honours.

Live ignores `parameters_json_schema` (models then call tools with empty args), so every tool's
inputSchema is compiled to the `google.genai.types.Schema` subset, as a plain dict with the
snake_case keys that model accepts. What cannot be expressed is recorded in `losses` (and, where
it helps the model, written into the description); what the model sends back is mapped to the
tool's original form by `CompiledSchema.restore_args`. No I/O here, and no input makes it raise.

Rules the output keeps, because the API rejects the alternatives with 400/1007: every node has a
`type` unless it is an `any_of`; OBJECT nodes have non-empty `properties`; ARRAY nodes have
`items`; enums are strings; parameter names match `[A-Za-z_][A-Za-z0-9_]{0,63}`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from .schema_callable import callable_description, json_schema_for_callable
from .schema_limits import DEFAULT, TIGHT, TIGHT_DEPTH, TIGHT_NODES, Limits
from .schema_nodes import CUT, NodeCompiler, is_null, is_trivial, kinds
from .schema_refs import merge
from .schema_restore import Restorer, UnwrapRestorer

__all__ = [
    "CompiledSchema",
    "callable_description",
    "compile_callable",
    "compile_schema",
    "json_schema_for_callable",
]

logger = logging.getLogger(__name__)

DEFAULT_MAX_DEPTH = 10  # nested schema levels; deeper parts are sent as JSON text
DEFAULT_MAX_NODES = 1000  # per tool; guards against exponential $ref expansion
MAX_LOSSES = 20  # a report line, not a dump


@dataclass(frozen=True)
class CompiledSchema:
    """A tool's `parameters` for Gemini, what was lost on the way, and how to undo the renaming."""

    parameters: dict[str, Any] | None  # None for a tool with no arguments
    losses: tuple[str, ...] = ()
    restorer: Restorer | None = field(default=None, repr=False, compare=False)

    @property
    def lossy(self) -> bool:
        """True when something in the original schema could not be expressed."""
        return bool(self.losses)

    def restore_args(self, args: Any) -> dict[str, Any]:
        """Map the model's arguments back to the tool's original names and values."""
        if not isinstance(args, dict):
            return {}
        if self.restorer is None:
            return args
        out = self.restorer.restore(args)
        return out if isinstance(out, dict) else args


def compile_schema(
    schema: Any, *, max_depth: int = DEFAULT_MAX_DEPTH, max_nodes: int = DEFAULT_MAX_NODES, limits: Limits = DEFAULT
) -> CompiledSchema:
    """Compile a tool's JSON Schema to Gemini `parameters`; never raises."""
    compiler = NodeCompiler(schema, max_depth, max_nodes, limits)
    try:
        params, restorer = _compile_root(compiler, schema)
        if compiler.size > limits.budget:  # a declaration this big costs every setup and the model's attention
            first = f"declaration of ~{compiler.size:,} characters is over {limits.budget:,}"
            compiler = NodeCompiler(schema, min(max_depth, TIGHT_DEPTH), min(max_nodes, TIGHT_NODES), TIGHT)
            compiler.losses.append(f"(root): {first}; compiled again with tighter limits")
            params, restorer = _compile_root(compiler, schema)
            if compiler.size > TIGHT.budget:
                compiler.losses.append(f"(root): still ~{compiler.size:,} characters; declared without parameters")
                params, restorer = None, None
    except Exception as exc:  # safety net: a tool must never take the whole catalog down
        logger.warning("could not compile a tool schema", exc_info=True)
        why = f"schema could not be compiled ({type(exc).__name__}: {exc}); declared without parameters"
        return CompiledSchema(None, (why[:300],))
    losses = list(dict.fromkeys(compiler.losses))
    if len(losses) > MAX_LOSSES:
        losses[MAX_LOSSES:] = [f"… and {len(losses) - MAX_LOSSES} more"]
    return CompiledSchema(params, tuple(losses), restorer)


def compile_callable(fn: Any, **kwargs: Any) -> CompiledSchema:
    """Compile a Python callable's signature (see json_schema_for_callable) to `parameters`."""
    return compile_schema(json_schema_for_callable(fn), **kwargs)


def _compile_root(c: NodeCompiler, schema: Any) -> tuple[dict[str, Any] | None, Restorer | None]:
    s, refs = c.flatten(schema, "", 0, ())
    if s is False:
        c.loss("", "schema is false (no arguments are valid); declared without parameters")
        return None, None
    if s is True or s is CUT or (isinstance(s, dict) and is_trivial(s)):
        c.loss("", "schema has no type or properties; declared without parameters")
        return None, None
    if not isinstance(s, dict):
        c.loss("", f"not a JSON Schema ({type(s).__name__}); declared without parameters")
        return None, None
    s = _fold_root_union(c, s, refs)
    ks, _ = kinds(s, None)
    has_union = "anyOf" in s or "oneOf" in s
    if not has_union and (ks is None or "object" in ks):
        if ks is not None and len(ks) > 1:
            c.loss("", f"root types {ks}: only object kept")
        s = dict(s, type="object")
        out, restorer = c.compile(s, "", 0, refs, root=True)
        if out is None or (out.get("type") == "OBJECT" and not out.get("properties")):
            return None, None
        if out.get("type") == "OBJECT":
            return out, restorer
        # a map at the root (only additionalProperties): one "arguments" list of entries
        wrapped = {"type": "OBJECT", "properties": {"arguments": out}, "required": ["arguments"]}
        return wrapped, UnwrapRestorer("arguments", restorer)
    out, restorer = c.compile(s, "", 0, refs)
    if out is None:
        return None, None
    if has_union:
        c.loss("", "root anyOf/oneOf is not a set of objects; wrapped as property 'value'")
    else:
        c.loss("", f"root is not an object ({', '.join(ks or [])}); wrapped as property 'value'")
    wrapped = {"type": "OBJECT", "properties": {"value": out}, "required": ["value"]}
    return wrapped, UnwrapRestorer("value", restorer)  # an object inside becomes the args


def _fold_root_union(c: NodeCompiler, s: dict[str, Any], refs: tuple) -> dict[str, Any]:
    """A root anyOf/oneOf of objects (alternative argument sets) becomes one object."""
    key = "anyOf" if "anyOf" in s else "oneOf" if "oneOf" in s else None
    if key is None or not isinstance(s[key], list):
        return s
    branches: list[dict[str, Any]] = []
    for b in s[key]:
        fb, _ = c.flatten(b, "", 1, refs)
        if fb is False or (isinstance(fb, dict) and is_null(fb)):
            continue
        if not isinstance(fb, dict) or kinds(fb, None)[0] not in (["object"], None) or "anyOf" in fb or "oneOf" in fb:
            return s
        branches.append(fb)
    if not branches:
        return s
    props: dict[str, Any] = {}
    required: list[str] | None = None
    sets = []
    for b in branches:
        bp = b.get("properties")
        bp = bp if isinstance(bp, dict) else {}
        for name, sub in bp.items():
            if name not in props:
                props[name] = sub
            elif props[name] != sub:
                props[name] = {"anyOf": [props[name], sub]}
        breq = [r for r in b.get("required", []) if isinstance(r, str)] if isinstance(b.get("required"), list) else []
        required = breq if required is None else [r for r in required if r in breq]
        sets.append(", ".join(breq) or "no required arguments")
    base = {k: v for k, v in s.items() if k not in (key, "discriminator")}
    merged = merge(base, {"type": "object", "properties": props, "required": required or []}, lambda m: c.loss("", m))
    if len(branches) > 1:
        alternatives = "; ".join(f"({i}) {t}" for i, t in enumerate(sets, 1))
        desc = merged.get("description") if isinstance(merged.get("description"), str) else ""
        merged["description"] = (desc + " " if desc else "") + f"Give one of these argument sets: {alternatives}."
        c.loss("", f"{key} of {len(branches)} argument sets merged into one object")
    return merged
