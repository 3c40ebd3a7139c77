"""The real agent against the fake Live server: text turns, initial message, EOF exit, errors."""

from __future__ import annotations

import asyncio
import io
import json
import os
import time
from pathlib import Path

import anyio
import pytest

from agent.app import Agent
from agent.config import load_config
from agent.console import Console
from tests.conftest import TEXT_ONLY, FakeStdin, interrupt, run_agent, start_agent
from tests.fakes.live_server import API_KEY, FakeConnection


def test_text_round_trip_subprocess(live) -> None:
    server = live()
    result = run_agent(*TEXT_ONLY, input="hello\n")
    assert result.status == 0, result.stderr
    assert result.stdout == "echo: hello\n"
    conn = server.connections[0]
    assert conn.texts() == ["hello"]
    assert conn.received[0].kind == "realtime_input"  # gemini-3.8-live, the default, takes text as realtimeInput
    assert conn.headers["x-goog-api-key"] == API_KEY


async def run_in_process(args: dict, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    config = load_config(None, {"audio_input": False, "audio_output": False, "text_output": True, **args})
    agent = Agent(config, stdin=FakeStdin(stdin), console=Console(out, err))
    with anyio.fail_after(30):
        status = await agent.run()
    return status, out.getvalue(), err.getvalue()


@pytest.mark.anyio
async def test_text_round_trip_in_process(live) -> None:
    server = live()
    status, out, _ = await run_in_process({}, "one\ntwo\n")
    assert status == 0
    assert out == "echo: one\necho: two\n"
    assert server.connections[0].texts() == ["one", "two"]


@pytest.mark.anyio
async def test_gemini_3_text_goes_as_realtime_input(live) -> None:
    server = live()
    status, out, _ = await run_in_process({"model": "gemini-3.1-flash-live-preview"}, "hi\n")
    assert status == 0 and out == "echo: hi\n"
    conn = server.connections[0]
    assert conn.setup["model"] == "models/gemini-3.1-flash-live-preview"
    assert [m.kind for m in conn.received if m.text] == ["realtime_input"]


def test_piped_lines_wait_for_each_answer(live) -> None:
    """A piped script: the second line goes only after the first answer is complete."""

    async def slow(conn: FakeConnection) -> None:
        while True:
            text = await conn.expect_text()
            for word in f"answer to {text}".split():
                await conn.send_text(word + " ", complete=False)
                await asyncio.sleep(0.05)
            await conn.turn_complete()

    server = live(slow)
    result = run_agent(*TEXT_ONLY, input="first\nsecond\n")
    assert result.status == 0, result.stderr
    assert result.stdout == "answer to first \nanswer to second \n"
    log = [(m.kind, m.text) for _, m in server.log if m.text]
    assert log == [("realtime_input", "first"), ("realtime_input", "second")]


def test_eof_waits_for_the_turn_to_finish(live) -> None:
    """stdin closes at once; the reply arrives slowly, in pieces, and is printed whole."""

    async def slow(conn: FakeConnection) -> None:
        await conn.expect_text()
        await asyncio.sleep(0.5)
        for piece in ["The ", "answer ", "is ", "42."]:
            await conn.send_text(piece, complete=False)
            await asyncio.sleep(0.2)
        await conn.turn_complete()

    live(slow)
    result = run_agent(*TEXT_ONLY, input="question\n")
    assert result.status == 0, result.stderr
    assert result.stdout == "The answer is 42.\n"


def test_initial_message_after_delay(live) -> None:
    server = live()
    result = run_agent(*TEXT_ONLY, "--initial-message", "Say hi", "--initial-message-delay", "0.8", input="and then this\n")
    assert result.status == 0, result.stderr
    assert result.stdout == "echo: Say hi\necho: and then this\n"
    conn = server.connections[0]
    assert conn.texts() == ["Say hi", "and then this"]
    # The first message after setupComplete is the initial message, no earlier than its delay.
    first = next(m for m in conn.received if m.text)
    assert first.text == "Say hi" and first.at - conn.accepted_at >= 0.8


def test_initial_message_with_empty_stdin(live) -> None:
    live()
    result = run_agent(*TEXT_ONLY, "--initial-message", "hello there", input="")
    assert result.status == 0 and result.stdout == "echo: hello there\n"


def test_close_1008_shows_reason_and_exits_1(live) -> None:
    async def refuse(conn: FakeConnection) -> None:
        await conn.expect_text()
        await conn.close(1008, "models/gemini-nope is not found for API version v1")

    live(refuse)
    result = run_agent(*TEXT_ONLY, input="hi\n")
    assert result.status == 1
    assert "1008" in result.stderr and "models/gemini-nope is not found for API version v1" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_api_key_exits_1_with_reason(live) -> None:
    live()
    result = run_agent(*TEXT_ONLY, input="hi\n", env={"GOOGLE_API_KEY": "wrong"})
    assert result.status == 1 and "API key not valid" in result.stderr


def test_missing_api_key_exits_2(clean_env: Path) -> None:
    result = run_agent(*TEXT_ONLY, input="hi\n")
    assert result.status == 2
    assert "GOOGLE_API_KEY" in result.stderr and "Traceback" not in result.stderr


def test_connection_refused_exits_1(clean_env: Path) -> None:
    env = {"GOOGLE_API_KEY": "k", "GOOGLE_GEMINI_BASE_URL": "https://127.0.0.1:9"}
    result = run_agent(*TEXT_ONLY, input="hi\n", env=env)
    assert result.status == 1 and "cannot connect" in result.stderr and "127.0.0.1:9" in result.stderr


def test_ctrl_c_exits_130_promptly(live) -> None:
    server = live()
    proc = start_agent(*TEXT_ONLY)
    server.wait_for(lambda: len(server.connections) == 1, timeout=30)
    proc.stdin.write("hello\n")
    proc.stdin.flush()
    server.wait_for(lambda: server.connections[0].texts() == ["hello"], timeout=30)
    started = time.monotonic()
    status, out, err = interrupt(proc)
    assert status == 130, err
    assert time.monotonic() - started < 10
    assert "Traceback" not in err
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)  # nothing of its process group is left


def test_verbose_prints_events_and_log_file_records(live, clean_env: Path) -> None:
    live()
    log_file = clean_env / "session.jsonl"
    result = run_agent(*TEXT_ONLY, "-v", "--log-file", str(log_file), input="hello\n")
    assert result.status == 0
    assert '« {"setup_complete"' in result.stderr or "«" in result.stderr
    assert any("turn_complete" in line for line in result.stderr.splitlines())
    events = [json.loads(line) for line in log_file.read_text().splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "connect" and "setup_complete" in kinds and kinds[-1] == "exit"
    assert {"event": "user_text", "text": "hello"}.items() <= next(e for e in events if e["event"] == "user_text").items()
    assert next(e for e in events if e["event"] == "model_text")["text"] == "echo: hello"
    for text in (result.stdout, result.stderr, log_file.read_text()):
        assert API_KEY not in text
