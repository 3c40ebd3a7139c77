"""The interactive terminal in a real pseudo-terminal (pexpect): the input line, its history, the
status toolbar, stopping an answer, quitting, the banner and slash commands.

The agent runs as a subprocess on a pty against the fake Live server; what a person would see
is read from the terminal output (escape sequences and all: we look for the words). Waits are
pexpect timeouts, so a hang fails the test instead of blocking it.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pexpect
import pyte
import pytest

from tests.conftest import ROOT, TEXT_ONLY, interrupt, start_agent
from tests.fakes.live_server import FakeConnection

WAIT = 30  # seconds: an upper bound for anything the agent should do promptly
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[()][A-Z0-9]|\x1b[=>]|\r")


def screen_text(raw: str) -> str:
    """Terminal output without escape sequences and carriage returns."""
    return ANSI.sub("", raw)


class Term:
    """The agent on a pseudo-terminal, with everything it printed kept for asserting on."""

    def __init__(self, child: pexpect.spawn) -> None:
        self.child = child

    def expect(self, pattern: str, timeout: float = WAIT) -> None:
        self.child.expect(pattern, timeout=timeout)

    def type(self, text: str) -> None:
        self.child.send(text)

    def line(self, text: str) -> None:
        self.child.send(text + "\r")

    def until_screen(self, check, timeout: float = WAIT) -> list[str]:
        """Read the output until `check(screen lines)` holds (the bound is `timeout`)."""
        deadline = time.monotonic() + timeout
        while not check(self.screen()):
            assert time.monotonic() < deadline, "\n".join(self.screen())
            self.child.expect([pexpect.TIMEOUT, pexpect.EOF], timeout=0.2)
        return self.screen()

    def screen(self) -> list[str]:
        """What the terminal shows now, line by line."""
        return [line.rstrip() for line in self.child.logfile_read.screen.display]

    def seen(self) -> str:
        return screen_text(self.child.logfile_read.getvalue() if hasattr(self.child.logfile_read, "getvalue") else "")

    def wait_exit(self, timeout: float = WAIT) -> int:
        self.child.expect(pexpect.EOF, timeout=timeout)
        self.child.close()
        return self.child.exitstatus if self.child.exitstatus is not None else 128 + (self.child.signalstatus or 0)


class AnsweringScreen(pyte.Screen):
    """A screen that answers the cursor position request (ESC [6n) as a real terminal does."""

    child: pexpect.spawn | None = None

    def write_process_input(self, data: str) -> None:
        if self.child is not None:
            self.child.send(data)


class Log:
    """pexpect's logfile_read: keeps the text, and a terminal emulator's screen of it (pyte)."""

    def __init__(self, rows: int, cols: int) -> None:
        self.parts: list[str] = []
        self.screen = AnsweringScreen(cols, rows)
        self.stream = pyte.Stream(self.screen)

    def write(self, data: str) -> None:
        self.parts.append(data)
        self.stream.feed(data)

    def flush(self) -> None:
        pass

    def getvalue(self) -> str:
        return "".join(self.parts)


@pytest.fixture
def term(clean_env: Path) -> Iterator:
    spawned: list[pexpect.spawn] = []

    def start(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, rows: int = 24, cols: int = 100) -> Term:
        child = pexpect.spawn(
            sys.executable, ["-m", "agent", *args], cwd=str(cwd or clean_env), env={**os.environ, "TERM": "xterm-256color", **(env or {})},
            encoding="utf-8", codec_errors="replace", dimensions=(rows, cols), timeout=WAIT,
        )
        child.logfile_read = Log(rows, cols)
        child.logfile_read.screen.child = child
        spawned.append(child)
        return Term(child)

    yield start
    for child in spawned:
        if child.isalive():
            child.kill(9)
        child.close(force=True)


def test_type_a_line_and_get_the_answer(live, term) -> None:
    server = live()
    t = term(*TEXT_ONLY)
    t.expect("ready")
    t.line("hello there")
    t.expect("echo: hello there")
    t.type("\x04")  # Ctrl-D on an empty line quits
    assert t.wait_exit() == 0
    assert server.connections[0].texts() == ["hello there"]
    assert "Traceback" not in t.seen()


def test_banner_names_model_tools_and_says_ready(live, term, clean_env: Path) -> None:
    live()
    t = term(*TEXT_ONLY, "--import-functions", str(ROOT / "config" / "function_examples.py"))
    t.expect("ready — type")
    seen = t.seen()
    assert "gemini-3.8-live" in seen
    assert re.search(r"function_examples \d+ tools", seen), seen
    t.type("\x04")
    assert t.wait_exit() == 0


async def _slow_words(conn: FakeConnection) -> None:
    """Answers each line with many words, slowly, until the client says stop (an empty turn)."""
    while True:
        try:
            msg = await conn.expect(("client_content", "realtime_input"), lambda m: m.text is not None or m.kind == "client_content", timeout=3600)
        except ConnectionError:
            return
        if msg.text is None:
            continue  # a stop with nothing to answer
        for i in range(200):
            await conn.send_text(f"word{i} ", complete=False)
            try:
                stop = await conn.expect("client_content", timeout=0.05)
            except TimeoutError:
                continue
            if stop.text is None:
                await conn.interrupted()
                break
        await conn.turn_complete()


def test_typing_while_the_model_streams_stays_intact(live, term) -> None:
    server = live(_slow_words)
    t = term(*TEXT_ONLY)
    t.expect("ready")
    t.line("go")
    t.expect("word5 ")
    for ch in "intact line":
        t.type(ch)
    t.expect("word40 ")  # the model kept talking while we typed
    t.line("")
    server.wait_for(lambda: "intact line" in server.connections[0].texts(), timeout=WAIT)
    t.type("\x1b")
    t.type("\x04")
    assert t.wait_exit() == 0


def test_esc_stops_a_streamed_answer_and_the_session_goes_on(live, term) -> None:
    server = live(_slow_words)
    t = term(*TEXT_ONLY)
    t.expect("ready")
    t.line("talk")
    t.expect("word10 ")
    t.type("\x1b")
    t.expect("stopped")
    conn = server.connections[0]
    # 3.8: the server is told to stop (an empty clientContent that completes the turn)
    server.wait_for(lambda: any(m.kind == "client_content" and m.text is None for m in conn.received), timeout=WAIT)
    server.wait_for(lambda: len(conn.received) > 0 and conn.received[-1].kind == "client_content", timeout=WAIT)
    shown = len(t.seen())
    t.line("again")
    t.expect("word3 ")
    assert "word150" not in t.seen()[:shown]  # the rest of the stopped answer never showed
    t.type("\x1b")
    t.expect("stopped")
    t.type("\x04")
    assert t.wait_exit() == 0
    assert conn.texts()[:2] == ["talk", "again"]


def test_first_ctrl_c_stops_the_answer_a_second_quits(live, term) -> None:
    live(_slow_words)
    t = term(*TEXT_ONLY)
    t.expect("ready")
    t.line("talk")
    t.expect("word5 ")
    t.type("\x03")
    t.expect("Ctrl-C again to quit")
    t.type("\x03")
    assert t.wait_exit() == 130
    assert "Traceback" not in t.seen()


def test_ctrl_c_when_idle_quits(live, term) -> None:
    live()
    t = term(*TEXT_ONLY)
    t.expect("ready")
    t.type("\x03")
    assert t.wait_exit() == 130


SLOW_FUNCTIONS = '''
import time


def wait_long(seconds: float) -> str:
    """Sleep for a while."""
    time.sleep(seconds)
    return "slept"
'''


def test_ctrl_c_during_a_30_s_local_function_exits_at_once(live, term, clean_env: Path) -> None:
    """The function is abandoned: no wait for it, no threading._shutdown traceback."""
    (clean_env / "slow.py").write_text(SLOW_FUNCTIONS)

    async def caller(conn: FakeConnection) -> None:
        await conn.expect_text(timeout=3600)
        await conn.send_tool_call({"id": "c1", "name": "slow__wait_long", "args": {"seconds": 30}})
        await asyncio.sleep(3600)

    live(caller)
    t = term(*TEXT_ONLY, "--import-functions", str(clean_env / "slow.py"))
    t.expect("ready")
    t.line("run it")
    t.expect("wait_long")  # the tool activity line
    t.type("\x03")  # a tool is running: the first Ctrl-C stops the answer ...
    t.type("\x03")  # ... the second quits
    assert t.wait_exit(timeout=10) == 130  # well before the function's 30 s
    assert "Traceback" not in t.seen()


def test_ctrl_c_during_a_30_s_local_function_piped(live, clean_env: Path) -> None:
    """The same without a terminal: SIGINT ends the run at once, the call reported cancelled."""
    (clean_env / "slow.py").write_text(SLOW_FUNCTIONS)
    started = asyncio.Event()

    async def caller(conn: FakeConnection) -> None:
        await conn.expect_text(timeout=3600)
        await conn.send_tool_call({"id": "c1", "name": "slow__wait_long", "args": {"seconds": 30}})
        started.set()
        await asyncio.sleep(3600)

    server = live(caller)
    proc = start_agent(*TEXT_ONLY, "--import-functions", str(clean_env / "slow.py"))
    proc.stdin.write("go\n")
    proc.stdin.flush()
    server.wait_for(lambda: started.is_set(), timeout=WAIT)
    status, _out, err = interrupt(proc, timeout=10)  # well before the function's 30 s
    assert status == 130, err
    assert "Traceback" not in err and "slow__wait_long cancelled" in err


def test_up_recalls_a_line_from_an_earlier_session(live, term, clean_env: Path) -> None:
    server = live()
    t = term(*TEXT_ONLY)
    t.expect("ready")
    t.line("remember this line")
    t.expect("echo: remember this line")
    t.type("\x04")
    assert t.wait_exit() == 0
    history = clean_env / "state" / "gemini-live" / "history"
    assert "remember this line" in history.read_text()
    assert history.stat().st_mode & 0o077 == 0  # what was typed is readable by its owner only

    t = term(*TEXT_ONLY)
    t.expect("ready")
    t.type("\x1b[A")  # Up
    t.type("\x1b[D" * 4 + "from ")  # Left x4 and an insertion: line editing
    t.line("")
    t.expect("echo: remember this from line")
    t.type("\x04")
    assert t.wait_exit() == 0
    assert server.connections[1].texts() == ["remember this from line"]


def test_slash_commands(live, term, clean_env: Path) -> None:
    server = live()
    t = term(*TEXT_ONLY, "--import-functions", str(ROOT / "config" / "function_examples.py"))
    t.expect("ready")
    t.line("/help")
    t.expect("/prompt NAME")
    t.line("/tools")
    t.expect(r"function_examples \(Python functions\) \d+ tools")
    t.line("/mute")
    t.expect("no microphone")
    t.line("/prompts")
    t.expect("no MCP server offers prompts")
    t.line("/toolz")
    t.expect("did you mean /tools")
    t.line("/quit")
    assert t.wait_exit() == 0
    assert server.connections[0].texts() == []  # no command reached the model


PROMPT_SERVER = '''
import base64
from mcp.server.mcpserver import MCPServer

server = MCPServer("library")


@server.tool()
def ping() -> str:
    """Answer pong."""
    return "pong"


@server.prompt()
def review(topic: str) -> str:
    """Ask for a review of a topic."""
    return f"Please review {topic} carefully."


@server.resource("note://today", mime_type="text/plain")
def today() -> str:
    """Today's note."""
    return "buy milk\\x1b[2J"


if __name__ == "__main__":
    server.run("stdio")
'''


def test_prompts_and_resources_reach_the_model(live, term, clean_env: Path) -> None:
    (clean_env / "library.py").write_text(PROMPT_SERVER)
    (clean_env / "gemini-live.toml").write_text(f'[mcp_servers.library]\ncommand = "{sys.executable}"\nargs = ["{clean_env / "library.py"}"]\n')
    server = live()
    t = term(*TEXT_ONLY)
    t.expect("ready")
    assert re.search(r"library 1 tool\b", t.seen())
    t.line("/prompts")
    t.expect("library:review topic=…")
    t.line("/prompt review topic=tests")
    t.expect("echo: Please review tests carefully.")
    t.line("/resources")
    t.expect("note://today")
    t.line("/read note://today")
    t.expect("echo: Here is the content of note://today as context:")
    t.line("/prompt nosuch")
    t.expect("no prompt named nosuch")
    t.line("/tools")
    t.expect(r"library \(stdio\) ready, 1 tools")
    t.type("\x04")
    assert t.wait_exit() == 0
    texts = server.connections[0].texts()
    assert texts[0] == "Please review tests carefully."
    assert texts[1].startswith("Here is the content of note://today as context:") and "buy milk" in texts[1]


def test_the_banner_reports_a_failed_server_once_and_progress_first(live, term, clean_env: Path) -> None:
    (clean_env / "gemini-live.toml").write_text('[mcp_servers.broken]\ncommand = "/nonexistent/broken-server"\n')
    live()
    t = term(*TEXT_ONLY)
    t.expect("ready")
    seen = t.seen()
    assert seen.index("starting 1 MCP server (broken)") < seen.index("ready")
    assert seen.count("/nonexistent/broken-server") == 1  # the reason, once
    assert "broken ✗ failed to start" in seen
    t.type("\x04")
    assert t.wait_exit() == 0
    assert "session: " in t.seen()  # the summary in plain words


def tone(seconds: float, rate: int = 16000, freq: float = 440.0, level: float = 0.5) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * freq * t) * level * 32767).astype("<i2").tobytes()


@pytest.mark.audio
def test_voice_session_typing_while_the_status_updates(live, term, pulse, clean_env: Path) -> None:
    """The mic meter redraws the toolbar ten times a second; the line being typed stays intact."""
    server = live()
    t = term("--no-search", "--no-audio-output", env=pulse.env)
    t.expect("ready — speak or type")
    feeder = pulse.feed(tone(6.0))  # something for the meter to show
    try:
        for ch in "typed while listening":
            t.type(ch)  # pexpect waits 50 ms before each send: the toolbar redraws in between
        screen = t.until_screen(lambda lines: any(line.startswith("› typed while listening") for line in lines))
        assert "#" in screen[-1] and "you speaking" in screen[-1], screen  # the toolbar: phase and a moving meter
        t.line("")
        server.wait_for(lambda: "typed while listening" in server.connections[0].texts(), timeout=WAIT)
        t.expect("echo: typed while listening")
    finally:
        feeder.wait(timeout=30)
    t.type("\x04")
    assert t.wait_exit() == 0


@pytest.mark.audio
def test_push_to_talk_key_on_the_input_line(live, term, pulse, clean_env: Path) -> None:
    """With --push-to-talk the input line stays; the key on an empty line toggles the mic, and in
    the middle of a line it is typed."""
    server = live()
    t = term("--no-search", "--no-audio-output", "--push-to-talk", env=pulse.env)
    t.expect("ready — speak or type")
    feeder = pulse.feed(tone(4.0))
    try:
        t.type(" ")  # empty line: start talking
        server.wait_for(lambda: any(m.kind == "realtime_input" and "activity_start" in m.body for m in server.connections[0].received), timeout=WAIT)
        t.type(" ")  # stop: the turn is sent
        server.wait_for(lambda: any(m.kind == "realtime_input" and "activity_end" in m.body for m in server.connections[0].received), timeout=WAIT)
    finally:
        feeder.wait(timeout=30)
    for ch in "a b":
        t.type(ch)  # a space inside a line is just a space
    t.line("")
    server.wait_for(lambda: "a b" in server.connections[0].texts(), timeout=WAIT)
    setup = server.connections[0].setup
    assert setup["realtime_input_config"]["automatic_activity_detection"]["disabled"] is True
    t.type("\x04")
    assert t.wait_exit() == 0
