"""The whole agent (a subprocess) against the fake Live server with real stdio MCP servers:
a tool added mid-session reaches the model (contextUpdate on 3.8, a resumed reconnect on 2.5)
and its call is answered; 600+ tools start within the declaration budget and every one is
reachable through find_tools + call_tool; a server that takes 20 s to start does not hold the
session, and its tools arrive when it is ready."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.tools.names import declared_name
from tests.conftest import agent_command
from tests.fakes import changing_server
from tests.fakes.live_models import declarations_of
from tests.fakes.live_server import FakeConnection, FakeLiveServer

HEADLESS = ("--no-audio-input", "--no-audio-output", "--text-output", "--no-search")
CORPUS = changing_server.CORPUS
BATCH = 50


def mcp_json(path: Path, **servers: list[str]) -> str:
    path.write_text(json.dumps({"mcpServers": {name: {"command": sys.executable, "args": args} for name, args in servers.items()}}))
    return str(path)


def run_until(server: FakeLiveServer, done: Callable[[], bool], *args: str, timeout: float = 60) -> tuple[int, str, str]:
    """Run the agent with stdin open (so it stays) until the server's records satisfy `done`.
    Its output goes to files: a pipe nobody reads would fill and stop it."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(agent_command(*HEADLESS, *args), stdin=subprocess.PIPE, stdout=out, stderr=err, text=True)
        assert proc.stdin is not None
        proc.stdin.write("hi\n")
        proc.stdin.flush()
        try:
            server.wait_for(lambda: done() or proc.poll() is not None, timeout=timeout)
        finally:
            proc.stdin.close()  # the agent finishes what the model started and exits
            proc.wait(timeout=60)
        out.seek(0)
        err.seek(0)
        return proc.returncode, out.read(), err.read()


def responded(server: FakeLiveServer, call_id: str) -> bool:
    return any(m.kind == "tool_response" and any(r.get("id") == call_id for r in m.function_responses) for _, m in server.log)


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_tool_added_by_list_changed_reaches_38_and_its_call_is_answered(live, clean_env: Path) -> None:
    answers: list[dict[str, Any]] = []
    declared: list[set[str]] = []

    async def model(conn: FakeConnection) -> None:
        declared.append({d["name"] for d in conn.tool_declarations})
        await conn.expect_text()
        await conn.send_tool_call({"id": "u1", "name": "changing__unlock", "args": {}})
        answers.extend(await conn.expect_tool_response())
        await conn.send_text("unlocked")
        update = await conn.expect("context_update", timeout=30)
        declared.append({d["name"] for d in declarations_of(update.body["tools"]["tools"])})
        await conn.send_tool_call({"id": "s1", "name": "changing__secret", "args": {"word": "now"}})
        answers.extend(await conn.expect_tool_response())
        await conn.send_text("the secret is 42")
        await conn.wait_closed(timeout=60)

    server = live(model)
    log = clean_env / "session.jsonl"
    servers = mcp_json(clean_env / "servers.json", changing=changing_server.command()[1])
    status, out, err = run_until(server, lambda: responded(server, "s1"), "--mcp-config", servers, "--log-file", str(log))
    assert status == 0, err
    assert declared[0] == {"changing__unlock", "changing__toggle", "changing__old"}
    assert declared[1] == {"changing__unlock", "changing__toggle", "changing__secret"}  # the whole new list
    assert (answers[1]["id"], answers[1]["name"]) == ("s1", "changing__secret")
    assert answers[1]["response"] == {"output": {"result": "the secret is 42 now"}}
    assert "tools: +changing__secret −changing__old" in err
    conn = server.connections[0]
    assert conn.violation is None and len(server.connections) == 1
    change = next(r for r in records(log) if r["event"] == "tools_changed")
    assert change["added"] == ["changing__secret"] and change["removed"] == ["changing__old"]
    assert any(r["event"] == "tools_updated" and r["how"] == "context_update" for r in records(log))


def test_on_25_the_new_tool_arrives_through_a_resumed_reconnect(live, clean_env: Path) -> None:
    answers: list[dict[str, Any]] = []

    async def model(conn: FakeConnection) -> None:
        if conn.index == 0:
            await conn.expect_text()
            await conn.send_tool_call({"id": "u1", "name": "changing__unlock", "args": {}})
            answers.extend(await conn.expect_tool_response())
            await conn.resumption_update("h1")
            await conn.send_text("unlocked")
        else:
            await conn.send_tool_call({"id": "s1", "name": "changing__secret", "args": {}})
            answers.extend(await conn.expect_tool_response())
            await conn.send_text("the secret is 42")
        await conn.wait_closed(timeout=60)

    server = live(model)
    servers = mcp_json(clean_env / "servers.json", changing=changing_server.command()[1])
    status, out, err = run_until(server, lambda: responded(server, "s1"), "--mcp-config", servers,
                                 "--model", "gemini-2.5-flash-native-audio-preview-12-2025")
    assert status == 0, err
    first, second = server.connections[0], server.connections[1]
    assert {d["name"] for d in first.tool_declarations} == {"changing__unlock", "changing__toggle", "changing__old"}
    assert second.setup["session_resumption"] == {"handle": "h1"}
    assert {d["name"] for d in second.tool_declarations} == {"changing__unlock", "changing__toggle", "changing__secret"}
    assert answers[1]["response"] == {"output": {"result": "the secret is 42"}}
    assert not any(m.kind == "context_update" for _, m in server.log)


