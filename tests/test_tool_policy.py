"""How each tool runs: behaviour and scheduling per server and per tool pattern, confirmation, and
what each model allows (issue 10, item 1)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from google.genai import types

from agent.config import Config, McpServerConfig, ToolSettings, load_config
from agent.errors import ConfigError, UserError
from agent.profiles import profile_for
from agent.tools.base import DiscoveredTool
from agent.tools.policy import SourceSettings, check, describe, resolve
from tests.conftest import TEXT_ONLY, run_agent
from tests.fakes.live_server import FakeConnection
from tests.fakes.mcp_servers import stdio_command


def tool(name: str, **annotations: Any) -> DiscoveredTool:
    return DiscoveredTool(source="notes", name=name, annotations=annotations or None)


def server(**settings: Any) -> SourceSettings:
    return SourceSettings.for_server(McpServerConfig(name="notes", command="x", **settings))


def profile(model: str) -> Any:
    return profile_for(model)[0]


def test_async_models_declare_non_blocking_and_answer_when_idle() -> None:
    for model in ("gemini-3.8-live", "gemini-3.8-live-extended-thinking"):
        policy = resolve(profile(model), server(), tool("add_note"))
        assert policy.non_blocking and policy.declared == types.Behavior.NON_BLOCKING
        assert policy.final_scheduling() == "WHEN_IDLE" and not policy.confirm and not policy.conflict


def test_sync_only_leaves_behaviour_unset_and_sync_and_async_unset_unless_read_only() -> None:
    legacy = resolve(profile("gemini-3.1-flash-live-preview"), server(), tool("add_note", readOnlyHint=True))
    assert not legacy.non_blocking and legacy.declared is None and legacy.final_scheduling() is None
    native = profile("gemini-2.5-flash-native-audio-preview-09-2025")
    assert resolve(native, server(), tool("add_note")).declared is None
    read_only = resolve(native, server(), tool("list_notes", readOnlyHint=True))
    assert read_only.declared == types.Behavior.NON_BLOCKING and read_only.final_scheduling() == "WHEN_IDLE"


def test_server_settings_then_tool_patterns_later_tables_winning() -> None:
    settings = server(
        scheduling="silent",
        tools={"delete_*": ToolSettings(behavior="blocking"), "*_all": ToolSettings(scheduling="interrupt")},
    )
    p38 = profile("gemini-3.8-live")
    assert resolve(p38, settings, tool("add_note")).final_scheduling() == "SILENT"
    delete = resolve(p38, settings, tool("delete_note"))
    assert delete.declared == types.Behavior.BLOCKING and not delete.non_blocking and delete.final_scheduling() is None
    assert "has no effect" in delete.warning  # silent scheduling on a blocking call
    both = resolve(p38, settings, tool("delete_all"))
    assert both.declared == types.Behavior.BLOCKING  # the later table sets only scheduling
    assert resolve(p38, settings, tool("clear_all")).final_scheduling() == "INTERRUPT"
    assert describe(resolve(p38, settings, tool("clear_all"))) == "non-blocking, interrupt"


def test_blocking_on_an_async_only_model_is_a_conflict_naming_server_tool_and_key() -> None:
    settings = server(tools={"delete_*": ToolSettings(behavior="blocking")})
    policy = resolve(profile("gemini-3.8-live-extended-thinking"), settings, tool("delete_note"))
    assert policy.declared == types.Behavior.NON_BLOCKING  # what a later catalog would declare anyway
    assert "MCP server 'notes', tool 'delete_note'" in policy.conflict
    assert 'mcp_servers.notes.tools."delete_*".behavior' in policy.conflict
    with pytest.raises(UserError, match="delete_note"):
        check([policy])
    legacy = resolve(profile("gemini-3.1-flash-live-preview"), server(behavior="non_blocking"), tool("add_note"))
    assert "mcp_servers.notes.behavior" in legacy.conflict and legacy.declared is None


def test_confirmation_from_annotations_patterns_and_overrides() -> None:
    p38 = profile("gemini-3.8-live")
    assert resolve(p38, server(), tool("wipe", destructiveHint=True)).confirm
    assert not resolve(p38, server(), tool("peek", destructiveHint=True, readOnlyHint=True)).confirm
    assert not resolve(p38, server(confirm=False), tool("wipe", destructiveHint=True)).confirm
    assert resolve(p38, server(confirm=["send_*"]), tool("send_mail")).confirm
    assert not resolve(p38, server(confirm=["send_*"]), tool("read_mail")).confirm
    assert resolve(p38, server(confirm=["send_*"]), tool("wipe", destructiveHint=True)).confirm  # patterns add to hints
    override = server(confirm=True, tools={"read_*": ToolSettings(confirm=False)})
    assert not resolve(p38, override, tool("read_mail")).confirm and resolve(p38, override, tool("send_mail")).confirm


def test_local_tools_match_the_function_or_module_dot_function(clean_env: Path) -> None:
    config = Config(local_tools={"functions.delete_*": ToolSettings(confirm=True), "slow_*": ToolSettings(scheduling="silent")})
    settings = SourceSettings.for_module(config, "functions")
    p38 = profile("gemini-3.8-live")
    assert resolve(p38, settings, DiscoveredTool(source="functions", name="delete_file")).confirm
    assert not resolve(p38, settings, DiscoveredTool(source="other", name="delete_file")).confirm
    assert resolve(p38, settings, DiscoveredTool(source="other", name="slow_sum")).final_scheduling() == "SILENT"


def test_toml_tables_load_and_bad_values_name_the_key(clean_env: Path) -> None:
    (clean_env / "gemini-live.toml").write_text(
        'yes = true\nconfirm_timeout = 5\n[local_tools."delete_*"]\nconfirm = true\n'
        '[mcp_servers.notes]\ncommand = "x"\nscheduling = "silent"\nconfirm = ["send_*"]\n'
        '[mcp_servers.notes.tools."delete_*"]\nbehavior = "blocking"\n'
    )
    config = load_config()
    notes = config.mcp_servers["notes"]
    assert config.yes and config.confirm_timeout == 5 and config.local_tools["delete_*"].confirm is True
    assert notes.scheduling == "silent" and notes.confirm == ["send_*"] and notes.tools["delete_*"].behavior == "blocking"
    (clean_env / "gemini-live.toml").write_text('[mcp_servers.notes]\ncommand = "x"\n[mcp_servers.notes.tools."d*"]\nbehavior = "sometimes"\n')
    with pytest.raises(ConfigError) as e:
        load_config()
    assert 'mcp_servers.notes.tools.d*.behavior' in str(e.value)


# ---- the whole agent on the fake Live server ------------------------------------------------


def notes_server(**extra: Any) -> str:
    command, args = stdio_command("basic")
    lines = ["[mcp_servers.basic]", f"command = {json.dumps(command)}", f"args = {json.dumps(args)}"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    return "\n".join(lines) + '\n[mcp_servers.basic.tools."sleep"]\nbehavior = "blocking"\n'


def test_on_38_declarations_carry_behaviour_and_final_answers_are_named_and_scheduled(live, clean_env: Path) -> None:
    (clean_env / "gemini-live.toml").write_text(notes_server())
    got: list[dict[str, Any]] = []
    declared: dict[str, str] = {}

    async def model(conn: FakeConnection) -> None:
        declared.update({d["name"]: d.get("behavior", "") for d in conn.tool_declarations})
        await conn.expect_text()
        await conn.send_tool_call({"id": "a", "name": "basic__add", "args": {"a": 1, "b": 2}},
                                  {"id": "s", "name": "basic__sleep", "args": {"seconds": 0.01}})
        while len(got) < 2:
            got.extend(await conn.expect_tool_response())
        await conn.send_text("done")

    live(model)
    result = run_agent(*TEXT_ONLY, "--model", "gemini-3.8-live", input="go\n")
    assert result.status == 0, result.stderr
    assert declared["basic__add"] == "NON_BLOCKING" and declared["basic__sleep"] == "BLOCKING"
    by_id = {r["id"]: r for r in got}
    assert by_id["a"]["name"] == "basic__add" and by_id["a"]["scheduling"] == "WHEN_IDLE"
    assert by_id["s"]["name"] == "basic__sleep" and "scheduling" not in by_id["s"]


def test_blocking_on_extended_thinking_exits_2_before_connecting(live, clean_env: Path) -> None:
    (clean_env / "gemini-live.toml").write_text(notes_server())
    fake = live()
    result = run_agent(*TEXT_ONLY, "--model", "gemini-3.8-live-extended-thinking", input="go\n")
    assert result.status == 2, result.stderr
    assert "MCP server 'basic', tool 'sleep'" in result.stderr and 'mcp_servers.basic.tools."sleep".behavior' in result.stderr
    assert "Traceback" not in result.stderr
    assert fake.connections == []


def test_the_tools_command_exits_2_for_the_same_conflict(clean_env: Path) -> None:
    (clean_env / "gemini-live.toml").write_text('model = "gemini-3.8-live-extended-thinking"\n' + notes_server())
    result = run_agent("tools")
    assert result.status == 2 and "tool 'sleep'" in result.stderr


def test_the_tools_command_says_how_each_tool_runs(clean_env: Path) -> None:
    command, args = stdio_command("people")
    (clean_env / "gemini-live.toml").write_text(
        f'[mcp_servers.people]\ncommand = {json.dumps(command)}\nargs = {json.dumps(args)}\n[mcp_servers.people.tools."count"]\nscheduling = "silent"\n'
    )
    result = run_agent("tools")
    assert result.status == 0, result.stderr
    lines = {line.split()[1]: line for line in result.stdout.splitlines() if line.startswith("people ")}
    assert "non-blocking, silent; ok" in lines["count"] and "non-blocking, asks first; ok" in lines["delete_note"]
