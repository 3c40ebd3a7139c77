"""The tool surface: what fits is declared; past the budget, pinned tools plus find_tools and
call_tool, which the router runs exactly as a direct call; promotion on contextUpdate models."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from agent.events import FunctionCall, FunctionResult
from agent.tools.base import DiscoveredTool
from agent.tools.catalog import ToolSource, build_catalog
from agent.tools.listing import format_table
from agent.tools.meta import CALL_TOOL, FIND_TOOLS
from agent.tools.router import Router
from agent.tools.search import ToolIndex, stem, tokens
from agent.tools.surface import DIRECT, FOUND, PINNED, PROMOTED, Budget, ToolSurface


class Recorder:
    """A real backend that answers with what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((tool, arguments))
        return {"output": f"{tool} ran"}


WORDS = ["issue", "merge request", "pipeline", "branch", "commit", "label", "milestone", "wiki page", "file", "release"]
VERBS = ["create", "list", "get", "update", "delete", "search"]


def many_tools(source: str = "forge") -> list[DiscoveredTool]:
    """60 tools in the shape of a code forge's (GitLab has 118)."""
    out = []
    for word in WORDS:
        for verb in VERBS:
            name = f"{verb}_{word.replace(' ', '_')}"
            schema = {"type": "object", "properties": {"project_id": {"type": "string", "description": "The project's ID or path"},
                                                       "title": {"type": "string"}, "state": {"enum": ["opened", "closed"]}},
                      "required": ["project_id"]}
            out.append(DiscoveredTool(source, name, f"{verb.capitalize()} a {word} in a project. Needs the project ID.", schema))
    return out


def surface_of(*tools: list[DiscoveredTool], budget: Budget, backend: Any = None) -> ToolSurface:
    backend = backend or Recorder()
    sources = [ToolSource(name=ts[0].source, tools=ts, backend=backend) for ts in tools]
    return ToolSurface(build_catalog(sources), budget)


def test_a_catalog_within_the_budget_is_declared_whole() -> None:
    surface = surface_of(many_tools()[:10], budget=Budget(max_tools=64))
    assert not surface.overflow and surface.declared_count == 10
    assert surface.reach("forge__create_issue") == DIRECT
    assert surface.get(FIND_TOOLS) is None and FIND_TOOLS not in surface.names


def test_past_the_tool_budget_pinned_tools_and_the_two_functions_are_declared() -> None:
    budget = Budget(max_tools=8, pins=["forge__list_*"], server_pins={"forge": ["get_issue"]})
    surface = surface_of(many_tools(), budget=budget)
    names = [d.name for d in surface.function_declarations()]
    assert surface.overflow and len(names) <= 8
    assert names[-2:] == [FIND_TOOLS, CALL_TOOL] and "forge__get_issue" in names
    assert surface.reach("forge__list_issue") == PINNED and surface.reach("forge__delete_wiki_page") == FOUND
    assert len(surface.over_budget_pins) == 10 + 1 - 6  # ten list_* and get_issue; room for six
    assert len(surface) == 60  # every tool is still reachable


def test_past_the_size_budget_too() -> None:
    surface = surface_of(many_tools()[:20], budget=Budget(max_tools=64, max_bytes=4_000))
    assert surface.overflow and surface.setup_bytes() <= 4_000


@pytest.mark.anyio
async def test_find_tools_ranks_names_descriptions_and_parameters() -> None:
    surface = surface_of(many_tools(), [DiscoveredTool("clock", "get_current_time", "Get the current time in a timezone.",
                                                      {"type": "object", "properties": {"timezone": {"type": "string"}}})],
                         budget=Budget(max_tools=8))
    found = await surface.find("what time is it in Tokyo", 3)
    assert found[0]["name"] == "clock__get_current_time"
    assert found[0]["parameters"]["properties"]["timezone"] == {"type": "STRING"}
    assert [f["name"] for f in await surface.find("list merge requests", 1)] == ["forge__list_merge_request"]
    assert await surface.find("zzzz qqqq", 5) == []


def test_tokens_split_identifiers_and_stem() -> None:
    assert tokens("getFileContents list_merge_requests") == ["getfilecontents", "get", "fil", "content",
                                                            "list_merge_requests", "list", "merg", "request"]
    assert stem("entries") == stem("entry") and stem("reading") == stem("read") and stem("created") == stem("create")
    assert ToolIndex([]).search("anything") == []


