"""The real agent against the fake Live server set to each model: the setup each accepts, and
each model's way of ending an interaction, taking text and handling calls."""

from __future__ import annotations

import asyncio
import io
import json
import wave
from pathlib import Path

import anyio
import numpy as np
import pytest

from agent.app import Agent
from agent.config import load_config
from agent.console import Console
from tests.conftest import ROOT, TEXT_ONLY, FakeStdin, run_agent
from tests.fakes.live_server import FakeConnection

EXAMPLES = str(ROOT / "config" / "function_examples.py")
HEADLESS = ("--no-audio-input", "--no-audio-output")


def modalities(conn: FakeConnection) -> list[str]:
    return conn.setup["generation_config"]["response_modalities"]


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_38_text_output_asks_for_audio_and_prints_the_transcript(live) -> None:
    server = live()
    result = run_agent("--no-audio-input", "--text-output", input="hi\n")
    assert result.status == 0, result.stderr
    assert result.stdout == "echo: hi\n"
    conn = server.connections[0]
    assert conn.model == "gemini-3.8-live" and conn.rejected is None
    assert modalities(conn) == ["AUDIO"] and "output_audio_transcription" in conn.setup
    assert [m.kind for m in conn.received if m.text] == ["realtime_input"]
    assert result.stderr.count("answers in audio only") == 1


def test_38_code_execution_exits_2_naming_the_model(live) -> None:
    server = live()
    result = run_agent("--no-audio-input", "--text-output", "--code-execution", input="hi\n")
    assert result.status == 2
    assert "gemini-3.8-live has no code execution" in result.stderr
    assert server.connections == []  # refused before connecting


def test_thinking_level_where_the_model_has_none_exits_2(live) -> None:
    server = live()
    result = run_agent(*HEADLESS, "--thinking-level", "low", input="")
    assert result.status == 2 and "gemini-3.8-live takes no thinking level" in result.stderr
    assert server.connections == []


def test_extended_thinking_runs_through_in_progress_to_idle(live, clean_env: Path) -> None:
    """turnComplete with IN_PROGRESS does not end the interaction; the calls after it are
    answered (with their names) and the headless run exits 0 only at IDLE."""
    responses: list[dict] = []

    async def thinker(conn: FakeConnection) -> None:
        await conn.expect_text()
        await conn.send_text("Let me work that out.", complete=False)
        await conn.turn_complete(interaction="IN_PROGRESS")
        await asyncio.sleep(0.5)  # background reasoning: the agent must still be here
        await conn.send_tool_call({"id": "c1", "name": "function_examples__calculate", "args": {"expression": "6*7"}})
        responses.extend(await conn.expect_tool_response())
        await conn.send_text("It is 42.", complete=False)
        await conn.turn_complete(interaction="IN_PROGRESS")
        await asyncio.sleep(0.3)
        await conn.interaction_idle()

    server = live(thinker)
    log = clean_env / "session.jsonl"
    result = run_agent(
        *HEADLESS, "--model", "gemini-3.8-live-extended-thinking", "--thinking-level", "medium",
        "--import-functions", EXAMPLES, "--log-file", str(log), input="what is six times seven?\n",
    )
    assert result.status == 0, result.stderr
    assert result.stdout == "Let me work that out.\nIt is 42.\n"
    assert responses == [{"id": "c1", "name": "function_examples__calculate", "response": {"output": 42.0}, "scheduling": "WHEN_IDLE"}]
    conn = server.connections[0]
    assert conn.rejected is None and conn.setup["generation_config"]["thinking_config"] == {"thinking_level": "MEDIUM"}
    ends = [r for r in records(log) if r["event"] == "turn_complete"]
    assert [(e["interaction"], e["done"]) for e in ends] == [("IN_PROGRESS", False), ("IN_PROGRESS", False), ("IDLE", True)]


def write_tone(path: Path, seconds: float, rate: int = 16_000) -> None:
    t = np.arange(int(seconds * rate)) / rate
    pcm = (0.5 * 32767 * np.sin(2 * np.pi * 440 * t)).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


