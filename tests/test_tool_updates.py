"""Tools that change while the agent runs, with real MCP servers over stdio: list_changed, a
restart that lists other tools, late servers that join, required ones that hold the start."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import anyio
import pytest

from agent.config import Config, McpServerConfig, load_config
from agent.tools.toolset import ToolSet
from agent.tools.updates import ToolChange
from tests.fakes import changing_server
from tests.fakes.mcp_servers import stdio_command

pytestmark = pytest.mark.anyio


def server(name: str, command: tuple[str, list[str]], **kw: Any) -> McpServerConfig:
    return McpServerConfig(name=name, command=command[0], args=command[1], **kw)


def config_with(*servers: McpServerConfig, **kw: Any) -> Config:
    return load_config(None, {"mcp_servers": {}, **kw}).model_copy(update={"mcp_servers": {s.name: s for s in servers}})


async def next_change(changes: list[ToolChange], seen: int, timeout: float = 30) -> ToolChange:
    with anyio.fail_after(timeout):
        while len(changes) <= seen:
            await anyio.sleep(0.02)
    return changes[seen]


async def test_list_changed_rebuilds_the_catalog_in_place(clean_env: Path) -> None:
    config = config_with(server("ch", changing_server.command()))
    toolset = ToolSet(config)
    changes: list[ToolChange] = []
    toolset.updates.on_change = changes.append
    async with anyio.create_task_group() as tg:
        catalog = await tg.start(toolset.run)
        assert catalog.names == ["ch__unlock", "ch__toggle", "ch__old"]
        entry = catalog.get("ch__unlock")
        assert await entry.backend.call("unlock", {}) == {"output": {"result": "unlocked"}}
        change = await next_change(changes, 0)
        assert change.added == ("ch__secret",) and change.removed == ("ch__old",) and change.declarations_changed
        assert change.text() == "tools: +ch__secret −ch__old"
        assert catalog is toolset.surface and catalog.names == ["ch__unlock", "ch__toggle", "ch__secret"]
        assert await catalog.get("ch__secret").backend.call("secret", {"word": "!"}) == {"output": {"result": "the secret is 42 !"}}
        tg.cancel_scope.cancel()


async def test_a_restarted_server_that_lists_other_tools_is_noticed(clean_env: Path) -> None:
    flip = clean_env / "flip"
    config = config_with(server("ch", changing_server.command("--flip-file", str(flip))))
    toolset = ToolSet(config)
    changes: list[ToolChange] = []
    toolset.updates.on_change = changes.append
    async with anyio.create_task_group() as tg:
        catalog = await tg.start(toolset.run)
        assert "ch__old" in catalog.names
        mcp = toolset.hub.server("ch")
        flip.write_text("")  # the next version of the server lists `secret` instead of `old`
        os.killpg(mcp.processes[-1].pid, signal.SIGKILL)
        with anyio.fail_after(10):
            while mcp.state == "ready":
                await anyio.sleep(0.02)
        assert await catalog.get("ch__unlock").backend.call("unlock", {}) == {"output": {"result": "unlocked"}}  # restarts it
        change = await next_change(changes, 0)
        assert (change.added, change.removed) == (("ch__secret",), ("ch__old",))
        tg.cancel_scope.cancel()


async def test_late_servers_join_when_ready_and_required_ones_hold_the_start(clean_env: Path) -> None:
    config = config_with(
        server("quick", stdio_command("basic")),
        server("late", stdio_command("weird", "--start-delay", "3")),
        server("needed", stdio_command("notype", "--start-delay", "1"), required=True),
        server("broken", stdio_command("basic", "--start-delay", "2", "--exit-at-start", "4")),
    )
    toolset = ToolSet(config, startup_wait=0.2)
    changes: list[ToolChange] = []
    toolset.updates.on_change = changes.append
    async with anyio.create_task_group() as tg:
        catalog = await tg.start(toolset.run)
        sources = {r.server for r in catalog.rows}
        assert {"quick", "needed"} <= sources and "late" not in sources  # the required one was waited for
        assert {s.name for s in toolset.hub.starting} >= {"late"}
        change = await next_change(changes, 0)
        assert set(change.added) == {"late__draw", "late__pick", "late__nothing"} and not change.removed
        assert catalog.get("late__nothing") is not None
        with anyio.fail_after(30):
            await toolset.hub.server("broken").wait_started()
        assert toolset.failures.keys() == {"broken"}
        tg.cancel_scope.cancel()
