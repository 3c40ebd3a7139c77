"""JSON Schema for a Python callable's arguments, from its signature, type hints and docstring.

google-genai's `FunctionDeclaration.from_callable_with_api_option(..., use_json_schema=True)`
yields `parameters_json_schema`, which Live ignores; this builds the same kind of JSON Schema
(pydantic does the type work) so that schema.compile_schema turns it into `parameters`.
"""

from __future__ import annotations

import inspect
import logging
import re
import typing
from collections.abc import Callable
from typing import Any

import pydantic

logger = logging.getLogger(__name__)

_CONFIG = pydantic.ConfigDict(arbitrary_types_allowed=True)
_SKIP_KINDS = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
_GOOGLE_HEADERS = re.compile(
    r"^(args|arguments|parameters|params|keyword args|keyword arguments|other parameters)\s*:\s*$", re.I)
_GOOGLE_ITEM = re.compile(r"^\*{0,2}([A-Za-z_][A-Za-z0-9_]*)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_SPHINX_ITEM = re.compile(r"^:param\s+(?:[^:]*\s)?\*{0,2}([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.*)$")
_NUMPY_ITEM = re.compile(r"^\*{0,2}([A-Za-z_][A-Za-z0-9_]*)\s*(?::.*)?$")


def callable_description(fn: Callable[..., Any]) -> str:
    """The first paragraph of the callable's docstring, on one line."""
    return parse_docstring(inspect.getdoc(fn))[0]


def json_schema_for_callable(fn: Callable[..., Any]) -> dict[str, Any]:
    """An object JSON Schema of the callable's parameters (*args/**kwargs are not offered)."""
    _, docs = parse_docstring(inspect.getdoc(fn))
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception:  # unresolvable forward references: fall back to raw annotations
        logger.debug("type hints of %r not resolvable", fn, exc_info=True)
        hints = {}
    params = [p for p in inspect.signature(fn).parameters.values() if p.kind not in _SKIP_KINDS]
    adapters: list[tuple[str, pydantic.TypeAdapter]] = []
    properties: dict[str, Any] = {}
    for p in params:
        annotation = hints.get(p.name, p.annotation)
        if annotation is inspect.Parameter.empty:
            properties[p.name] = {}
            continue
        adapter = _adapter(annotation)
        if adapter is None:
            properties[p.name] = {"description": f"Type: {getattr(annotation, '__name__', annotation)}."}
            continue
        adapters.append((p.name, adapter))
        properties[p.name] = None  # filled below, keeps the signature's order
    defs: dict[str, Any] = {}
    if adapters:
        # one pass for all adapters so shared models land once in $defs
        mapping, top = pydantic.TypeAdapter.json_schemas([(n, "validation", a) for n, a in adapters])
        defs = top.get("$defs", {})
        for name, _ in adapters:
            properties[name] = dict(mapping[(name, "validation")])
    required = []
    for p in params:
        prop = properties[p.name]
        prop.pop("title", None)  # pydantic's auto title ("Query") only costs tokens
        if docs.get(p.name) and "description" not in prop:
            prop["description"] = docs[p.name]
        if p.default is inspect.Parameter.empty:
            required.append(p.name)
        else:
            default = _jsonable(p.default)
            if default is not _UNSET:
                prop["default"] = default
    for model in defs.values():
        _drop_auto_titles(model)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    if defs:
        schema["$defs"] = defs
    return schema


_UNSET = object()


def _adapter(annotation: Any) -> pydantic.TypeAdapter | None:
    """A TypeAdapter that can produce a JSON schema for `annotation`, or None."""
    # models refuse a config; other types need arbitrary_types_allowed to get this far
    for config in (None, _CONFIG):
        try:
            adapter = pydantic.TypeAdapter(annotation, config=config)
            adapter.json_schema()  # fails here for types with no JSON form
            return adapter
        except Exception as exc:  # noqa: BLE001 - pydantic raises several unrelated types for this
            logger.debug("no JSON schema for %r: %s", annotation, exc)
    return None


def _drop_auto_titles(schema: Any) -> None:
    """Pydantic titles every model field after its name; the name already says it."""
    props = schema.get("properties") if isinstance(schema, dict) else None
    if isinstance(props, dict):
        for name, prop in props.items():
            if isinstance(prop, dict) and prop.get("title") == name.replace("_", " ").title():
                del prop["title"]


def _jsonable(value: Any) -> Any:
    try:
        return pydantic.TypeAdapter(Any).dump_python(value, mode="json")
    except Exception:  # noqa: BLE001 - a default with no JSON form is simply not advertised
        return _UNSET


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """(first paragraph, {parameter: description}) from a Google, NumPy or Sphinx docstring."""
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    summary: list[str] = []
    for line in lines:
        s = line.strip()
        if not s or s.startswith(":") or _GOOGLE_HEADERS.match(s) or s in ("Parameters", "Returns"):
            break
        summary.append(s)
    params: dict[str, str] = {}
    _sphinx(lines, params)
    _sections(lines, params)
    return " ".join(summary), params


def _sphinx(lines: list[str], params: dict[str, str]) -> None:
    current = None
    for line in lines:
        s = line.strip()
        m = _SPHINX_ITEM.match(s)
        if m:
            current = m.group(1)
            params[current] = m.group(2).strip()
        elif current and s and not s.startswith(":") and line[:1].isspace():
            params[current] = (params[current] + " " + s).strip()
        else:
            current = None


def _sections(lines: list[str], params: dict[str, str]) -> None:
    """Google "Args:" and NumPy "Parameters\\n----------" sections."""
    i = 0
    while i < len(lines):
        s = lines[i].strip()
        numpy = s.lower() in ("parameters", "other parameters") and i + 1 < len(lines) \
            and set(lines[i + 1].strip()) == {"-"}
        if not (numpy or _GOOGLE_HEADERS.match(s)):
            i += 1
            continue
        base = len(lines[i]) - len(lines[i].lstrip())
        i += 2 if numpy else 1
        item_indent, current = None, None
        while i < len(lines):
            line = lines[i]
            s = line.strip()
            indent = len(line) - len(line.lstrip())
            if s and (indent < base or (indent == base and not numpy)):
                break  # a dedent ends a Google section
            if numpy and s and indent == base and i + 1 < len(lines) and set(lines[i + 1].strip()) == {"-"}:
                break  # the next NumPy section
            if not s:
                i += 1
                continue
            if item_indent is None:
                item_indent = indent
            m = (_NUMPY_ITEM if numpy else _GOOGLE_ITEM).match(s) if indent == item_indent else None
            if m:
                current = m.group(1)
                params.setdefault(current, "")
                if not numpy and m.group(2).strip():
                    params[current] = m.group(2).strip()
            elif current:
                params[current] = (params[current] + " " + s).strip()
            i += 1
