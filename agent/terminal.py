"""The interactive terminal: a prompt_toolkit input line with history and a status toolbar.

Only when stdin and stdout are both terminals (`interactive()`); piped runs keep the plain
Console and stdin reader. Everything the agent prints goes above the input line: complete lines
through prompt_toolkit's stdout proxy, and the line the model is still saying as the first line
of the prompt, so streamed words never break what the user is typing. The bottom toolbar shows
the status (agent.status), refreshed ten times a second.

Keys: Enter sends the line (a `/command` runs it, agent.slash); Up/Down walk the history, which
persists in $XDG_STATE_HOME/gemini-live/history; Esc, or a first Ctrl-C while the model answers,
stops the answer; Ctrl-C when nothing is being answered, or twice within 2 s, quits (130); Ctrl-D
on an empty line quits (0).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import anyio
from prompt_toolkit import PromptSession
from prompt_toolkit.application.current import get_app
from prompt_toolkit.filters import Condition
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import FileHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.patch_stdout import StdoutProxy

from agent import live_events as ev
from agent.console import Console, safe_text
from agent.status import StatusText

log = logging.getLogger(__name__)

PROMPT = "› "
DOUBLE_PRESS = 2.0  # seconds: a second Ctrl-C within this quits even while the model answers
# Families whose generation an empty clientContent turn (turn_complete) stops on the server.
SERVER_STOP = frozenset({"gemini-3.8-live", "gemini-3.8-live-extended-thinking"})


def interactive(stdin: TextIO, stdout: TextIO) -> bool:
    """Both ends are a person's terminal (not a pipe, a file or a dumb terminal)."""
    try:
        ttys = stdin.isatty() and stdout.isatty()
    except (ValueError, OSError):
        return False
    return ttys and os.environ.get("TERM", "") != "dumb"


def history_file() -> Path:
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return state / "gemini-live" / "history"


