"""Long server text cut where a reader would: after a sentence, else after a word, marked; and
the catalog's report of every cut description."""

from __future__ import annotations

from typing import Any

from agent.tools.base import DiscoveredTool
from agent.tools.catalog import LOSSY, TRIM_MARKER, ToolSource, build_catalog
from agent.tools.text_cut import cut_text


class Backend:
    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return {"output": tool}


def test_descriptions_are_cut_after_a_sentence() -> None:
    text = "Reads a file. It returns the text and the size. " + "Long details follow here. " * 20
    assert cut_text(text, 60, " [cut]") == "Reads a file. It returns the text and the size. [cut]"
    assert cut_text("one two three four five six seven", 20, "…") == "one two three four…"
    assert cut_text("x" * 50, 10, "…") == "x" * 9 + "…"
    # A sentence that would keep less than half of what fits gives way to the last whole word.
    assert cut_text("Intro.\n\n## Parameters explained\n- a: thing", 30, "…") == "Intro.\n\n## Parameters…"
    assert cut_text("A first sentence here.\n\n## Parameters explained", 30, "…") == "A first sentence here.…"


def test_a_tool_description_is_cut_after_a_sentence_and_the_cut_reported() -> None:
    thinking = ("A tool for dynamic problem-solving through thoughts. Each thought can build on previous insights. "
                "When to use this tool: breaking down complex problems into steps.\n\nParameters explained:\n- thought: your step")
    tool = DiscoveredTool("seq", "sequentialthinking", thinking, {"type": "object", "properties": {"thought": {"type": "string"}}})
    cut = build_catalog([ToolSource("seq", [tool], Backend())], description_limit=120)
    entry = cut.get("seq__sequentialthinking")
    assert entry.description == "A tool for dynamic problem-solving through thoughts. Each thought can build on previous insights." + TRIM_MARKER
    row = cut.rows[0]
    assert row.status == LOSSY and f"description of {len(thinking):,} characters cut to 120 (at the end of a sentence" in row.detail
    whole = build_catalog([ToolSource("seq", [tool], Backend())], description_limit=1024)
    assert whole.get("seq__sequentialthinking").description == thinking and whole.rows[0].status != LOSSY