def test_600_tools_start_within_the_budget_and_every_one_is_reachable(live, clean_env: Path) -> None:
    tools = changing_server.corpus_tools(CORPUS, 1000, 2)
    names = [declared_name("corpus", t["name"]) for t in tools]
    assert len(names) >= 600
    found: dict[str, list[str]] = {}
    results: dict[str, dict[str, Any]] = {}
    setup: list[dict[str, Any]] = []

    async def collect(conn: FakeConnection, ids: set[str], into: dict[str, Any]) -> None:
        while not ids <= into.keys():
            for r in await conn.expect_tool_response(timeout=60):
                into[r["id"]] = r["response"]

    async def model(conn: FakeConnection) -> None:
        setup.append(conn.setup)
        await conn.expect_text()
        answers: dict[str, Any] = {}
        for start in range(0, len(names), BATCH):  # a toolCall of BATCH calls at a time
            batch = range(start, min(start + BATCH, len(names)))
            await conn.send_tool_call(*({"id": f"f{i}", "name": "find_tools", "args": {"query": names[i]}} for i in batch))
            await collect(conn, {f"f{i}" for i in batch}, answers)
            await conn.send_tool_call(*({"id": f"c{i}", "name": "call_tool", "args": {"name": names[i], "arguments": "{}"}} for i in batch))
            await collect(conn, {f"c{i}" for i in batch}, results)
        found.update({names[int(k[1:])]: [t["name"] for t in v["output"]["tools"]] for k, v in answers.items()})
        await conn.send_text("done")
        await conn.wait_closed(timeout=60)

    server = live(model)
    servers = mcp_json(clean_env / "servers.json", corpus=changing_server.command("--corpus", str(CORPUS), "--copies", "2")[1])
    status, out, err = run_until(server, lambda: any(r.get("id") == f"c{len(names) - 1}" for _, m in server.log
                                                     for r in m.function_responses), "--mcp-config", servers, "--yes", timeout=240)
    assert status == 0, err
    declarations = declarations_of(setup[0]["tools"])
    assert len(declarations) <= 64 and {"find_tools", "call_tool"} <= {d["name"] for d in declarations}
    assert len(json.dumps(setup[0]).encode()) < 100_000
    assert all(name in found[name] for name in names)  # found by its name
    for i, name in enumerate(names):
        response = results[f"c{i}"]
        ran = f"called {tools[i]['name']} with {{}}" in str(response.get("output"))
        assert ran or "invalid arguments" in str(response.get("error", "")), (name, response)  # its own schema checked it
    free = [i for i, t in enumerate(tools) if not (t.get("inputSchema") or {}).get("required")]  # run with no arguments
    assert sum("output" in results[f"c{i}"] for i in free) > 100


def test_a_server_that_takes_20_s_to_start_does_not_hold_the_session(live, clean_env: Path) -> None:
    async def model(conn: FakeConnection) -> None:
        await conn.expect_text()
        await conn.send_text("hello")
        update = await conn.expect("context_update", timeout=60)
        assert "slow__unlock" in {d["name"] for d in declarations_of(update.body["tools"]["tools"])}
        await conn.send_tool_call({"id": "u1", "name": "slow__unlock", "args": {}})
        await conn.expect_tool_response()
        await conn.send_text("unlocked")
        await conn.wait_closed(timeout=60)

    server = live(model)
    servers = mcp_json(clean_env / "servers.json", slow=changing_server.command("--start-delay", "20")[1],
                       quick=changing_server.command()[1])
    status, out, err = run_until(server, lambda: responded(server, "u1"), "--mcp-config", servers, timeout=90)
    assert status == 0, err
    conn = server.connections[0]
    assert {d["name"] for d in declarations_of(conn.setup["tools"])} == {"quick__unlock", "quick__toggle", "quick__old"}
    kinds = [m.kind for m in conn.received]
    assert kinds.index("realtime_input") < kinds.index("context_update")  # the session ran while it started
    assert "MCP server slow is still starting" in err and "tools: +slow__unlock +slow__toggle +slow__old" in err