class TerminalConsole(Console):
    """The Console for an interactive terminal: every write lands above the input line.

    The model's (or the user's transcribed) words accumulate in `partial` until a line is
    complete (or as long as the screen is wide); the prompt shows `partial` above the input.
    """

    def __init__(self, *, verbose: bool = False) -> None:
        super().__init__(verbose=verbose)
        self.status_enabled = True  # the toolbar shows the status; the summary is printed at exit
        self.partial = ""
        self.hidden = False  # the rest of a stopped answer is not shown
        self.on_change: Any = lambda: None  # redraw the prompt
        self.on_turn_end: Any = lambda: None
        self._who: str | None = None

    # Writes go to whatever sys.stdout / sys.stderr are now: the proxy while the prompt runs.
    def _write_out(self, text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    def _write_err(self, text: str) -> None:
        sys.stderr.write(text)
        sys.stderr.flush()

    def _commit(self) -> None:
        if self._who is not None:
            line, self.partial, self._who = self.partial, "", None
            self._write_out(line + "\n")
            self.on_change()

    def _words(self, who: str, text: str) -> None:
        text = safe_text(text)
        if self._who != who:
            self._commit()
            self._who = who
            self.partial = "you: " if who == "user" else ""
        self.partial += text
        *lines, self.partial = self.partial.split("\n")
        width = max(20, shutil.get_terminal_size((80, 24)).columns - 1)
        while len(self.partial) > width:  # keep the line in progress to one screen line
            cut = self.partial.rfind(" ", 0, width)
            cut = cut if cut > 0 else width
            lines.append(self.partial[:cut])
            self.partial = self.partial[cut:].lstrip(" ")
        if lines:
            self._write_out("".join(line + "\n" for line in lines))
        self.on_change()

    def model_text(self, text: str) -> None:
        if not self.hidden:
            self._words("model", text)

    def user_transcript(self, text: str) -> None:
        self._words("user", text)

    def turn_complete(self) -> None:
        self._commit()
        if self.hidden:
            self.hidden = False
            self.on_turn_end()

    def block(self, text: str) -> None:
        if self.hidden:
            return
        self._commit()
        self._write_out(safe_text(text).rstrip("\n") + "\n")

    def info(self, text: str) -> None:
        self._commit()
        self._write_err(text + "\n")

    def status(self, text: str) -> None:
        pass  # the toolbar asks for the status itself

    def close(self) -> None:
        self._commit()

    def stop_showing(self) -> None:
        """Hide the rest of the current answer (until its turn ends or the user says something)."""
        self._commit()
        self.hidden = True

    def show_again(self) -> None:
        self.hidden = False

    def message(self) -> FormattedText:
        """The prompt: the line in progress above the input line."""
        if self.partial:
            return FormattedText([("", self.partial + "\n"), ("bold", PROMPT)])
        return FormattedText([("bold", PROMPT)])


class Gate:
    """An audio sink that drops what a stopped answer still sends, until the turn ends."""

    def __init__(self, sink: Any) -> None:
        self.sink = sink
        self.closed = False

    def write(self, pcm: bytes, rate: int = 24_000) -> None:
        if not self.closed:
            self.sink.write(pcm, rate)

    def flush(self) -> None:
        self.sink.flush()

    def end_turn(self) -> None:
        self.sink.end_turn()

    def __getattr__(self, name: str) -> Any:  # close(), playing, stats ... of the wrapped sink
        return getattr(self.sink, name)


class TerminalUI:
    """The input line of one agent: typed turns, slash commands, stop and quit keys."""

    def __init__(self, agent: Any, console: TerminalConsole, *, history: Path | None = None) -> None:
        self.agent = agent
        self.console = console
        self.history = history or history_file()
        self.exit_status: int | None = None  # set when the user quits from the input line
        self.reconnecting = False
        self.mic_muted = False  # /mute
        self.mute_installed = False
        self.status_text = StatusText()
        self._last_ctrl_c = 0.0
        self._gates: list[Gate] = []
        self._session: PromptSession[str] | None = None
        self._inputs: Any = None
        self._tg: anyio.abc.TaskGroup | None = None
        self._send: anyio.abc.ObjectSendStream[str] | None = None
        console.on_turn_end = self._reopen
        console.on_change = self._redraw

    # ---- status --------------------------------------------------------------------------

    def toolbar(self) -> FormattedText:
        text = "↻ reconnecting…" if self.reconnecting else self.status_text(self.agent)
        if self.agent.mic is not None and self.mic_muted:
            text += "  (mic muted: /unmute)"
        return FormattedText([("class:bottom-toolbar.text", " " + text)])

    def _watch_session(self) -> None:
        """Follow reconnects for the toolbar; every event still goes to the app's listener."""
        session = self.agent.session
        listener = session.listener

        def watching(event: ev.SessionEvent) -> None:
            if isinstance(event, ev.Reconnecting):
                self.reconnecting = True
            elif isinstance(event, ev.Connected):
                self.reconnecting = False
            listener(event)

        session.listener = watching

    def _message(self) -> FormattedText:
        """The prompt; while a question waits, it says how to answer instead of `›`."""
        pending = self.agent.questions.pending
        message = self.console.message()
        if pending is None:
            return message
        return FormattedText([*message[:-1], ("bold", f"{pending.hint or 'answer'} › ")])

    def _redraw(self) -> None:
        if self._session is not None and self._session.app.is_running:
            self._session.app.invalidate()

    # ---- stop and quit -------------------------------------------------------------------

    def answering(self) -> bool:
        speaker = self.agent.speaker
        return self.agent.state.phase() in ("answering", "thinking", "waiting") or bool(speaker is not None and speaker.playing)

    def stop_answer(self) -> bool:
        """Stop what the model is saying: playback flushed, the rest hidden, the server told if it can be."""
        if not self.answering():
            return False
        for gate in self._gates:
            gate.closed = True
            gate.flush()
        self.console.stop_showing()
        self.console.info("⏹ stopped")
        profile = self.agent.plan.profile
        if profile.family in SERVER_STOP and self._tg is not None and self.agent.session is not None:
            self._tg.start_soon(self._stop_on_server)
        return True

    async def _stop_on_server(self) -> None:
        try:
            await self.agent.session.interrupt_generation()
        except Exception as e:  # noqa: BLE001 - a stop that could not be sent is only a notice
            log.info("could not ask the server to stop: %s", e)

    def _reopen(self) -> None:
        for gate in self._gates:
            gate.closed = False

    def quit(self, status: int) -> None:
        if self.exit_status is None:
            self.exit_status = status
        for gate in self._gates:
            gate.closed = True
            gate.flush()
        if self._inputs is not None:
            self._inputs.quit()

    def on_ctrl_c(self) -> bool:
        """True when this Ctrl-C quits; else it stopped the answer."""
        now = time.monotonic()
        double = now - self._last_ctrl_c < DOUBLE_PRESS
        self._last_ctrl_c = now
        if double or not self.stop_answer():
            return True
        self.console.info("(Ctrl-C again to quit)")
        return False

    def key_bindings(self) -> KeyBindings:
        kb = KeyBindings()

        @kb.add("escape", eager=True)
        def _esc(event: KeyPressEvent) -> None:
            self.stop_answer()

        @kb.add("c-c")
        def _ctrl_c(event: KeyPressEvent) -> None:
            if self.on_ctrl_c():
                self.exit_status = 130 if self.exit_status is None else self.exit_status
                event.app.exit(result="")

        ptt = self.agent.ptt
        if ptt is not None:
            # The push-to-talk key toggles the mic on an empty line; in the middle of a line it types.
            @kb.add(ptt.key, filter=Condition(lambda: not get_app().current_buffer.text))
            def _talk(event: KeyPressEvent) -> None:
                ptt.toggle()

        return kb

    # ---- the loop ------------------------------------------------------------------------

    def banner(self) -> None:
        from agent.banner import banner_lines

        for line in banner_lines(self.agent, interactive=True):
            self.console.info(line)

    async def run(self, inputs: Any, tg: anyio.abc.TaskGroup) -> None:
        """Read lines until the user quits; each goes out in order, without holding the prompt."""
        from agent.slash import SlashCommands

        self._inputs, self._tg = inputs, tg
        sinks = self.agent.conversation.sinks
        self._gates = [s if isinstance(s, Gate) else Gate(s) for s in sinks]
        sinks[:] = self._gates
        if self.agent.session is not None:
            self._watch_session()
        slash = SlashCommands(self.agent, self)
        self.agent.questions.listeners.append(self._redraw)  # a question shows in the prompt
        send, receive = anyio.create_memory_object_stream[str](32)
        self._send = send
        tg.start_soon(self._sender, inputs, receive)
        self.history.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):  # what you typed is yours alone: 0600, like the session log
            os.close(os.open(self.history, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        self._session = PromptSession(
            history=FileHistory(str(self.history)),
            key_bindings=self.key_bindings(),
            bottom_toolbar=self.toolbar,
            refresh_interval=0.1,
        )
        self._session.app.ttimeoutlen = 0.05  # Esc alone is a key here, not the start of a sequence
        with self._patched_output():
            self.banner()
            async with send:
                while self.exit_status is None:
                    try:
                        line = await self._session.prompt_async(self._message)
                    except EOFError:
                        self.quit(0)
                        break
                    except KeyboardInterrupt:
                        self.quit(130)
                        break
                    if self.exit_status is not None:
                        self.quit(self.exit_status)
                        break
                    if self.agent.questions.answer(line):  # a question waited: this was its answer
                        continue
                    line = line.strip()
                    if not line:
                        continue
                    if line.startswith("/"):
                        await slash.run(line)
                        continue
                    await self.send_turn(line)
        self.console.close()

    async def send_turn(self, text: str) -> None:
        """A user turn, after those before it; what a stopped answer hid is shown again."""
        self.console.show_again()
        self._reopen()
        if self._send is not None:
            await self._send.send(text)

    async def _sender(self, inputs: Any, receive: anyio.abc.ObjectReceiveStream[str]) -> None:
        await inputs.wait_initial_sent()
        async with receive:
            async for line in receive:
                await inputs.send_text(line)

    @contextlib.contextmanager
    def _patched_output(self) -> Iterator[None]:
        """stdout (and stderr when it is this terminal) write above the input line, logging too."""
        proxy = StdoutProxy(raw=True, sleep_between_writes=0.05)
        saved = sys.stdout, sys.stderr
        err_is_tty = sys.stderr.isatty()
        handlers = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler) and h.stream is sys.stderr]
        sys.stdout = proxy
        if err_is_tty:
            sys.stderr = proxy
            for h in handlers:
                h.setStream(proxy)
        try:
            yield
        finally:
            sys.stdout, sys.stderr = saved
            for h in handlers:
                h.setStream(saved[1])
            proxy.close()
