"""Live-side faults end in a working session or a clear exit (setup, frames, budgets, goAway)."""

from __future__ import annotations

import asyncio
import json
import wave
from pathlib import Path

from tests.conftest import TEXT_ONLY, run_agent
from tests.fakes.live_server import FakeConnection
from tests.fakes.resumable import Fault, ResumableModel

LINES = [f"line {i}" for i in range(1, 6)]


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# ---- setup ----------------------------------------------------------------------------------


def test_a_setup_that_never_completes_is_bounded(live) -> None:
    server = live(never_setup=True)
    result = run_agent(*TEXT_ONLY, "--setup-timeout", "1", input="hi\n")
    assert result.status == 1
    assert "did not complete the setup within 1 s" in result.stderr
    assert len(server.connections) == 1


def test_a_first_frame_that_is_not_setup_complete_is_a_failed_connection(live) -> None:
    live(first_frame=json.dumps({"serverContent": {"modelTurn": {"parts": [{"text": "hello"}]}}}))
    result = run_agent(*TEXT_ONLY, input="hi\n")
    assert result.status == 1
    assert "another message instead of setupComplete" in result.stderr


def test_an_html_first_frame_is_reported_in_one_line(live) -> None:
    page = "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n" + "<p>x</p>\n" * 5000 + "</html>"
    live(first_frame=page)
    result = run_agent(*TEXT_ONLY, input="hi\n")
    assert result.status == 1
    assert "not JSON" in result.stderr and "<!DOCTYPE html>" in result.stderr
    assert len(result.stderr) < 1000 and result.stderr.count("\n") <= 2


def test_a_reconnection_whose_setup_never_completes_counts_as_a_failed_attempt(live, clean_env: Path) -> None:
    async def then_silent(conn: FakeConnection) -> None:
        await conn.expect_text()
        conn.server.never_setup = True  # every connection after this one hangs in setup
        conn.abort()

    live(then_silent)
    (clean_env / "gemini-live.toml").write_text("reconnect_attempts = 1\nsetup_timeout = 1\n")
    result = run_agent(*TEXT_ONLY, input="hi\n")
    assert result.status == 1
    assert "gave up after 1 attempts" in result.stderr and "did not complete the setup" in result.stderr


# ---- frames ---------------------------------------------------------------------------------


def test_frames_that_are_json_but_not_objects_are_skipped(live, clean_env: Path) -> None:
    async def odd(conn: FakeConnection) -> None:
        text = await conn.expect_text()
        await conn.send_raw("[1, 2, 3]")
        await conn.send_raw('"just a string"')
        await conn.send_raw("42")
        await conn.send_text(f"echo: {text}")

    live(odd)
    log = clean_env / "session.jsonl"
    result = run_agent(*TEXT_ONLY, "--log-file", str(log), input="hi\n")
    assert result.status == 0, result.stderr
    assert result.stdout == "echo: hi\n"
    assert len([r for r in records(log) if r["event"] == "malformed_message"]) >= 2


def test_frames_over_one_mib_arrive(live) -> None:
    big = "x" * 1_200_000

    async def verbose_model(conn: FakeConnection) -> None:
        await conn.expect_text()
        await conn.send_text(big)

    server = live(verbose_model)
    result = run_agent(*TEXT_ONLY, input="hi\n")
    assert result.status == 0, result.stderr
    assert result.stdout == big + "\n"
    assert len(server.connections) == 1  # no 1009, no reconnect


# ---- budgets and handoffs ---------------------------------------------------------------------


def test_the_reconnect_budget_counts_consecutive_failures(live, clean_env: Path) -> None:
    """Five separate drops, each followed by a good resume and an answered turn, with a budget of 2."""
    model = ResumableModel(faults={n: Fault("abort") for n in (2, 4, 6, 8, 10)})
    live(model)
    (clean_env / "gemini-live.toml").write_text("reconnect_attempts = 2\n")
    lines = [f"line {i}" for i in range(1, 9)]
    result = run_agent(*TEXT_ONLY, input="\n".join(lines) + "\n", timeout=120)
    assert result.status == 0, result.stderr
    assert model.final_history == tuple(lines)
    assert result.stderr.count("reconnecting") == 5


