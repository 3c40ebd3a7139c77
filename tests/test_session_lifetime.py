"""Session lifetime: goAway handoffs, drops, bounded retries, malformed messages, --resume."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import TEXT_ONLY, run_agent
from tests.fakes.live_server import API_KEY, FakeConnection
from tests.fakes.resumable import Fault, ResumableModel

LINES = [f"line {i}" for i in range(1, 7)]


def answers(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("echo: ")]


def test_go_away_hands_off_with_the_handle(live) -> None:
    model = ResumableModel(faults={2: Fault("go_away", time_left="5s")})
    server = live(model)
    result = run_agent(*TEXT_ONLY, input="\n".join(LINES) + "\n")
    assert result.status == 0, result.stderr
    assert answers(result.stdout) == [f"echo: {line}" for line in LINES]
    # The second connection resumed from the newest handle: one per turn answered on the first.
    assert len(server.connections) == 2
    answered_first = len(server.connections[0].texts())
    assert answered_first >= 2 and model.setups == [None, f"h{answered_first}"]
    assert model.final_history == tuple(LINES)  # nothing lost, nothing twice
    assert result.stderr.count("↻") == 1 and "resumed" in result.stderr


def test_1011_mid_turn_resumes_and_resends_the_unanswered_turn(live) -> None:
    model = ResumableModel(faults={3: Fault("close", code=1011, reason="Internal error encountered.")})
    live(model)
    result = run_agent(*TEXT_ONLY, input="\n".join(LINES) + "\n")
    assert result.status == 0, result.stderr
    assert answers(result.stdout) == [f"echo: {line}" for line in LINES]
    assert model.setups == [None, "h2"]
    assert model.final_history == tuple(LINES)
    assert "1011" in result.stderr and "reconnecting" in result.stderr


def test_tcp_cut_1006_resumes(live) -> None:
    model = ResumableModel(faults={2: Fault("abort")})
    live(model)
    result = run_agent(*TEXT_ONLY, input="\n".join(LINES) + "\n")
    assert result.status == 0, result.stderr
    assert model.final_history == tuple(LINES)
    assert "1006" in result.stderr


def test_1008_mid_session_ends_with_the_reason(live) -> None:
    model = ResumableModel(faults={2: Fault("close", code=1008, reason="Quota exceeded for this project.")})
    live(model)
    result = run_agent(*TEXT_ONLY, input="\n".join(LINES) + "\n")
    assert result.status == 1
    assert "1008 policy violation: Quota exceeded for this project." in result.stderr
    assert "Traceback" not in result.stderr


def test_retries_are_bounded(live, clean_env: Path) -> None:
    attempts: list[int] = []

    async def flaky(conn: FakeConnection) -> None:
        attempts.append(conn.index)
        if conn.index == 0:
            await conn.expect_text()
        await conn.close(1011, "The service is currently unavailable.")

    live(flaky)
    (clean_env / "gemini-live.toml").write_text("reconnect_attempts = 2\n")
    result = run_agent(*TEXT_ONLY, input="hello\n")
    assert result.status == 1
    assert "gave up after 2 attempts" in result.stderr and "currently unavailable" in result.stderr
    assert len(attempts) == 3  # the first connection and two reconnects


def test_malformed_and_unknown_messages_are_skipped(live) -> None:
    async def noisy(conn: FakeConnection) -> None:
        text = await conn.expect_text()
        await conn.ws.send(b"\x00not json at all")
        await conn.send({"somethingNew": {"x": 1}})
        await conn.send({"serverContent": {"modelTurn": {"parts": "not a list"}}})
        await conn.send_text(f"echo: {text}")

    live(noisy)
    result = run_agent(*TEXT_ONLY, input="hello\n")
    assert result.status == 0, result.stderr
    assert result.stdout == "echo: hello\n"
    assert "skipped a malformed server message" in result.stderr


def test_frame_near_the_1_mib_limit(live) -> None:
    big = "x" * (1024 * 1024 - 200)

    async def large(conn: FakeConnection) -> None:
        await conn.expect_text()
        await conn.send({"serverContent": {"modelTurn": {"parts": [{"text": big[: len(big) - 100]}]}}})
        await conn.turn_complete()

    live(large)
    result = run_agent(*TEXT_ONLY, input="hello\n")
    assert result.status == 0, result.stderr
    assert len(result.stdout.strip()) == len(big) - 100


def test_resume_sends_the_saved_handle(live, clean_env: Path) -> None:
    model = ResumableModel()
    live(model)
    first = run_agent(*TEXT_ONLY, input="remember the number 7\n")
    assert first.status == 0, first.stderr
    state = json.loads((clean_env / "state" / "gemini-live" / "session.json").read_text())
    assert state["handle"] == "h1" and API_KEY not in json.dumps(state)
    second = run_agent(*TEXT_ONLY, "--resume", input="what was the number?\n")
    assert second.status == 0, second.stderr
    assert model.setups == [None, "h1"]
    assert model.final_history == ("remember the number 7", "what was the number?")


def test_resume_without_saved_state_is_a_clear_error(clean_env: Path) -> None:
    result = run_agent(*TEXT_ONLY, "--resume", input="", env={"GOOGLE_API_KEY": "k"})
    assert result.status == 2 and "no saved session" in result.stderr


def test_long_session_with_go_aways_and_drops(live, clean_env: Path) -> None:
    """A scripted 30-minute session (a turn a minute): goAway every 5 minutes, two drops,
    tool calls along the way. No input lost, no tool call run twice, metrics recorded."""
    calls_file = clean_env / "calls.txt"
    module = clean_env / "recorder.py"
    module.write_text(
        "from pathlib import Path\n\n"
        "def record(n: int) -> str:\n"
        '    """Note that turn n called the tool."""\n'
        f"    with open({str(calls_file)!r}, 'a') as f:\n"
        "        f.write(f'{n}\\n')\n"
        "    return f'recorded {n}'\n"
    )
    faults = {minute: Fault("go_away", time_left="2s") for minute in range(5, 30, 5)}
    faults[12] = Fault("abort")
    faults[23] = Fault("close", code=1011)
    model = ResumableModel(faults=faults, tool_every=4, tool_name="recorder__record")
    server = live(model)
    lines = [f"minute {m}" for m in range(1, 31)]
    log_file = clean_env / "long.jsonl"
    result = run_agent(
        *TEXT_ONLY, "--import-functions", str(module), "--log-file", str(log_file), "-v",
        input="\n".join(lines) + "\n", timeout=120,
    )
    assert result.status == 0, result.stderr[-3000:]
    assert model.final_history == tuple(lines)
    assert answers(result.stdout) == [f"echo: {line}" for line in lines]
    # Every tool call issued was answered once, and each ran exactly once.
    assert sorted(model.tool_answers) == sorted(set(model.tool_calls))
    issued = sorted(int(call_id.split("-")[1]) for call_id in model.tool_calls)
    assert len(issued) >= 6 and len(set(issued)) == len(issued)
    assert sorted(int(n) for n in calls_file.read_text().split()) == issued
    assert len(server.connections) == 1 + 5 + 2  # five handoffs, two reconnects
    events = [json.loads(line) for line in log_file.read_text().splitlines()]
    metrics = next(e for e in events if e["event"] == "metrics")
    assert metrics["turns"] == 30 and metrics["reconnects"] == 2 and metrics["handoffs"] == 5
    assert metrics["tool_calls"]["recorder"]["calls"] == len(issued)
    assert "session: 30 turns" in result.stderr
    for text in (result.stdout, result.stderr, log_file.read_text()):
        assert API_KEY not in text
