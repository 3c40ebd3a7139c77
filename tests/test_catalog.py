"""The tool table: filtering, naming, compiling, trimming, declarations and the report."""

from __future__ import annotations

from typing import Any

from google.genai import types

from agent.tools.base import DiscoveredTool
from agent.tools.catalog import LEFT_OUT, LOSSY, OK, TRIM_MARKER, Catalog, ToolSource, build_catalog, trim


class EchoBackend:
    """A real (if tiny) ToolBackend."""

    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return {"output": {"tool": tool, "arguments": arguments}}


def tool(source: str, name: str, schema: Any = None, description: str = "", **kw: Any) -> DiscoveredTool:
    schema = {"type": "object", "properties": {"q": {"type": "string"}}} if schema is None else schema
    return DiscoveredTool(source=source, name=name, description=description, input_schema=schema, **kw)


def source(name: str, *tools: DiscoveredTool, **kw: Any) -> ToolSource:
    return ToolSource(name=name, tools=list(tools), backend=EchoBackend(), **kw)


def row(catalog: Catalog, server: str, tool_name: str):
    return next(r for r in catalog.rows if r.server == server and r.tool == tool_name)


def test_entries_names_and_routing_identity() -> None:
    catalog = build_catalog([
        source("fs", tool("fs", "read_file", description="Read a file")),
        source("gh", tool("gh", "read_file"), tool("gh", "create_issue"), prefix="github", timeout=5),
    ])
    assert catalog.names == ["fs__read_file", "github__read_file", "github__create_issue"]
    entry = catalog.get("github__create_issue")
    assert entry is not None and entry.source == "gh" and entry.name == "create_issue" and entry.timeout == 5
    assert catalog.get("read_file") is None
    assert [r.status for r in catalog.rows] == [OK, OK, OK]


def test_include_exclude_patterns_and_duplicates_are_left_out_with_reasons() -> None:
    catalog = build_catalog([
        source("git", tool("git", "git_status"), tool("git", "git_push"), tool("git", "git_log"), tool("git", "git_log"),
               include=["git_*"], exclude=["*push"]),
        source("mem", tool("mem", "read_graph"), tool("mem", "delete_all"), include=["read_*"]),
    ])
    assert catalog.names == ["git__git_status", "git__git_log", "mem__read_graph"]
    assert row(catalog, "git", "git_push").status == LEFT_OUT and "'*push'" in row(catalog, "git", "git_push").detail
    dup = [r for r in catalog.rows if r.tool == "git_log"]
    assert [r.status for r in dup] == [OK, LEFT_OUT] and "duplicate" in dup[1].detail
    assert "include" in row(catalog, "mem", "delete_all").detail
    assert [(r.server, r.tool) for r in catalog.rows] == [("git", "git_status"), ("git", "git_push"), ("git", "git_log"),
                                                          ("git", "git_log"), ("mem", "read_graph"), ("mem", "delete_all")]


def test_lossy_rows_say_what_was_lost() -> None:
    schema = {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}}}
    catalog = build_catalog([source("s", tool("s", "get", schema))])
    r = row(catalog, "s", "get")
    assert r.status == LOSSY and "uuid" in r.detail and r.declared_name == "s__get"


def test_empty_prefix_and_collisions_are_reported() -> None:
    catalog = build_catalog([
        source("a", tool("a", "whoami"), tool("a", "only_a"), prefix=""),
        source("b", tool("b", "whoami"), prefix=""),
        source("db", tool("db", "list-databases"), tool("db", "list_databases"), prefix=""),
    ])
    assert "only_a" in catalog.names and "a__whoami" in catalog.names and "b__whoami" in catalog.names
    assert "list-databases" in catalog.names and "list_databases" in catalog.names  # both valid: no collision
    assert any("a/whoami" in n and "no prefix" in n for n in catalog.notes)
    assert "no prefix" in row(catalog, "b", "whoami").detail


def test_sanitising_collision_within_a_server() -> None:
    catalog = build_catalog([source("db", tool("db", "list databases"), tool("db", "list_databases"), prefix="")])
    assert catalog.names[1] == "list_databases" and catalog.names[0].startswith("list_databases_")
    assert "collision" in row(catalog, "db", "list databases").detail
    assert catalog.get(catalog.names[0]).name == "list databases"


def test_long_descriptions_are_trimmed_with_a_marker() -> None:
    long = "word " * 500
    catalog = build_catalog([source("s", tool("s", "t", description=long))], description_limit=100)
    entry = catalog.get("s__t")
    assert len(entry.description) <= 100 and entry.description.endswith(TRIM_MARKER)
    assert trim("short") == "short"


def test_title_annotation_used_when_no_description() -> None:
    catalog = build_catalog([source("s", tool("s", "t", annotations={"title": "Do things", "readOnlyHint": True}))])
    assert catalog.get("s__t").description == "Do things"


def test_function_declarations_and_setup_json() -> None:
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "additionalProperties": False,
        "properties": {"level": {"type": "integer", "enum": [1, 2]}, "room": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
        "required": ["level"],
    }
    catalog = build_catalog([
        source("home", tool("home", "lights", schema, description="Set lights")),
        source("t", tool("t", "ping", {"type": "object", "properties": {}})),
    ])
    decls = catalog.function_declarations()
    assert all(isinstance(d, types.FunctionDeclaration) for d in decls)
    assert decls[0].parameters.type == types.Type.OBJECT and decls[0].parameters_json_schema is None
    assert catalog.declarations_json() == [
        {"name": "home__lights", "description": "Set lights", "parameters": {
            "type": "OBJECT", "required": ["level"], "property_ordering": ["level", "room"],
            "properties": {"level": {"type": "STRING", "format": "enum", "enum": ["1", "2"]},
                           "room": {"type": "STRING", "nullable": True}}}},
        {"name": "t__ping"},
    ]
    types.Tool(function_declarations=decls)  # what LiveConnectConfig carries


def test_bad_schemas_never_break_the_catalog() -> None:
    catalog = build_catalog([source("s", tool("s", "a", "garbage"), tool("s", "b", {"$ref": "#/nowhere"}), tool("s", "c", False))])
    assert len(catalog) == 3
    assert all(r.status == LOSSY for r in catalog.rows)


def test_a_cut_description_is_reported_and_server_text_is_printable() -> None:
    catalog = build_catalog([source("s", tool("s", "t", description="word " * 1000), tool("s", "u", description="a\x1b[2Jb\u009b1mc\rd"))])
    assert row(catalog, "s", "t").status == LOSSY and "description of 4,999 characters cut to 1,024" in row(catalog, "s", "t").detail
    assert catalog.get("s__u").description == "abcd" and row(catalog, "s", "u").status == OK