def test_a_go_away_storm_backs_off_and_gives_up(live, clean_env: Path) -> None:
    async def storm(conn: FakeConnection) -> None:
        await conn.go_away("0s")
        await conn.wait_closed(timeout=30)

    server = live(storm)
    (clean_env / "gemini-live.toml").write_text("reconnect_attempts = 2\n")
    result = run_agent(*TEXT_ONLY, input="hi\n", timeout=60)
    assert result.status == 1
    assert "gave up after 2 attempts" in result.stderr and "goAway" in result.stderr
    assert len(server.connections) == 3


def test_go_away_without_time_left_lets_the_turn_finish(live) -> None:
    async def model(conn: FakeConnection) -> None:
        if conn.index == 0:
            await conn.expect_text()
            await conn.send_text("The first half, ", complete=False)
            await conn.send({"goAway": {}})
            await asyncio.sleep(0.5)
            await conn.send_text("and the second half.")
            await conn.resumption_update("h1")
        await conn.wait_closed(timeout=30)

    server = live(model)
    result = run_agent(*TEXT_ONLY, input="question\n")
    assert result.status == 0, result.stderr
    assert result.stdout == "The first half, and the second half.\n"
    assert server.connections[0].received[-1].kind != "client_content"


def test_a_turn_answered_in_part_before_a_new_handle_is_not_sent_again(live) -> None:
    async def model(conn: FakeConnection) -> None:
        if conn.index == 0:
            await conn.expect_text()
            await conn.send_text("Half an answer", complete=False)
            await conn.resumption_update("h-mid")  # the server's state now holds the line
            await asyncio.sleep(0.2)
            conn.abort()
            return
        await conn.wait_closed(timeout=30)

    server = live(model)
    result = run_agent(*TEXT_ONLY, "--reply-timeout", "3", input="the line\n")
    assert len(server.connections) == 2
    assert server.connections[1].setup["session_resumption"] == {"handle": "h-mid"}
    assert server.connections[1].texts() == []  # not replayed into a context that holds it
    assert result.status == 0, result.stderr


def test_wav_input_with_a_silent_resumed_connection_ends(live, clean_env: Path) -> None:
    wav = clean_env / "q.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16_000)
        w.writeframes(b"\x10\x20" * 8_000)

    async def model(conn: FakeConnection) -> None:
        if conn.index == 0:
            await conn.expect("realtime_input", lambda m: bool(m.body.get("audio_stream_end")))
            await conn.send_text("Half an", complete=False)
            conn.abort()
            return
        await conn.wait_closed(timeout=60)

    server = live(model)
    result = run_agent("--no-audio-input", "--no-audio-output", "--input-audio", str(wav), input="", timeout=60)
    # The resumed model gets the reply grace to go on with its answer, then the run ends.
    assert result.status == 0, result.stderr
    assert result.stdout == "Half an\n" and len(server.connections) == 2


def test_durations_are_bounded(live) -> None:
    for flag in ("--initial-message-delay", "--setup-timeout", "--reply-timeout"):
        result = run_agent(*TEXT_ONLY, flag, "inf", input="")
        assert result.status == 2, (flag, result.stderr)
        assert flag in result.stderr


def test_an_error_object_frame_is_one_clear_line(live, clean_env: Path) -> None:
    async def model(conn: FakeConnection) -> None:
        text = await conn.expect_text()
        await conn.send({"error": {"code": 503, "status": "UNAVAILABLE", "message": "The model is overloaded.", "details": ["x" * 5000]}})
        await conn.send_text(f"echo: {text}")

    live(model)
    log = clean_env / "session.jsonl"
    result = run_agent(*TEXT_ONLY, "--log-file", str(log), input="hi\n")
    assert result.status == 0, result.stderr
    assert result.stdout == "echo: hi\n"
    skipped = [r["error"] for r in records(log) if r["event"] == "malformed_message"]
    assert skipped == ["an error from the server: 503 UNAVAILABLE The model is overloaded."]
    assert "xxxxx" not in result.stderr