async def run_calls(surface: ToolSurface, calls: list[FunctionCall]) -> list[FunctionResult]:
    answers: list[FunctionResult] = []

    async def respond(results: list[FunctionResult]) -> None:
        answers.extend(results)

    router = Router(surface, respond=respond)
    async with anyio.create_task_group() as tg:
        await tg.start(router.run)
        router.submit(calls)
        with anyio.fail_after(10):
            await router.idle()
        tg.cancel_scope.cancel()
    return sorted(answers, key=lambda r: r.id)


@pytest.mark.anyio
async def test_call_tool_is_routed_like_a_direct_call() -> None:
    backend = Recorder()
    surface = surface_of(many_tools(), budget=Budget(max_tools=8), backend=backend)
    answers = await run_calls(surface, [
        FunctionCall("1", CALL_TOOL, {"name": "forge__update_label", "arguments": '{"project_id": "p", "state": "closed"}'}),
        FunctionCall("2", CALL_TOOL, {"name": "forge__update_label", "arguments": {"title": "no project"}}),
        FunctionCall("3", CALL_TOOL, {"name": "forge__nope", "arguments": {}}),
        FunctionCall("4", CALL_TOOL, {"arguments": {}}),
        FunctionCall("5", FIND_TOOLS, {"query": "delete a release", "limit": 2}),
    ])
    assert [a.name for a in answers] == [CALL_TOOL] * 4 + [FIND_TOOLS]  # answered under the name called
    assert answers[0].response == {"output": "update_label ran"}
    assert backend.calls == [("update_label", {"project_id": "p", "state": "closed"})]  # original names, restored values
    assert "project_id" in answers[1].response["error"] and "invalid arguments" in answers[1].response["error"]
    assert "unknown function 'forge__nope'" in answers[2].response["error"]
    assert "invalid arguments" in answers[3].response["error"] and "name" in answers[3].response["error"]
    assert answers[4].response["output"]["tools"][0]["name"] == "forge__delete_release"


@pytest.mark.anyio
async def test_tools_run_through_call_tool_are_promoted_least_recently_used_first() -> None:
    surface = surface_of(many_tools(), budget=Budget(max_tools=5, pins=["forge__get_issue"], promote=True))
    promoted: list[tuple[list[str], list[str]]] = []
    surface.on_promoted = lambda added, left: promoted.append((added, left))
    calls = [FunctionCall(str(i), CALL_TOOL, {"name": f"forge__{n}", "arguments": {"project_id": "p"}})
             for i, n in enumerate(["list_issue", "list_branch", "list_commit"])]
    await run_calls(surface, calls[:2])
    assert {surface.reach("forge__list_issue"), surface.reach("forge__list_branch")} == {PROMOTED}
    await run_calls(surface, [FunctionCall("d", "forge__list_issue", {"project_id": "p"})])  # a direct call: now the most recent
    await run_calls(surface, calls[2:])
    assert surface.reach("forge__list_commit") == PROMOTED and surface.reach("forge__list_issue") == PROMOTED
    assert surface.reach("forge__list_branch") == FOUND  # the least recently used left
    assert surface.declared_count == 5 and promoted[-1] == (["forge__list_commit"], ["forge__list_branch"])
    assert surface.reach("forge__get_issue") == PINNED


def test_a_catalog_update_keeps_the_object_and_drops_what_left() -> None:
    surface = surface_of(many_tools(), budget=Budget(max_tools=8))
    held = surface
    surface.replace(build_catalog([ToolSource("forge", many_tools()[:3], Recorder())]))
    assert held is surface and not surface.overflow and surface.names == ["forge__create_issue", "forge__list_issue", "forge__get_issue"]


def test_gemini_live_tools_shows_what_is_declared_and_what_find_tools_reaches() -> None:
    surface = surface_of(many_tools(), budget=Budget(max_tools=8, pins=["forge__list_issue"]))
    lines = format_table(surface, {"down": "gone"}, set()).splitlines()
    assert lines[0].split() == ["SERVER", "TOOL", "DECLARED", "AS", "REACHED", "STATUS"]
    assert next(ln for ln in lines if "forge__list_issue " in ln).split()[3] == PINNED
    assert next(ln for ln in lines if "forge__delete_issue " in ln).split()[3] == FOUND
    assert lines[-1].startswith("60 tools: 1 declared directly, 59 reached through find_tools + call_tool (3 declarations")
    plain = format_table(surface_of(many_tools()[:2], budget=Budget()), {}, set()).splitlines()
    assert "REACHED" not in plain[0] and plain[-1] == "2 tools declared"
