"""The node-by-node part of the schema compiler (see schema.py for the rules it keeps)."""

from __future__ import annotations

import json
from typing import Any

from .json_trim import cut_size
from .printable import printable
from .schema_limits import DEFAULT, Limits
from .schema_refs import merge, resolve_ref
from .schema_restore import EnumRestorer, JsonTextRestorer, Restorer, UnionRestorer
from .schema_shapes import ANNOTATIONS as _ANNOTATIONS
from .schema_shapes import ShapesMixin, is_trivial
from .schema_shapes import num as _num
from .text_cut import cut_text

CUT = object()  # flatten(): a recursive $ref was cut here (loss already recorded)
RECURSION_LIMIT = 2  # how often one $ref may be open on the current path

_TYPES = {"string": "STRING", "integer": "INTEGER", "number": "NUMBER", "boolean": "BOOLEAN",
          "array": "ARRAY", "object": "OBJECT", "null": "NULL"}
_KINDS = {k: k for k in _TYPES}
_HINTS = (
    ("object", ("properties", "additionalProperties", "patternProperties", "required",
                "minProperties", "maxProperties", "propertyNames")),
    ("array", ("items", "prefixItems", "minItems", "maxItems", "uniqueItems", "contains")),
    ("string", ("minLength", "maxLength", "pattern")),
    ("number", ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")),
)
_DROPPED = (("not", "not"), ("if", "if/then/else"), ("dependentRequired", "dependentRequired"),
            ("dependentSchemas", "dependentSchemas"), ("dependencies", "dependencies"),
            ("contains", "contains"), ("propertyNames", "propertyNames"))
_DROPPED_KEYS = frozenset(k for k, _ in _DROPPED)
_PER_NODE = frozenset({"description", "title", "default", "examples", "example"})
_PY_KIND = ((bool, "boolean"), (str, "string"), (int, "integer"), (float, "number"),
            (dict, "object"), (list, "array"))


def is_null(s: dict[str, Any]) -> bool:
    """True for a schema that only accepts null."""
    t = s.get("type")
    if t == "null" or t == ["null"]:
        return True
    if "const" in s:
        return s["const"] is None
    e = s.get("enum")
    return isinstance(e, list) and bool(e) and all(v is None for v in e)


def kinds(s: dict[str, Any], values: list[Any] | None) -> tuple[list[str] | None, bool]:
    """The JSON types a schema allows (null split off as a flag); None when nothing says."""
    t = s.get("type")
    if type(t) is str:  # the common case, kept fast
        k = _KINDS.get(t) or _KINDS.get(t.lower())
        if k == "null":
            return [], True
        return ([k] if k else None), False
    out: list[str] = []
    if isinstance(t, list):
        for x in [t] if isinstance(t, str) else t:
            if isinstance(x, str) and x.lower() in _TYPES and x.lower() not in out:
                out.append(x.lower())
    elif values:
        for v in values:
            k = next((k for py, k in _PY_KIND if isinstance(v, py)), None)
            if k and k not in out:
                out.append(k)
    else:
        for kind, keys in _HINTS:
            if any(k in s for k in keys):
                out.append(kind)
                break
    nullable = "null" in out
    if nullable:
        out.remove("null")
    if "integer" in out and "number" in out:
        out.remove("integer")
    return (out or None) if not nullable else out, nullable


def _text(v: Any) -> str:
    """The enum string for a JSON value: "1", "true", '{"a":1}'."""
    if isinstance(v, str):
        return v
    try:
        return json.dumps(v, sort_keys=True, separators=(",", ":"), default=str)
    except (TypeError, ValueError):  # circular or exotic values in garbage input
        return str(v)


def _short(v: Any, limit: int = 80) -> str:
    t = _text(v) if not isinstance(v, str) else json.dumps(v)
    return t if len(t) <= limit else t[: limit - 1] + "…"


class NodeCompiler(ShapesMixin):
    """Compiles sub-schemas; collects losses. One instance per tool schema."""

    def __init__(self, root: Any, max_depth: int, max_nodes: int, limits: Limits = DEFAULT) -> None:
        self.doc, self.max_depth, self.max_nodes, self.limits = root, max_depth, max_nodes, limits
        self.losses: list[str] = []
        self.nodes = 0
        self.size = 0  # characters of descriptions, enum values and names written (see Limits.budget)

    def loss(self, path: str, msg: str) -> None:
        where = path or "(root)"
        if len(where) > 80:
            where = where[:79] + "…"
        line = f"{where}: {msg}"  # names and values in it come from the server: bounded, printable
        self.losses.append(printable(line if len(line) <= 300 else line[:299] + "…", one_line=True))

    def text(self, path: str, text: str, what: str = "description") -> str:
        """A description or title as declared: printable, cut to the limit (a loss), counted."""
        text = printable(text)
        cap = self.limits.description
        if len(text) > cap:
            self.loss(path, f"{what} of {cut_size(text) or len(text):,} characters cut to {cap:,}")
            text = cut_text(text, cap)  # after a sentence (or a word), marked
        self.size += len(text)
        return text

    # ---- $ref / allOf -------------------------------------------------------------------

    def flatten(self, s: Any, path: str, depth: int, refs: tuple) -> tuple[Any, tuple]:
        """Resolve `$ref` and `allOf` at the top of `s` (bool, CUT, or a dict without them)."""
        for _ in range(64):  # a chain of refs to refs longer than this is a cycle
            if not isinstance(s, dict):
                return s, refs
            if "$ref" in s:
                ref = s["$ref"]
                rest = {k: v for k, v in s.items() if k != "$ref"}
                key = ref if isinstance(ref, str) else repr(ref)
                if refs.count(key) >= RECURSION_LIMIT or depth > self.max_depth:
                    self.loss(path, f"recursive $ref {key} cut; deeper levels sent as JSON text")
                    return CUT, refs
                target = resolve_ref(self.doc, ref)
                refs = refs + (key,)
                if target is None:
                    self.loss(path, f"$ref {key} cannot be resolved; sent as any value")
                    target = True
                if target is False:
                    return False, refs
                s = merge(rest, target, lambda m: self.loss(path, m)) if isinstance(target, dict) else rest
                continue
            if "allOf" in s:
                branches = s["allOf"]
                acc = {k: v for k, v in s.items() if k != "allOf"}
                if not isinstance(branches, list):
                    self.loss(path, "allOf is not a list; ignored")
                    branches = []
                for b in branches:
                    fb, refs = self.flatten(b, path, depth + 1, refs)
                    if fb is False:
                        return False, refs
                    if isinstance(fb, dict):
                        acc = merge(acc, fb, lambda m: self.loss(path, m))
                s = acc
                continue
            return s, refs
        self.loss(path, "$ref chain too long; sent as any value")
        return True, refs

    # ---- nodes --------------------------------------------------------------------------

    def node(self, s: Any, path: str, depth: int, refs: tuple) -> tuple[dict | None, Restorer | None]:
        """Compile one sub-schema: (Gemini schema, restorer); None when no value is valid."""
        self.nodes += 1
        if type(s) is dict and "$ref" not in s and "allOf" not in s and depth <= self.max_depth \
                and self.nodes <= self.max_nodes and not is_trivial(s):
            return self.compile(s, path, depth, refs)  # fast path for the plain majority
        if self.nodes > self.max_nodes:
            if self.nodes == self.max_nodes + 1:  # once: the rest would repeat it
                self.loss(path, f"schema larger than {self.max_nodes} nodes; this and later parts sent as JSON text")
            return self.any({})
        if depth > self.max_depth:
            self.loss(path, f"nested deeper than {self.max_depth} levels; sent as JSON text")
            return self.any(s if isinstance(s, dict) else {}, path)
        s, refs = self.flatten(s, path, depth, refs)
        if s is CUT:
            return self.any({})
        if s is False:
            return None, None
        if s is True or (isinstance(s, dict) and is_trivial(s)):
            self.loss(path, "any value; sent as JSON text")
            return self.any(s if isinstance(s, dict) else {}, path)
        if not isinstance(s, dict):
            self.loss(path, f"not a schema ({type(s).__name__}); sent as any value")
            return self.any({})
        return self.compile(s, path, depth, refs)

    def any(self, s: dict[str, Any], path: str = "") -> tuple[dict, Restorer]:
        """Any JSON value: the model writes JSON text, restore_args decodes it."""
        return self.finish({"type": "STRING"}, s, ["Any JSON value, written as JSON text."], path=path), JsonTextRestorer()

    def compile(self, s: dict, path: str, depth: int, refs: tuple, root: bool = False) -> tuple[dict | None, Restorer | None]:
        """Compile a flattened schema (no $ref/allOf at its top)."""
        if not _DROPPED_KEYS.isdisjoint(s):
            for key, name in _DROPPED:
                if key in s:
                    self.loss(path, f"{name} not expressible; dropped")
        if "anyOf" in s or "oneOf" in s:
            return self.union(s, path, depth, refs)
        values: list[Any] | None = None
        if "const" in s:
            values = [s["const"]]
        elif "enum" in s:
            values = s["enum"] if isinstance(s["enum"], list) and s["enum"] else None
            if values is None:
                self.loss(path, "empty or invalid enum ignored")
        ks, nullable = kinds(s, values)
        nullable = nullable or s.get("nullable") is True
        if values is not None and any(v is None for v in values):
            nullable, values = True, [v for v in values if v is not None]
        if values is not None and ks is None and not values:  # only null is valid
            ks = []
        if ks == []:
            self.loss(path, "only null is valid")
            return self.finish({"type": "STRING"}, s, ["Must be null."], nullable=True, path=path), None
        if values and self.enum_too_big(values):
            s, values = self.described_enum(s, values, path), None
        if values:
            return self.enum(s, values, ks, path, nullable)
        if ks is None:
            self.loss(path, "any value; sent as JSON text")
            return self.any(s, path)
        if len(ks) > 1:
            bare = {k: v for k, v in s.items() if k not in _PER_NODE}  # annotations go on the any_of
            outs = [self.typed(bare, k, path, depth, refs, False, root) for k in ks]
            return self.combine(s, outs, path, nullable, [])
        return self.typed(s, ks[0], path, depth, refs, nullable, root)

    def typed(self, s: dict, kind: str, path: str, depth: int, refs: tuple, nullable: bool,
              root: bool = False) -> tuple[dict, Restorer | None]:
        notes: list[str] = []
        restorer: Restorer | None = None
        if kind == "object":
            out, restorer = self.object(s, path, depth, refs, notes, root)
        elif kind == "array":
            out, restorer = self.array(s, path, depth, refs, notes)
        elif kind == "string":
            out = self.string(s, path, notes)
        elif kind in ("integer", "number"):
            out = self.number(s, kind, path, notes)
        else:
            out = {"type": "BOOLEAN"}
        fmt = s.get("format")
        if isinstance(fmt, str) and fmt and fmt != "enum" and "format" not in out and out["type"] not in ("ARRAY", "OBJECT") \
                and (out["type"] != "STRING" or restorer is None):  # JSON text is not the format's subject
            self.loss(path, f"format {fmt!r} kept in description only")
            notes.append(f"Format: {fmt}.")
        return self.finish(out, s, notes, nullable, path=path), restorer

    def enum_too_big(self, values: list) -> bool:
        limits = self.limits
        if len(values) > limits.enum_values:
            return True
        return sum(len(_text(v)) for v in values) > limits.enum_chars

    def described_enum(self, s: dict, values: list, path: str) -> dict:
        """An enum too big to declare: a plain value whose description gives a few examples."""
        self.loss(path, f"enum of {len(values):,} values ({sum(len(_text(v)) for v in values):,} characters) too big "
                        f"to declare (at most {self.limits.enum_values:,} values, {self.limits.enum_chars:,} characters); "
                        "described with examples")
        examples = ", ".join(_short(v, 40) for v in values[:8])
        note = f"One of {len(values):,} allowed values, such as: {examples}."
        desc = s.get("description") if isinstance(s.get("description"), str) else ""
        return {**{k: v for k, v in s.items() if k not in ("enum", "const")}, "description": f"{desc} {note}".strip()}

    def enum(self, s: dict, values: list, ks: list[str] | None, path: str, nullable: bool) -> tuple[dict, Restorer | None]:
        if ks == ["boolean"] and set(map(type, values)) == {bool} and len(set(values)) == 2:
            return self.finish({"type": "BOOLEAN"}, s, [], nullable, path=path), None
        texts: dict[str, Any] = {}
        for v in values:
            t = _text(v)
            if t in texts:
                if texts[t] is not v and texts[t] != v:
                    self.loss(path, f"enum values {texts[t]!r} and {v!r} look the same to the model; kept the first")
                continue
            texts[t] = v
        out = {"type": "STRING", "format": "enum", "enum": list(texts)}
        self.size += sum(len(t) for t in texts)
        strings = all(isinstance(v, str) for v in texts.values())
        notes = [] if strings or "const" not in s else [f"Always {_short(values[0])}."]
        return self.finish(out, s, notes, nullable, path=path), (None if strings else EnumRestorer(texts))

    def union(self, s: dict, path: str, depth: int, refs: tuple) -> tuple[dict | None, Restorer | None]:
        key = "anyOf" if "anyOf" in s else "oneOf"
        raw = s[key]
        rest = {k: v for k, v in s.items() if k not in ("anyOf", "oneOf")}
        if not isinstance(raw, list) or not raw:
            self.loss(path, f"{key} is empty or not a list; ignored")
            return self.compile(rest, path, depth, refs) if not is_trivial(rest) else self.any(rest, path)
        if "anyOf" in s and "oneOf" in s:
            self.loss(path, "both anyOf and oneOf; oneOf dropped")
        constraints = {k: v for k, v in rest.items() if k not in _ANNOTATIONS}
        nullable = rest.get("nullable") is True
        branches: list[tuple[dict, tuple]] = []
        for b in raw:
            fb, brefs = self.flatten(b, path, depth + 1, refs)
            if fb is False:
                continue
            if fb is CUT or fb is True or not isinstance(fb, dict) or is_trivial(fb):
                if fb is not CUT:  # a cut already says why
                    self.loss(path, f"{key} accepts any value; sent as JSON text")
                return self.any(rest, path)
            if is_null(fb):
                nullable = True
                continue
            if constraints:  # keywords beside anyOf apply to every branch
                fb = merge(constraints, fb, lambda m: self.loss(path, m))
            branches.append((fb, brefs))
        if not branches:
            if not nullable:
                return None, None
            self.loss(path, "only null is valid")
            return self.finish({"type": "STRING"}, rest, ["Must be null."], nullable=True, path=path), None
        if len(branches) == 1:
            fb, brefs = branches[0]
            annotations = {k: v for k, v in rest.items() if k in _ANNOTATIONS}
            one = merge(annotations, fb, lambda m: self.loss(path, m)) if annotations else fb
            out, r = self.compile(one, path, depth, brefs)
            if out is not None and nullable:
                out["nullable"] = True
            return out, r
        outs = [self.compile(fb, path, depth + 1, brefs) for fb, brefs in branches]
        notes = []
        disc = rest.get("discriminator")
        if isinstance(disc, dict) and isinstance(disc.get("propertyName"), str):
            notes.append(f"The property {disc['propertyName']!r} says which alternative applies.")
        n_out = sum(1 for o, _ in outs if o is not None)
        if key == "oneOf" and n_out > 1:
            self.loss(path, "oneOf sent as anyOf (several alternatives may match)")
        return self.combine(rest, outs, path, nullable, notes)

    def combine(self, s: dict, outs: list, path: str, nullable: bool, notes: list[str]) -> tuple[dict | None, Restorer | None]:
        """Alternatives -> one schema: merged string enums, a single survivor, or any_of."""
        schemas: list[dict] = []
        restorers: list[Restorer] = []
        for o, r in outs:
            if o is None or o in schemas:
                continue
            schemas.append(o)
            restorers.append(r if r is not None else Restorer())
        if not schemas:
            return None, None
        if len(schemas) > 1 and all(set(o) <= {"type", "format", "enum", "description"} and "enum" in o for o in schemas):
            texts: dict[str, Any] = {}
            for o, r in zip(schemas, restorers, strict=True):
                for t in o["enum"]:
                    texts.setdefault(t, r.mapping.get(t, t) if isinstance(r, EnumRestorer) else t)
            strings = all(isinstance(v, str) for v in texts.values())
            schemas, restorers = [{"type": "STRING", "format": "enum", "enum": list(texts)}], [EnumRestorer(texts) if not strings else Restorer()]
        if len(schemas) == 1:
            out = dict(schemas[0])
            if "description" in out and isinstance(s.get("description"), str):
                del out["description"]  # the outer one describes the whole
            restorer: Restorer | None = restorers[0]
        else:
            out = {"any_of": schemas}
            restorer = UnionRestorer(restorers)
        if restorer is not None and all(type(r) is Restorer for r in getattr(restorer, "options", [restorer])):
            restorer = None
        out = self.finish(out, s, notes, nullable, path=path)
        return out, restorer

    # ---- annotations --------------------------------------------------------------------

    def short_enough(self, value: Any) -> bool:
        return not isinstance(value, str) or len(value) <= self.limits.default_chars

    def finish(self, out: dict, s: dict, notes: list[str], nullable: bool = False, path: str = "") -> dict:
        """Add description (with notes), title, default, example and nullable to `out`."""
        if not notes and _PER_NODE.isdisjoint(s):  # fast path: nothing to add but nullable
            if nullable:
                out["nullable"] = True
            return out
        t = out.get("type")
        default = s.get("default")
        if default is not None:
            value = self.scalar_for(out, default)
            if value is not None and self.short_enough(value):
                out["default"] = value
            else:
                notes = [*notes, f"Default: {_short(default)}."]
        examples = s.get("examples")
        example = examples[0] if isinstance(examples, list) and examples else s.get("example")
        if example is not None and t is not None:
            value = self.scalar_for(out, example)
            if value is not None and self.short_enough(value):
                out["example"] = value
        desc = s.get("description")
        text = desc.strip() if isinstance(desc, str) else ""
        if notes:
            extra = " ".join(notes)
            text = f"{text}{'' if text[-1] in '.!?:;)' else '.'} {extra}" if text else extra
        if text:
            out["description"] = self.text(path, text)
        title = s.get("title")
        if isinstance(title, str) and title:
            out["title"] = self.text(path, title, "title")
        if nullable:
            out["nullable"] = True
        return out

    @staticmethod
    def scalar_for(out: dict, v: Any) -> Any:
        """`v` as a value of the compiled type, or None when it doesn't fit (then it's described)."""
        t = out.get("type")
        if "enum" in out:
            text = _text(v)
            return text if text in out["enum"] else None
        if t == "STRING":
            return v if isinstance(v, str) else None
        if t == "BOOLEAN":
            return v if isinstance(v, bool) else None
        if t in ("INTEGER", "NUMBER"):
            n = _num(v)
            return n if n is not None and (t == "NUMBER" or float(n).is_integer()) else None
        return None