def test_a_tool_call_with_unreadable_args_answers_every_call(live) -> None:
    """One call's args are a list: the SDK refuses the whole message; both calls are still answered."""
    responses: list[dict] = []

    async def model(conn: FakeConnection) -> None:
        await conn.expect_text()
        await conn.send_tool_call(
            {"id": "good", "name": "function_examples__calculate", "args": {"expression": "2+2"}},
            {"id": "bad", "name": "function_examples__calculate", "args": ["2+2"]},
        )
        while len(responses) < 2:
            responses.extend(await conn.expect_tool_response())
        await conn.send_text("done")

    live(model)
    examples = str(Path(__file__).resolve().parent.parent / "config" / "function_examples.py")
    result = run_agent(*TEXT_ONLY, "--import-functions", examples, input="hi\n")
    assert result.status == 0, result.stderr
    by_id = {r["id"]: r for r in responses}
    assert by_id["good"]["response"] == {"output": 4.0}
    assert "arguments must be an object" in by_id["bad"]["response"]["error"]
    assert by_id["bad"]["name"] == "function_examples__calculate"


def test_the_go_away_deadline_hands_off_without_a_turn_boundary(live) -> None:
    """goAway in a turn that never ends: the agent closes the old socket before timeLeft runs out,
    resumes, and sends the unanswered turn again."""

    async def model(conn: FakeConnection) -> None:
        if conn.index == 0:
            await conn.expect_text()
            await conn.send_text("Thinking about", complete=False)
            await conn.go_away("2s")
            await conn.wait_closed(timeout=30)  # never completes the turn
            return
        text = await conn.expect_text()
        await conn.send_text(f"echo: {text}")
        await conn.wait_closed(timeout=30)

    server = live(model)
    result = run_agent(*TEXT_ONLY, input="question\n")
    assert result.status == 0, result.stderr
    assert result.stdout.endswith("echo: question\n")
    first, second = server.connections
    assert first.close_code == 1000  # the agent closed it, the server did not have to cut it
    assert second.texts() == ["question"]


def test_the_api_key_does_not_follow_a_redirect(clean_env: Path) -> None:
    """websockets strips Authorization on a cross-origin redirect but not x-goog-api-key."""
    import ssl
    import threading
    from concurrent.futures import Future

    import trustme
    from websockets.asyncio.server import serve
    from websockets.datastructures import Headers
    from websockets.http11 import Response

    from tests.fakes.live_server import API_KEY

    ca = trustme.CA()
    ca_file = clean_env / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    elsewhere: list[dict] = []  # handshakes the other origin received
    ports: Future[tuple[int, int]] = Future()
    stop = threading.Event()

    async def main() -> None:
        def record(connection, request):  # type: ignore[no-untyped-def]
            elsewhere.append(dict(request.headers))
            return connection.respond(404, "nothing here")

        async with serve(lambda ws: ws.close(), "127.0.0.1", 0, ssl=ctx, process_request=record) as other:
            other_port = other.sockets[0].getsockname()[1]

            def redirect(connection, request):  # type: ignore[no-untyped-def]
                return Response(302, "Found", Headers({"Location": f"wss://localhost:{other_port}{request.path}", "Content-Length": "0"}))

            async with serve(lambda ws: ws.close(), "127.0.0.1", 0, ssl=ctx, process_request=redirect) as live_endpoint:
                ports.set_result((live_endpoint.sockets[0].getsockname()[1], other_port))
                while not stop.is_set():
                    await asyncio.sleep(0.05)

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    try:
        live_port, _ = ports.result(timeout=10)
        env = {"GOOGLE_GEMINI_BASE_URL": f"https://127.0.0.1:{live_port}", "SSL_CERT_FILE": str(ca_file), "GOOGLE_API_KEY": API_KEY}
        result = run_agent(*TEXT_ONLY, input="hi\n", env=env)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert result.status == 1
    assert "answered with a redirect; it is not followed" in result.stderr
    assert elsewhere == []  # the key (and the request) never reached the other origin


def test_verbose_lines_mask_the_key_as_the_log_does(live, clean_env: Path) -> None:
    from tests.fakes.live_server import API_KEY

    async def leaky(conn: FakeConnection) -> None:
        await conn.expect_text()
        await conn.send_text(f"the key is {API_KEY}")

    live(leaky)
    log = clean_env / "session.jsonl"
    result = run_agent(*TEXT_ONLY, "-v", "--log-file", str(log), input="hi\n", env={"COLUMNS": "2000"})
    assert result.status == 0, result.stderr
    assert "the key is ***" in result.stderr
    assert API_KEY not in result.stderr and API_KEY not in log.read_text()