SLOW_TOOL = '''
import time


def slow_lookup(query: str) -> str:
    """Look something up, slowly."""
    time.sleep(1.0)
    return f"found {query}"
'''


def test_31_holds_realtime_input_while_a_call_is_unanswered(live, clean_env: Path) -> None:
    """gemini-3.1 closes the socket (1008) for realtime input during a synchronous call: the
    agent drops mic frames meanwhile (counted) and the session goes on."""
    wav = clean_env / "question.wav"
    write_tone(wav, 2.5)
    tools = clean_env / "slow.py"
    tools.write_text(SLOW_TOOL)
    responses: list[dict] = []

    async def sync_model(conn: FakeConnection) -> None:
        await conn.expect("realtime_input", lambda m: m.audio is not None)
        await conn.send_tool_call({"id": "s1", "name": "slow__slow_lookup", "args": {"query": "x"}})
        responses.extend(await conn.expect_tool_response())
        await conn.expect("realtime_input", lambda m: bool(m.body.get("audio_stream_end")))
        await conn.send_text("done")

    server = live(sync_model)
    log = clean_env / "session.jsonl"
    result = run_agent(
        *HEADLESS, "--model", "gemini-3.1-flash-live-preview", "--input-audio", str(wav),
        "--import-functions", str(tools), "--log-file", str(log), input="",
    )
    assert result.status == 0, result.stderr
    conn = server.connections[0]
    assert conn.violation is None and conn.rejected is None
    assert responses[0]["response"] == {"output": "found x"}
    assert "done" in result.stdout
    metrics = next(r for r in records(log) if r["event"] == "metrics")
    assert metrics["input_dropped_during_calls"] > 0


def test_25_native_audio_takes_text_as_client_content(live) -> None:
    server = live()
    result = run_agent("--no-audio-input", "--text-output", "--model", "gemini-2.5-flash-native-audio-preview-12-2025", input="hello\n")
    assert result.status == 0, result.stderr
    assert result.stdout == "echo: hello\n"
    conn = server.connections[0]
    assert conn.rejected is None and modalities(conn) == ["AUDIO"]
    assert [m.kind for m in conn.received if m.text] == ["client_content"]


def test_half_cascade_answers_in_text_with_code_execution(live) -> None:
    server = live()
    result = run_agent(*TEXT_ONLY, "--code-execution", "--model", "gemini-live-2.5-flash-preview", input="hello\n")
    assert result.status == 0, result.stderr
    assert result.stdout == "echo: hello\n"
    conn = server.connections[0]
    assert conn.rejected is None and modalities(conn) == ["TEXT"]
    assert [next(iter(t)) for t in conn.setup["tools"]] == ["google_search", "code_execution"]


def test_an_unknown_model_gets_the_38_rules_and_a_notice(live) -> None:
    server = live()
    result = run_agent("--no-audio-input", "--text-output", "--model", "gemini-4.0-live", input="hi\n")
    assert result.status == 0, result.stderr
    assert "not in gemini-live's table" in result.stderr and "gemini-4.0-live" in result.stderr
    assert result.stdout == "echo: hi\n"
    assert modalities(server.connections[0]) == ["AUDIO"]


def test_a_headless_run_exits_1_when_the_model_stalls(live, clean_env: Path) -> None:
    async def silent(conn: FakeConnection) -> None:
        await conn.expect_text()
        await conn.send_text("Let me", complete=False)
        await conn.wait_closed(timeout=60)

    live(silent)
    log = clean_env / "session.jsonl"
    result = run_agent(*TEXT_ONLY, "--reply-timeout", "1", "--log-file", str(log), input="hi\n")
    assert result.status == 1
    assert "the model has not answered for 1 s" in result.stderr
    assert [r for r in records(log) if r["event"] == "stall"]


class BrokenConsole(Console):
    """A console with a bug of ours in it."""

    def model_text(self, text: str) -> None:
        raise TypeError("a bug in the console")


