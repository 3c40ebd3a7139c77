"""Time compiling 1,000 varied, realistic MCP tool schemas to Gemini `parameters`.

Prints the best-of-N time against the goal (< 200 ms for all 1,000) and, from the same run,
baselines on the same schemas (a JSON round trip, building jsonschema validators) so figures
can be compared across machines. Run: .venv/bin/python benchmarks/bench_schema_compile.py
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.tools.schema import compile_schema  # noqa: E402

GOAL_MS = 200.0
N_SCHEMAS = 1000
RUNS = 5
SEED = 20240611

WORDS = ["path", "query", "owner", "repo", "limit", "page", "branch", "title", "body", "labels", "url",
         "timezone", "database", "table", "sql", "content", "mode", "id", "name", "tags", "filters"]


def _leaf(rng: random.Random) -> dict[str, Any]:
    kind = rng.randrange(12)
    desc = {"description": f"The {rng.choice(WORDS)} to use"} if rng.random() < 0.7 else {}
    if kind == 0:
        return {"type": "string", "format": rng.choice(["uuid", "uri", "date", "date-time", "email", "json"]), **desc}
    if kind == 1:
        return {"type": "integer", "minimum": 1, "maximum": rng.choice([50, 100, 1000]), "default": 10, **desc}
    if kind == 2:
        return {"type": "number", "exclusiveMinimum": 0, **desc}
    if kind == 3:
        return {"type": "boolean", "default": rng.random() < 0.5, **desc}
    if kind == 4:
        return {"type": "string", "enum": rng.sample(["asc", "desc", "open", "closed", "all"], 3), **desc}
    if kind == 5:
        return {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None, "title": "Opt", **desc}
    if kind == 6:
        return {"type": ["integer", "null"], **desc}
    if kind == 7:
        return {"const": rng.choice(["v1", 2, True]), **desc}
    if kind == 8:
        return {"type": "array", "items": {"type": "string", "minLength": 1}, "maxItems": 20, **desc}
    if kind == 9:
        return {"type": "object", "additionalProperties": {"type": "string"}, **desc}
    if kind == 10:
        return {**desc}  # {} : any value
    return {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[a-z0-9-]+$", **desc}


def _object(rng: random.Random, depth: int) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for _ in range(rng.randint(1, 7)):
        name = rng.choice(WORDS) + rng.choice(["", "_id", "Name", "-x", "s"])
        if rng.random() < 0.03:
            name = "$" + name
        props[name] = _object(rng, depth + 1) if depth < 2 and rng.random() < 0.15 else _leaf(rng)
    out = {"type": "object", "properties": props, "required": rng.sample(list(props), rng.randint(0, len(props)))}
    if rng.random() < 0.55:
        out["additionalProperties"] = False
    return out


def _schema(rng: random.Random) -> dict[str, Any]:
    style = rng.randrange(10)
    root = _object(rng, 0)
    if style < 4:  # zod / pydantic-strict
        root["$schema"] = "http://json-schema.org/draft-07/schema#"
    elif style == 4:  # pydantic with $defs and refs
        root["$defs"] = {"Item": _object(rng, 1), "Kind": {"type": "string", "enum": ["a", "b"]}}
        root["properties"]["item"] = {"$ref": "#/$defs/Item", "description": "The item"}
        root["properties"]["kind"] = {"anyOf": [{"$ref": "#/$defs/Kind"}, {"type": "null"}], "default": None}
    elif style == 5:  # oneOf with a discriminator
        root["properties"]["shape"] = {
            "oneOf": [{"type": "object", "properties": {"type": {"const": "a"}, "x": {"type": "number"}}},
                      {"type": "object", "properties": {"type": {"const": "b"}, "y": {"type": "string"}}}],
            "discriminator": {"propertyName": "type"},
        }
    elif style == 6:  # recursive
        root["$defs"] = {"Node": {"type": "object", "properties": {
            "name": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}}}}
        root["properties"]["tree"] = {"$ref": "#/$defs/Node"}
    elif style == 7:  # allOf and tuples
        root["properties"]["range"] = {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "integer"}]}
        root["properties"]["merged"] = {"allOf": [{"type": "object", "properties": {"a": {"type": "string"}}},
                                                  {"properties": {"b": {"type": "integer"}}, "required": ["b"]}]}
    elif style == 8:
        root = {"type": "object", "properties": {}}  # no arguments
    return root


def make_schemas(n: int = N_SCHEMAS, seed: int = SEED) -> list[dict[str, Any]]:
    """`n` deterministic, varied tool inputSchemas (JSON round-tripped, as they come off the wire)."""
    rng = random.Random(seed)
    return [json.loads(json.dumps(_schema(rng))) for _ in range(n)]


def best_of(fn: Callable[[], object], runs: int = RUNS) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def main() -> int:
    import jsonschema

    schemas = make_schemas()
    compile_ms = best_of(lambda: [compile_schema(s) for s in schemas])
    json_ms = best_of(lambda: [json.loads(json.dumps(s)) for s in schemas])
    validator_ms = best_of(lambda: [jsonschema.validators.validator_for(s)(s) for s in schemas])
    results = [compile_schema(s) for s in schemas]
    lossy = sum(r.lossy for r in results)
    print(f"schemas: {len(schemas)} (seed {SEED}), best of {RUNS} runs; {lossy} compile with losses")
    print(f"compile_schema:             {compile_ms:8.1f} ms   goal < {GOAL_MS:.0f} ms   "
          f"{'OK' if compile_ms < GOAL_MS else 'OVER GOAL'}")
    print(f"baseline json round trip:   {json_ms:8.1f} ms   (compile = {compile_ms / json_ms:.1f}x)")
    print(f"baseline jsonschema build:  {validator_ms:8.1f} ms   (compile = {compile_ms / validator_ms:.1f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
