"""JSON Schema -> Gemini `parameters` compiler: one case per hard case of mcp-schemas.md."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import jsonschema
import pytest
from google.genai import types

from agent.tools.schema import CompiledSchema, compile_schema
from agent.tools.schema_limits import DEFAULT, TIGHT

PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
GEMINI_TYPES = {"STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT"}


def check_gemini_shape(node: Any, where: str = "") -> None:
    """The rules the API enforces (400/1007 otherwise), beyond what types.Schema checks."""
    assert isinstance(node, dict), where
    if "any_of" in node:
        assert node["any_of"], where
        for i, branch in enumerate(node["any_of"]):
            check_gemini_shape(branch, f"{where}|{i}")
        return
    assert node.get("type") in GEMINI_TYPES, (where, node)
    if "enum" in node:
        assert node["type"] == "STRING" and all(isinstance(v, str) for v in node["enum"]), where
    if node["type"] == "OBJECT":
        assert node.get("properties"), f"OBJECT without properties at {where}"
        for name, sub in node["properties"].items():
            assert PARAM_NAME.match(name), (where, name)
            check_gemini_shape(sub, f"{where}.{name}")
        assert set(node.get("required", [])) <= set(node["properties"]), where
        assert set(node.get("property_ordering", node["properties"])) == set(node["properties"]), where
    else:
        assert "properties" not in node and "required" not in node, where
    if node["type"] == "ARRAY":
        assert "items" in node, f"ARRAY without items at {where}"
        check_gemini_shape(node["items"], f"{where}[]")


def compiled(schema: Any, **kwargs: Any) -> CompiledSchema:
    """Compile and check the result against the SDK model and the API's rules."""
    result = compile_schema(schema, **kwargs)
    if result.parameters is not None:
        assert result.parameters["type"] == "OBJECT"
        check_gemini_shape(result.parameters)
        types.Schema.model_validate(result.parameters)
        types.FunctionDeclaration(name="f", parameters=types.Schema.model_validate(result.parameters))
        json.dumps(result.parameters, allow_nan=False)  # a plain JSON-able dict
    return result


def props(schema: Any) -> dict[str, Any]:
    params = compiled(schema).parameters
    assert params is not None
    return params["properties"]


def obj(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


def has_loss(result: CompiledSchema, *words: str) -> bool:
    return any(all(w in loss for w in words) for loss in result.losses)


# ---- the survey's hard cases ------------------------------------------------------------


def test_plain_schema_is_lossless_and_keeps_descriptions() -> None:
    schema = {
        "type": "object",
        "description": "ignored at the root",
        "properties": {
            "path": {"type": "string", "description": "File to read", "minLength": 1, "maxLength": 4096},
            "count": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
            "ratio": {"type": "number", "format": "double"},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 5},
            "force": {"type": "boolean", "title": "Force"},
        },
        "required": ["path"],
    }
    result = compiled(schema)
    assert result.losses == ()
    p = result.parameters
    assert p["required"] == ["path"]
    assert p["property_ordering"] == ["path", "count", "ratio", "tags", "force"]
    assert p["properties"]["path"] == {"type": "STRING", "description": "File to read", "min_length": 1, "max_length": 4096}
    assert p["properties"]["count"] == {"type": "INTEGER", "minimum": 1, "maximum": 100, "default": 10}
    assert p["properties"]["ratio"]["format"] == "double"
    assert p["properties"]["tags"] == {"type": "ARRAY", "items": {"type": "STRING"}, "min_items": 1, "max_items": 5}
    assert p["properties"]["force"]["title"] == "Force"