@pytest.mark.anyio
async def test_our_own_errors_are_not_skipped_as_malformed_server_messages(live) -> None:
    live()
    config = load_config(None, {"audio_input": False, "audio_output": False, "text_output": True})
    agent = Agent(config, stdin=FakeStdin("hi\n"), console=BrokenConsole(io.StringIO(), io.StringIO()))
    with pytest.raises(BaseExceptionGroup) as e, anyio.fail_after(30):
        await agent.run()
    assert e.group_contains(TypeError, match="a bug in the console")


async def _run_with_open_stdin(config_args: dict, server, until) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """Run the agent in-process with a stdin pipe that stays open until `until(agent)` returns."""
    import os

    read_fd, write_fd = os.pipe()
    out = io.StringIO()
    config = load_config(None, {"audio_input": False, "audio_output": False, "import_functions": [EXAMPLES], **config_args})
    with open(read_fd, encoding="utf-8") as stdin:
        agent = Agent(config, stdin=stdin, console=Console(out, io.StringIO()))
        status: list[int] = []
        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:

                async def run() -> None:
                    status.append(await agent.run())

                tg.start_soon(run)
                os.write(write_fd, b"hi\n")
                await anyio.to_thread.run_sync(lambda: server.wait_for(lambda: any(m.text == "hi" for _, m in server.log)))
                await until(agent)
                os.close(write_fd)
    return status[0], out.getvalue()


@pytest.mark.anyio
async def test_changed_tools_reach_38_as_a_context_update_at_the_boundary(live) -> None:
    async def model(conn: FakeConnection) -> None:
        await conn.expect_text()
        await asyncio.sleep(0.3)  # the change arrives while the turn runs: it waits for the boundary
        await conn.send_text("echo: hi")
        await conn.wait_closed(timeout=30)

    server = live(model)

    async def change(agent: Agent) -> None:
        assert agent.session is not None
        agent.session.tools_changed()
        agent.session.tools_changed()  # batched: one update
        await anyio.to_thread.run_sync(lambda: server.wait_for(lambda: any(m.kind == "context_update" for _, m in server.log)))

    status, out = await _run_with_open_stdin({}, server, change)
    assert status == 0 and out == "echo: hi\n"
    conn = server.connections[0]
    updates = [m for m in conn.received if m.kind == "context_update"]
    assert len(updates) == 1 and conn.violation is None and len(server.connections) == 1
    kinds = [next(iter(t)) for t in updates[0].body["tools"]["tools"]]
    assert kinds == ["google_search", "function_declarations"]  # the whole list, built-ins included
    # Sent after the answer's turnComplete, not in the middle of the turn.
    assert [m.kind for m in conn.received].index("context_update") > [m.kind for m in conn.received].index("realtime_input")


@pytest.mark.anyio
async def test_changed_tools_reach_25_through_a_resumed_reconnect(live) -> None:
    async def model(conn: FakeConnection) -> None:
        if conn.index == 0:
            await conn.expect_text()
            await conn.send_text("echo: hi")
            await conn.resumption_update("h1")
        await conn.wait_closed(timeout=30)

    server = live(model)

    async def change(agent: Agent) -> None:
        assert agent.session is not None
        await anyio.to_thread.run_sync(lambda: server.wait_for(lambda: bool(agent.session and agent.session.resume_handle == "h1")))
        agent.session.tools_changed()
        await anyio.to_thread.run_sync(lambda: server.wait_for(lambda: len(server.connections) == 2 and server.connections[1].accepted_at > 0))

    status, out = await _run_with_open_stdin({"model": "gemini-2.5-flash-native-audio-preview-12-2025"}, server, change)
    assert status == 0 and out == "echo: hi\n"
    second = server.connections[1]
    assert second.setup["session_resumption"] == {"handle": "h1"} and second.tool_declarations
    assert not any(m.kind == "context_update" for _, m in server.log)
