"""find_tools ranking on real tool listings: recall@1 and @5, and the time per query at 1,000 tools.

    .venv/bin/python benchmarks/bench_tool_search.py [--corpus benchmarks/data/tool_corpus.json]

The corpus is the tools/list of published MCP servers (PyPI and npm), captured by
benchmarks/capture_tool_corpus.py and committed, so this runs offline. Every tool goes through
the agent's own catalog (names, compiled schemas) as in a session. Queries: the first sentence
of each tool's description (tools without one are skipped); a query scores at k when the tool it
was made from is among the first k results. Tools whose first sentences are the same on two
servers cannot be told apart by such a query, so they are counted apart too ("ambiguous").

Baseline in the same run: bm25s with its default tokenizer and English stopwords over name and
description (what a plain BM25 integration does), against gemini-live's index (agent/tools/
search.py: identifiers split, a light stemmer, names weighted, parameters and the server name
indexed). Time per query: the corpus copied (renamed) to 1,000 tools, each query timed
separately, median and p95, plus the time to build the index. Goals: recall@5 >= 95%, <= 5 ms
per query. Always exits 0.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bm25s  # noqa: E402

from agent.tools.base import DiscoveredTool  # noqa: E402
from agent.tools.catalog import ToolEntry, ToolSource, build_catalog  # noqa: E402
from agent.tools.search import ToolIndex  # noqa: E402

CORPUS = ROOT / "benchmarks" / "data" / "tool_corpus.json"
_SENTENCE = re.compile(r"(?<=[.!?])\s|\n")


class NoBackend:
    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return {"error": "not run in a benchmark"}


def entries(servers: list[dict[str, Any]], copies: int = 1) -> list[ToolEntry]:
    sources = []
    for k in range(copies):
        for s in servers:
            name = s["name"] if k == 0 else f"{s['name']}{k}"
            tools = [DiscoveredTool(name, t["name"], t.get("description") or "", t.get("inputSchema") or {}, t.get("annotations"))
                     for t in s["tools"]]
            sources.append(ToolSource(name=name, tools=tools, backend=NoBackend()))
    return list(build_catalog(sources))


def first_sentence(text: str) -> str:
    return _SENTENCE.split(text.strip(), maxsplit=1)[0].strip()


class PlainBM25:
    """The baseline: bm25s's own tokenizer over name + description."""

    def __init__(self, items: list[ToolEntry]) -> None:
        self.items = items
        self.bm25 = bm25s.BM25()
        texts = [f"{e.declared_name} {e.tool.description}" for e in items]
        self.bm25.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)

    def search(self, query: str, limit: int) -> list[ToolEntry]:
        tokens = bm25s.tokenize([query], stopwords="en", show_progress=False)
        if not tokens.vocab:
            return []
        found, scores = self.bm25.retrieve(tokens, k=min(limit, len(self.items)), show_progress=False, n_threads=1)
        return [self.items[int(i)] for i, s in zip(found[0], scores[0], strict=True) if s > 0]


def recall(index: Any, items: list[ToolEntry], queries: dict[str, str]) -> tuple[float, float, list[str]]:
    at1 = at5 = 0
    misses = []
    for entry in items:
        query = queries.get(entry.declared_name)
        if not query:
            continue
        found = [e.declared_name for e in index.search(query, 5)]
        at1 += bool(found) and found[0] == entry.declared_name
        at5 += entry.declared_name in found
        if entry.declared_name not in found:
            misses.append(f"{entry.declared_name}: {query[:70]!r} -> {found[:2]}")
    n = len(queries)
    return at1 / n, at5 / n, misses


def timing(index: Any, queries: list[str]) -> tuple[float, float]:
    took = []
    for q in queries:
        began = time.perf_counter()
        index.search(q, 5)
        took.append(time.perf_counter() - began)
    took.sort()
    return statistics.median(took) * 1000, took[int(len(took) * 0.95)] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(CORPUS))
    parser.add_argument("--misses", type=int, default=0, help="print this many of gemini-live's misses at 5")
    opts = parser.parse_args()
    servers = json.loads(Path(opts.corpus).read_text())["servers"]
    items = entries(servers)
    sentences = {e.declared_name: first_sentence(e.tool.description) for e in items if e.tool.description.strip()}
    repeated = Counter(sentences.values())
    unique = {n: q for n, q in sentences.items() if repeated[q] == 1}
    print(f"corpus: {len(items)} tools of {len(servers)} published servers; {len(sentences)} queries "
          f"({len(sentences) - len(unique)} ambiguous: the same first sentence as another tool's)")
    for label, index in (("baseline: bm25s, default tokens, name + description", PlainBM25(items)),
                         ("gemini-live find_tools (agent/tools/search.py)", ToolIndex(items))):
        r1, r5, misses = recall(index, items, sentences)
        u1, u5, _ = recall(index, items, unique)
        print(f"{label:<52} recall@1 {r1:6.1%}  recall@5 {r5:6.1%}   unambiguous queries: @1 {u1:6.1%}  @5 {u5:6.1%}")
        if opts.misses and isinstance(index, ToolIndex):
            print("\n".join("  miss " + m for m in misses[: opts.misses]))
    copies = -(-1000 // len(items))
    big = entries(servers, copies)[:1000]
    queries = [first_sentence(e.tool.description) or e.tool.name for e in big]
    for label, make in (("baseline", PlainBM25), ("gemini-live", ToolIndex)):
        began = time.perf_counter()
        index = make(big)
        built = (time.perf_counter() - began) * 1000
        p50, p95 = timing(index, queries)
        print(f"{label:<12} at {len(big):,} tools: {p50:.2f} ms per query (p95 {p95:.2f} ms); index built in {built:.0f} ms")
    print("goals: recall@5 >= 95%, <= 5 ms per query")


if __name__ == "__main__":
    main()