def test_additional_properties_false_and_true_are_not_losses() -> None:
    for extra in (False, True):
        result = compiled({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": extra})
        assert result.losses == ()
        assert "additional_properties" not in result.parameters


def test_root_dollar_schema_is_ignored() -> None:
    schema = {"$schema": "http://json-schema.org/draft-07/schema#", **obj(a={"type": "string"})}
    assert compiled(schema).parameters == {"type": "OBJECT", "properties": {"a": {"type": "STRING"}}}


def test_dollar_schema_only_root_declares_no_parameters_with_a_loss() -> None:
    result = compiled({"$schema": "https://json-schema.org/draft/2020-12/schema"})
    assert result.parameters is None and has_loss(result, "no type or properties")


@pytest.mark.parametrize("schema", [{"type": "object"}, {"type": "object", "properties": {}}, {"type": "object", "properties": {}, "additionalProperties": False}])
def test_tools_without_arguments(schema: dict[str, Any]) -> None:
    result = compiled(schema)
    assert result.parameters is None and result.losses == ()
    assert result.restore_args({}) == {}


def test_anyof_with_null_becomes_nullable_and_keeps_description() -> None:
    p = props(obj(when={"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}], "default": None, "description": "Start"}))
    assert p["when"] == {"type": "STRING", "format": "date-time", "description": "Start", "nullable": True}


def test_type_list_with_null_and_with_two_types() -> None:
    p = props(obj(a={"type": ["string", "null"]}, b={"type": ["string", "integer"], "description": "Id or name"}))
    assert p["a"] == {"type": "STRING", "nullable": True}
    assert p["b"] == {"any_of": [{"type": "STRING"}, {"type": "INTEGER"}], "description": "Id or name"}


def test_ref_into_defs_inlined_with_siblings() -> None:
    schema = {
        **obj(
            pet={"$ref": "#/$defs/Pet", "description": "Your pet"},
            kind={"$ref": "#/$defs/Kind", "default": "cat"},
        ),
        "$defs": {
            "Pet": {"type": "object", "description": "A pet", "properties": {"name": {"type": "string"}}},
            "Kind": {"type": "string", "enum": ["cat", "dog"]},
        },
    }
    result = compiled(schema)
    p = result.parameters["properties"]
    assert p["pet"] == {"type": "OBJECT", "properties": {"name": {"type": "STRING"}}, "description": "Your pet"}
    assert p["kind"] == {"type": "STRING", "format": "enum", "enum": ["cat", "dog"], "default": "cat"}
    assert result.losses == ()


def test_definitions_and_json_pointer_refs() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "array", "items": {"type": "object", "properties": {"x~y/z": {"type": "integer"}}}},
            "b": {"$ref": "#/properties/a/items"},
            "c": {"$ref": "#/definitions/C"},
            "d": {"$ref": "#/properties/a/items/properties/x~0y~1z"},
        },
        "definitions": {"C": {"type": "boolean"}},
    }
    p = props(schema)
    assert p["b"]["type"] == "OBJECT" and p["b"]["properties"] == p["a"]["items"]["properties"]
    assert p["c"] == {"type": "BOOLEAN"}
    assert p["d"] == {"type": "INTEGER"}


def test_unresolvable_ref_is_a_loss_not_a_crash() -> None:
    result = compiled(obj(a={"$ref": "#/$defs/Missing", "description": "thing"}, b={"$ref": "https://example.com/s.json"}))
    assert has_loss(result, "a", "cannot be resolved") and has_loss(result, "b", "cannot be resolved")
    assert result.parameters["properties"]["a"]["description"].startswith("thing")


def test_recursive_ref_is_cut_with_a_loss() -> None:
    schema = {
        "$ref": "#/$defs/Node",
        "$defs": {"Node": obj(name={"type": "string"}, children={"type": "array", "items": {"$ref": "#/$defs/Node"}})},
    }
    result = compiled(schema)
    assert has_loss(result, "recursive $ref", "cut")
    children = result.parameters["properties"]["children"]["items"]
    assert children["type"] == "OBJECT"  # one level expanded before the cut
    deep = children["properties"]["children"]["items"]
    assert deep["type"] == "STRING"  # JSON text from here down
    tree = {"name": "a", "children": [{"name": "b", "children": ['{"name": "c", "children": []}']}]}
    assert result.restore_args(tree) == {"name": "a", "children": [{"name": "b", "children": [{"name": "c", "children": []}]}]}


def test_exponential_refs_stay_fast_and_bounded() -> None:
    defs = {f"L{i}": obj(**{f"k{j}": {"$ref": f"#/$defs/L{i + 1}"} for j in range(4)}) for i in range(12)}
    defs["L12"] = {"type": "string"}
    start = time.perf_counter()
    result = compiled({"$ref": "#/$defs/L0", "$defs": defs})
    assert time.perf_counter() - start < 5  # generous: only catches blow-ups (4**12 nodes)
    assert result.parameters is not None and result.lossy


def test_depth_is_cut_with_a_loss() -> None:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(15):
        schema = obj(inner=schema)
    result = compiled(schema, max_depth=5)
    assert has_loss(result, "deeper than 5")


def test_oneof_becomes_any_of_with_a_loss_and_discriminator_note() -> None:
    schema = obj(
        shape={
            "oneOf": [obj(kind={"const": "circle"}, r={"type": "number"}), obj(kind={"const": "square"}, side={"type": "number"})],
            "discriminator": {"propertyName": "kind"},
        }
    )
    result = compiled(schema)
    shape = result.parameters["properties"]["shape"]
    assert len(shape["any_of"]) == 2
    assert "'kind'" in shape["description"]
    assert has_loss(result, "oneOf sent as anyOf")


def test_anyof_of_string_enums_merges_into_one_enum() -> None:
    p = props(obj(a={"anyOf": [{"enum": ["x", "y"]}, {"const": "z"}]}))
    assert p["a"] == {"type": "STRING", "format": "enum", "enum": ["x", "y", "z"]}


def test_allof_is_merged() -> None:
    schema = obj(
        a={"allOf": [{"type": "integer", "minimum": 0}, {"maximum": 9, "description": "digit"}, {"minimum": 2}]},
        b={"allOf": [{"$ref": "#/$defs/Base"}, obj(extra={"type": "boolean"})], "required": ["id"]},
    )
    schema["$defs"] = {"Base": obj(id={"type": "string"})}
    result = compiled(schema)
    p = result.parameters["properties"]
    assert p["a"] == {"type": "INTEGER", "minimum": 2, "maximum": 9, "description": "digit"}
    assert set(p["b"]["properties"]) == {"id", "extra"} and p["b"]["required"] == ["id"]
    assert result.losses == ()


def test_const_string_and_non_string() -> None:
    result = compiled(obj(op={"const": "add"}, version={"const": 2}, flag={"const": True}))
    p = result.parameters["properties"]
    assert p["op"] == {"type": "STRING", "format": "enum", "enum": ["add"]}
    assert p["version"]["enum"] == ["2"] and p["flag"]["enum"] == ["true"]
    assert result.restore_args({"op": "add", "version": "2", "flag": "true"}) == {"op": "add", "version": 2, "flag": True}


def test_non_string_enums_are_stringified_and_restored() -> None:
    schema = obj(
        level={"type": "integer", "enum": [1, 2, 3]},
        mixed={"enum": ["auto", 0.5, False, None, {"k": 1}]},
        both={"type": "boolean", "enum": [True, False]},
    )
    result = compiled(schema)
    p = result.parameters["properties"]
    assert p["level"] == {"type": "STRING", "format": "enum", "enum": ["1", "2", "3"]}
    assert p["mixed"]["enum"] == ["auto", "0.5", "false", '{"k":1}'] and p["mixed"]["nullable"] is True
    assert p["both"] == {"type": "BOOLEAN"}
    restored = result.restore_args({"level": "3", "mixed": '{"k":1}', "both": True})
    assert restored == {"level": 3, "mixed": {"k": 1}, "both": True}
    assert result.restore_args({"mixed": "false"}) == {"mixed": False}
    assert result.restore_args({"mixed": None, "level": 2}) == {"mixed": None, "level": 2}  # already typed: kept
    jsonschema.validate(restored, schema)


def test_default_null_dropped_and_defaults_typed() -> None:
    p = props(obj(a={"type": "string", "default": None}, b={"type": "integer", "enum": [1, 2], "default": 2},
                  c={"type": "array", "items": {"type": "string"}, "default": ["x"]}))
    assert "default" not in p["a"]
    assert p["b"]["default"] == "2"
    assert "default" not in p["c"] and 'Default: ["x"].' in p["c"]["description"]


def test_empty_sub_schema_is_json_text_and_decoded() -> None:
    result = compiled(obj(value={}, other=True, note={"description": "Anything"}))
    p = result.parameters["properties"]
    assert p["value"]["type"] == "STRING" and "JSON" in p["value"]["description"]
    assert p["note"]["description"].startswith("Anything")
    assert has_loss(result, "value", "any value")
    assert result.restore_args({"value": '{"a": [1, 2]}', "other": "42", "note": "plain words"}) == {
        "value": {"a": [1, 2]}, "other": 42, "note": "plain words"}


def test_array_without_items() -> None:
    result = compiled(obj(list={"type": "array"}))
    assert result.parameters["properties"]["list"]["items"]["type"] == "STRING"
    assert has_loss(result, "list[]", "any type")
    assert result.restore_args({"list": ["1", "x", "true"]}) == {"list": [1, "x", True]}


def test_additional_properties_map_becomes_entries_and_restores() -> None:
    schema = obj(env={"type": "object", "additionalProperties": {"type": "string"}, "description": "Environment"})
    result = compiled(schema)
    env = result.parameters["properties"]["env"]
    assert env["type"] == "ARRAY"
    assert env["items"]["properties"] == {"key": {"type": "STRING"}, "value": {"type": "STRING"}}
    assert env["description"].startswith("Environment.")
    assert has_loss(result, "env", "map")
    args = {"env": [{"key": "A", "value": "1"}, {"key": "B", "value": "2"}]}
    assert result.restore_args(args) == {"env": {"A": "1", "B": "2"}}
    assert result.restore_args({"env": {"A": "1"}}) == {"env": {"A": "1"}}  # a map sent anyway is kept


def test_object_without_properties_is_json_text() -> None:
    result = compiled(obj(meta={"type": "object", "description": "Free-form"}))
    meta = result.parameters["properties"]["meta"]
    assert meta["type"] == "STRING" and meta["description"].startswith("Free-form")
    assert result.restore_args({"meta": '{"x": 1}'}) == {"meta": {"x": 1}}
    assert result.restore_args({"meta": "not json"}) == {"meta": "not json"}


def test_root_map_is_wrapped_and_unwrapped() -> None:
    result = compiled({"type": "object", "additionalProperties": {"type": "integer"}})
    assert list(result.parameters["properties"]) == ["arguments"]
    assert result.restore_args({"arguments": [{"key": "a", "value": 1}]}) == {"a": 1}


def test_formats_kept_only_where_gemini_accepts_them() -> None:
    result = compiled(obj(
        id={"type": "string", "format": "uuid"}, at={"type": "string", "format": "date-time"},
        day={"type": "string", "format": "date"}, n={"type": "integer", "format": "int32"},
        x={"type": "number", "format": "float"}, big={"type": "integer", "format": "uint64"},
        mail={"type": "string", "format": "email", "description": "Who"},
    ))
    p = result.parameters["properties"]
    assert p["at"]["format"] == "date-time" and p["n"]["format"] == "int32" and p["x"]["format"] == "float"
    for name, fmt in (("id", "uuid"), ("day", "date"), ("big", "uint64"), ("mail", "email")):
        assert "format" not in p[name] and f"Format: {fmt}." in p[name]["description"]
        assert has_loss(result, name, fmt)
    assert p["mail"]["description"] == "Who. Format: email."


def test_exclusive_bounds() -> None:
    result = compiled(obj(
        i={"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 10},
        x={"type": "number", "exclusiveMinimum": 0.5},
        old={"type": "number", "minimum": 1, "exclusiveMinimum": True},
    ))
    p = result.parameters["properties"]
    assert p["i"]["minimum"] == 1 and p["i"]["maximum"] == 9 and "description" not in p["i"]
    assert p["x"]["minimum"] == 0.5 and "greater than 0.5" in p["x"]["description"]
    assert p["old"]["minimum"] == 1 and "greater than 1" in p["old"]["description"]
    assert has_loss(result, "x", "exclusiveMinimum")


@pytest.mark.parametrize("keyword, schema", [
    ("not", {"type": "string", "not": {"enum": ["x"]}}),
    ("if/then/else", {"type": "object", "properties": {"a": {"type": "string"}}, "if": {"required": ["a"]}, "then": {}, "else": {}}),
    ("propertyNames", {"type": "object", "properties": {"a": {"type": "string"}}, "propertyNames": {"pattern": "^a"}}),
    ("dependentRequired", {"type": "object", "properties": {"a": {"type": "string"}}, "dependentRequired": {"a": ["b"]}}),
])
def test_unexpressible_keywords_are_losses(keyword: str, schema: dict[str, Any]) -> None:
    result = compiled(obj(v=schema))
    assert has_loss(result, "v", keyword)


def test_pattern_properties_and_property_names_on_a_map() -> None:
    result = compiled(obj(labels={"type": "object", "patternProperties": {"^[a-z]+$": {"type": "integer"}}}))
    entry = result.parameters["properties"]["labels"]["items"]
    assert entry["properties"]["key"] == {"type": "STRING", "pattern": "^[a-z]+$"}
    assert entry["properties"]["value"] == {"type": "INTEGER"}
    assert has_loss(result, "labels", "map")


def test_pattern_properties_beside_properties_is_a_loss() -> None:
    result = compiled(obj(o={"type": "object", "properties": {"a": {"type": "string"}}, "patternProperties": {"^x": {}}}))
    assert has_loss(result, "o", "patternProperties")


def test_tuple_items_and_prefix_items() -> None:
    result = compiled(obj(
        point={"type": "array", "prefixItems": [{"type": "number"}, {"type": "number"}], "items": False},
        pair={"type": "array", "items": [{"type": "string"}, {"type": "integer"}]},
    ))
    p = result.parameters["properties"]
    assert p["point"]["items"] == {"type": "NUMBER"} and p["point"]["max_items"] == 2
    assert p["pair"]["items"] == {"any_of": [{"type": "STRING"}, {"type": "INTEGER"}]}
    assert has_loss(result, "point", "tuple") and has_loss(result, "pair", "tuple")


def test_unique_items_and_multiple_of_are_described() -> None:
    result = compiled(obj(ids={"type": "array", "items": {"type": "integer", "multipleOf": 5}, "uniqueItems": True}))
    ids = result.parameters["properties"]["ids"]
    assert "unique" in ids["description"] and "multiple of 5" in ids["items"]["description"]
    assert has_loss(result, "uniqueItems") and has_loss(result, "multipleOf")


def test_boolean_sub_schemas_everywhere() -> None:
    result = compiled(obj(never=False, always=True, empty={"type": "array", "items": False}, opt={"anyOf": [False, {"type": "string"}]}))
    p = result.parameters["properties"]
    assert "never" not in p and has_loss(result, "never", "left out")
    assert p["always"]["type"] == "STRING"
    assert p["empty"]["max_items"] == 0
    assert p["opt"] == {"type": "STRING"}


def test_false_root() -> None:
    result = compiled(False)
    assert result.parameters is None and has_loss(result, "false")


def test_non_object_root_is_wrapped() -> None:
    result = compiled({"type": "string", "description": "A query"})
    assert result.parameters["properties"]["value"]["type"] == "STRING"
    assert result.parameters["required"] == ["value"]
    assert has_loss(result, "not an object")


def test_root_oneof_of_argument_sets_is_merged() -> None:
    schema = {
        "type": "object",
        "oneOf": [
            {"properties": {"id": {"type": "string"}}, "required": ["id"]},
            {"properties": {"name": {"type": "string"}, "org": {"type": "string"}}, "required": ["name", "org"]},
        ],
    }
    result = compiled(schema)
    assert set(result.parameters["properties"]) == {"id", "name", "org"}
    assert "required" not in result.parameters
    assert "(1) id; (2) name, org" in result.parameters["description"]
    assert has_loss(result, "argument sets")


def test_property_names_gemini_rejects_are_renamed_and_restored() -> None:
    long = "x" * 70
    schema = obj(**{
        "$vectorSearch": {"type": "string"},
        "foo-bar": {"type": "array", "items": obj(**{"a.b": {"type": "integer", "enum": [1, 2]}, "ok": {"type": "string"}})},
        "foo_bar": {"type": "string"},
        "1st": {"type": "string"},
        long: {"type": "string"},
        "ünï": {"type": "string"},
    })
    schema["required"] = ["$vectorSearch", "foo-bar"]
    result = compiled(schema)
    p = result.parameters["properties"]
    names = list(p)
    assert len(set(names)) == 6 and all(PARAM_NAME.match(n) for n in names)
    assert "foo_bar" in p  # a valid name keeps itself; the renamed one gets a suffix
    assert result.parameters["required"][0] == "_vectorSearch"
    assert "Original name: $vectorSearch." in p["_vectorSearch"]["description"]
    assert compile_schema(schema).parameters == result.parameters  # deterministic
    declared_foo = next(n for n in names if n.startswith("foo_bar_"))
    args = {
        "_vectorSearch": "v", declared_foo: [{"a_b": "2", "ok": "y"}], "foo_bar": "z",
        next(n for n in names if n.endswith("1st")): "one", next(n for n in names if len(n) == 64): "long",
    }
    restored = result.restore_args(args)
    assert restored == {"$vectorSearch": "v", "foo-bar": [{"a.b": 2, "ok": "y"}], "foo_bar": "z", "1st": "one", long: "long"}
    jsonschema.validate(restored, schema)


def test_pattern_gemini_cannot_run_goes_to_description() -> None:
    result = compiled(obj(pw={"type": "string", "pattern": "^(?=.*[0-9]).{8,}$"}, ok={"type": "string", "pattern": "^[a-z]+$"}))
    p = result.parameters["properties"]
    assert "pattern" not in p["pw"] and "(?=" in p["pw"]["description"]
    assert p["ok"]["pattern"] == "^[a-z]+$"


def test_contradictory_bounds_are_dropped() -> None:
    result = compiled(obj(s={"type": "string", "minLength": 5, "maxLength": 2}, n={"type": "number", "minimum": 3, "maximum": 1}))
    p = result.parameters["properties"]
    assert "min_length" not in p["s"] and "minimum" not in p["n"]
    assert result.lossy


@pytest.mark.parametrize("garbage", [None, 5, "string", [], [1, 2], {"type": 5}, {"properties": []},
                                     {"type": "object", "properties": {"a": 3}, "required": "a"},
                                     {"type": "object", "properties": {"a": {"enum": []}}},
                                     {"type": "object", "properties": {"a": {"type": "string", "minLength": -1, "maxLength": 1.5}}},
                                     {"type": "object", "properties": {"a": {"allOf": {"type": "string"}}}},
                                     {"type": "object", "properties": {"a": {"$ref": "#/properties/a"}}},
                                     {"$ref": "#"}, {"type": "foo"}, {"anyOf": []}, {"oneOf": "x"}])
def test_garbage_never_raises(garbage: Any) -> None:
    result = compiled(garbage)
    assert not any("could not be compiled" in loss for loss in result.losses)
    result.restore_args({"a": 1})
    result.restore_args(None)  # type: ignore[arg-type]


def test_nested_optional_model_like_pydantic_emits() -> None:
    schema = {
        "type": "object",
        "properties": {"filter": {"anyOf": [{"$ref": "#/$defs/Filter"}, {"type": "null"}], "default": None, "description": "Optional filter"}},
        "$defs": {"Filter": {"type": "object", "title": "Filter", "properties": {"field": {"type": "string"}, "op": {"enum": ["eq", "ne"]}}, "required": ["field"]}},
    }
    result = compiled(schema)
    f = result.parameters["properties"]["filter"]
    assert f["type"] == "OBJECT" and f["nullable"] is True and f["description"] == "Optional filter"
    assert f["required"] == ["field"]
    assert result.losses == ()


# ---- property: any JSON-Schema-shaped input compiles to something the SDK accepts -------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

KEYWORDS = [
    "type", "properties", "required", "items", "prefixItems", "additionalProperties", "patternProperties",
    "anyOf", "oneOf", "allOf", "not", "if", "then", "else", "enum", "const", "default", "description",
    "title", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
    "minLength", "maxLength", "pattern", "minItems", "maxItems", "uniqueItems", "minProperties",
    "maxProperties", "propertyNames", "$ref", "$defs", "definitions", "$schema", "nullable",
    "discriminator", "examples", "additionalItems", "contains", "dependentRequired",
]
TYPE_NAMES = st.sampled_from(["string", "integer", "number", "boolean", "array", "object", "null", "STRING", "bogus"])
REFS = st.sampled_from(["#", "#/$defs/a", "#/$defs/b", "#/definitions/a", "#/properties/x", "#/properties/x/items",
                        "#/$defs/missing", "https://example.com/x.json", "#anchor", "#/$defs/a/properties/y"])
SCALARS = (st.none() | st.booleans() | st.integers(-(10**30), 10**30)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=6))
PROP_NAMES = st.sampled_from(["x", "y", "a.b", "$v", "foo-bar", "foo_bar", "1x", "", "é", "k" * 70]) | st.text(max_size=5)


def _extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    typed = st.fixed_dictionaries(
        {},
        optional={
            "type": TYPE_NAMES | st.lists(TYPE_NAMES, max_size=3),
            "properties": st.dictionaries(PROP_NAMES, children, max_size=4),
            "required": st.lists(PROP_NAMES, max_size=3),
            "items": children | st.lists(children, max_size=2),
            "prefixItems": st.lists(children, max_size=2),
            "additionalProperties": children,
            "patternProperties": st.dictionaries(st.sampled_from(["^a", "(?=x)", "["]), children, max_size=2),
            "anyOf": st.lists(children, max_size=3),
            "oneOf": st.lists(children, max_size=3),
            "allOf": st.lists(children, max_size=3),
            "$ref": REFS,
            "enum": st.lists(SCALARS | st.dictionaries(st.text(max_size=2), SCALARS, max_size=2), max_size=4),
            "const": SCALARS,
            "default": SCALARS | st.lists(SCALARS, max_size=2),
            "description": st.text(max_size=10) | SCALARS,
            "format": st.sampled_from(["uuid", "date-time", "int32", "float", "enum", "email"]) | SCALARS,
            "minimum": SCALARS, "exclusiveMaximum": SCALARS, "multipleOf": SCALARS,
            "minLength": SCALARS, "maxItems": SCALARS, "pattern": st.sampled_from(["^a", "(?!b)", "\\1"]) | SCALARS,
            "not": children, "if": children, "discriminator": st.just({"propertyName": "kind"}),
            "nullable": st.booleans(),
        },
    )
    anything = st.dictionaries(st.sampled_from(KEYWORDS) | st.text(max_size=4),
                               children | SCALARS | TYPE_NAMES | st.lists(children | SCALARS, max_size=3), max_size=5)
    return typed | anything | st.lists(children, max_size=2)


SCHEMAS = st.recursive(st.booleans() | SCALARS | st.just({}) | st.builds(dict, type=TYPE_NAMES), _extend, max_leaves=25)
ROOTS = st.one_of(
    SCHEMAS,
    st.builds(lambda s, a, b: {**s, "$defs": {"a": a, "b": b}, "definitions": {"a": b}} if isinstance(s, dict) else s,
              SCHEMAS, SCHEMAS, SCHEMAS),
    st.builds(lambda p, a, r: {"type": "object", "properties": p, "$defs": {"a": a}, "required": r},
              st.dictionaries(PROP_NAMES, SCHEMAS, max_size=5), SCHEMAS, st.lists(PROP_NAMES, max_size=3)),
)
ARGS = st.recursive(SCALARS, lambda c: st.lists(c, max_size=3) | st.dictionaries(PROP_NAMES, c, max_size=3), max_leaves=10)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(schema=ROOTS, args=st.dictionaries(PROP_NAMES, ARGS, max_size=4))
def test_any_schema_compiles_to_something_the_sdk_accepts(schema: Any, args: dict[str, Any]) -> None:
    result = compiled(schema)  # never raises; checks types.Schema, FunctionDeclaration and API rules
    assert not any("could not be compiled" in loss for loss in result.losses), result.losses
    assert isinstance(result.restore_args(args), dict)


def test_benchmark_corpus_compiles_cleanly() -> None:
    from benchmarks.bench_schema_compile import make_schemas

    for schema in make_schemas(300):  # speed is the benchmark's job; here: all valid for the SDK
        result = compiled(schema)
        assert (result.parameters is None) == (not schema["properties"])


# ---- Python callables (local-function tools) --------------------------------------------

import enum  # noqa: E402
from typing import Annotated, Literal, Optional  # noqa: E402

import pydantic  # noqa: E402

from agent.tools.schema import callable_description, compile_callable, json_schema_for_callable  # noqa: E402


class Unit(enum.Enum):
    C = "celsius"
    F = "fahrenheit"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Address(pydantic.BaseModel):
    street: str
    city: str = pydantic.Field(description="City name")
    zip_code: Optional[str] = None  # noqa: UP045 - the compiler must read typing.Optional as well


class Opaque:
    pass


def get_weather(city: str, days: int = 3, unit: Unit = Unit.C, *, detailed: bool = False) -> dict:
    """Get the weather forecast.

    Uses the configured provider.

    Args:
        city: The city to look up,
            e.g. "Paris".
        days (int): How many days.
        unit: Temperature unit.

    Returns:
        The forecast.
    """
    return {}


def test_callable_google_docstring_and_basic_types() -> None:
    assert callable_description(get_weather) == "Get the weather forecast."
    schema = json_schema_for_callable(get_weather)
    p = schema["properties"]
    assert schema["required"] == ["city"]
    assert p["city"] == {"type": "string", "description": 'The city to look up, e.g. "Paris".'}
    assert p["days"] == {"type": "integer", "description": "How many days.", "default": 3}
    assert p["detailed"] == {"type": "boolean", "default": False}
    result = compiled(schema)
    assert result.parameters["properties"]["unit"] == {
        "type": "STRING", "format": "enum", "enum": ["celsius", "fahrenheit"], "default": "celsius",
        "description": "Temperature unit.", "title": "Unit"}
    assert result.losses == ()


def numpy_style(query: str, limit: Optional[int] = None) -> list[str]:  # noqa: UP045 - typing.Optional on purpose
    """Search things.

    Parameters
    ----------
    query : str
        What to search for.
    limit : int, optional
        At most this many
        results.

    Returns
    -------
    list of str
    """
    return []


def sphinx_style(path: str, mode: Literal["r", "w"] = "r", level: Priority = Priority.LOW) -> None:
    """Open a file.

    :param path: The file path.
    :param str mode: Open mode,
        read or write.
    :returns: nothing
    """


def test_callable_numpy_and_sphinx_docstrings() -> None:
    p = json_schema_for_callable(numpy_style)["properties"]
    assert p["query"]["description"] == "What to search for."
    assert p["limit"]["description"] == "At most this many results."
    result = compile_callable(numpy_style)
    assert result.parameters["properties"]["limit"] == {"type": "INTEGER", "nullable": True, "description": "At most this many results."}
    p = json_schema_for_callable(sphinx_style)["properties"]
    assert p["path"]["description"] == "The file path." and p["mode"]["description"] == "Open mode, read or write."
    result = compile_callable(sphinx_style)
    level = result.parameters["properties"]["level"]
    assert level["enum"] == ["1", "2"] and level["default"] == "1"
    assert result.restore_args({"path": "a", "level": "2"}) == {"path": "a", "level": 2}


def complex_args(
    address: Address,
    tags: list[str],
    weights: dict[str, float],
    note: Annotated[str, pydantic.Field(description="A note", max_length=50)] = "",
    backup: Address | None = None,
    anything=None,
    blob: Opaque | None = None,
    *args: int,
    **kwargs: str,
) -> None:
    """Store an address."""


def test_callable_models_containers_and_odd_parameters() -> None:
    schema = json_schema_for_callable(complex_args)
    assert list(schema["properties"]) == ["address", "tags", "weights", "note", "backup", "anything", "blob"]
    assert schema["required"] == ["address", "tags", "weights"]
    result = compiled(schema)
    p = result.parameters["properties"]
    assert p["address"]["type"] == "OBJECT" and p["address"]["required"] == ["street", "city"]
    assert p["address"]["properties"]["city"] == {"type": "STRING", "description": "City name"}
    assert p["backup"]["nullable"] is True and p["backup"]["type"] == "OBJECT"
    assert p["tags"] == {"type": "ARRAY", "items": {"type": "STRING"}}
    assert p["weights"]["type"] == "ARRAY"  # a dict -> {key, value} entries
    assert p["note"]["max_length"] == 50 and p["note"]["description"] == "A note"
    assert p["anything"]["type"] == "STRING"  # unannotated: any JSON value
    assert "Opaque" in p["blob"]["description"]
    args = {"address": {"street": "s", "city": "c"}, "tags": [], "weights": [{"key": "a", "value": 0.5}]}
    assert result.restore_args(args)["weights"] == {"a": 0.5}


def test_callable_without_parameters_and_sdk_equivalence() -> None:
    def ping() -> str:
        """Ping."""
        return "pong"

    assert compile_callable(ping).parameters is None
    sdk = types.FunctionDeclaration.from_callable_with_api_option(callable=get_weather, api_option="GEMINI_API", use_json_schema=True)
    ours = compiled(sdk.parameters_json_schema)  # the SDK's JSON Schema compiles the same way
    assert set(ours.parameters["properties"]) == {"city", "days", "unit", "detailed"}


# ---- hostile schemas: every declaration bounded, every cut reported (issue 13, item 16) ---------


def test_bombs_are_cut_to_the_limits_and_reported() -> None:
    schema = obj(
        text={"type": "string", "description": "d" * 10_000, "pattern": "a" * 5_000},
        choice={"enum": [f"v{i}" for i in range(1_000)], "description": "Pick one."},
        nested=obj(**{f"p{i}": {"type": "integer"} for i in range(300)}),
        const={"const": "c" * 20_000},
    )
    schema["properties"]["nested"]["required"] = ["p299"]
    result = compiled(schema)
    p = result.parameters["properties"]
    assert len(p["text"]["description"]) <= DEFAULT.description and "pattern" not in p["text"]
    assert has_loss(result, "text", "description of 10,000 characters cut to 500")
    assert has_loss(result, "text", "pattern of 5,000 characters not declared")
    assert "enum" not in p["choice"] and p["choice"]["description"].startswith("Pick one. One of 1,000 allowed values, such as: ")
    assert has_loss(result, "choice", "enum of 1,000 values")
    nested = p["nested"]["properties"]
    assert len(nested) == DEFAULT.properties and "p299" in nested and p["nested"]["required"] == ["p299"]
    assert has_loss(result, "nested", "200 of 300 properties not declared")
    assert "enum" not in p["const"] and has_loss(result, "const", "enum of 1 values (20,000 characters)")
    assert len(json.dumps(result.parameters)) < 20_000


def test_a_declaration_over_its_budget_is_compiled_again_with_tighter_limits() -> None:
    schema = obj(**{f"p{i}": {"type": "string", "description": "d" * 600} for i in range(100)})
    result = compiled(schema)
    assert has_loss(result, "compiled again with tighter limits")
    assert len(result.parameters["properties"]) == TIGHT.properties
    assert len(json.dumps(result.parameters)) < 10_000


def test_server_text_in_descriptions_and_losses_is_made_printable() -> None:
    schema = obj(**{"na\x1b[2Jme": {"type": "string", "description": "a\x1b]0;title\x07b\u202ec", "format": "\x1b[31mx"}})
    result = compiled(schema)
    texts = list(result.losses)

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            texts.extend(v for v in node.values() if isinstance(v, str))
            for v in node.values():
                collect(v)

    collect(result.parameters)
    shown = "".join(texts)
    assert not any(c in shown for c in ("\x1b", "\x07", "\u202e"))
    assert "abc" in shown and "name" in shown
