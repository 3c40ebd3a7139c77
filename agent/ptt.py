"""Push-to-talk: a key turns the mic on and off; the speech between goes as activityStart/activityEnd.

Terminals report key presses, not releases, so the key toggles: press to talk, press again to
send. The mic does the bracketing itself (agent.media.mic, `activity_markers`), so the markers
are always in order with the audio.

Reading the key: `PttStdin` stands in for stdin, so the text input reader above it is unchanged.
- On a terminal, stdin is read a key at a time (cbreak mode, restored at exit): the push-to-talk
  key on an empty line toggles; anything else is typed text, echoed and edited here (backspace,
  Ctrl-U), and sent on Enter.
- Elsewhere (a pipe, a test), the line `/ptt` toggles and every other line is text.
"""

from __future__ import annotations

import atexit
import codecs
import contextlib
import logging
import os
import threading
from collections.abc import Callable
from typing import Any, TextIO

log = logging.getLogger(__name__)

PTT_LINE = "/ptt"  # the line that toggles when stdin is not a terminal
KEY_NAMES = {"space": " ", "tab": "\t"}


def key_char(key: str) -> str:
    """The character a key name stands for: `space`, `tab`, or the character itself."""
    return KEY_NAMES.get(key, key)


def key_label(key: str) -> str:
    """How the status line names the key."""
    char = key_char(key)
    return next((name for name, c in KEY_NAMES.items() if c == char), char)


class PushToTalk:
    """Whether the user holds the floor; `toggle()` from any thread, listeners told of each change."""

    def __init__(self, key: str = "space") -> None:
        self.key = key_char(key)
        self.label = key_label(key)
        self.talking = False
        self.presses = 0
        self._listeners: list[Callable[[bool], None]] = []
        self._lock = threading.Lock()

    def on_change(self, listener: Callable[[bool], None]) -> None:
        """Call `listener(talking)` after each change (from the thread that made it)."""
        self._listeners.append(listener)

    def muted(self) -> bool:
        """The mic's predicate: silent unless talking."""
        return not self.talking

    def set(self, talking: bool) -> None:
        with self._lock:
            if talking == self.talking:
                return
            self.talking = talking
            self.presses += 1
        log.info("push-to-talk: %s", "talking" if talking else "sent")
        for listener in self._listeners:
            try:
                listener(talking)
            except Exception:  # a listener's bug must not kill the key reader's thread
                log.exception("push-to-talk listener failed")

    def toggle(self) -> bool:
        """Start talking, or stop (the model then answers); returns the new state."""
        with self._lock:
            talking = not self.talking
        self.set(talking)
        return talking

    def wrap(self, stdin: TextIO) -> PttStdin:
        return PttStdin(stdin, self)


class PttStdin:
    """A stdin for the text reader that takes the push-to-talk key (or `/ptt` lines) out of it."""

    def __init__(self, stream: TextIO, ptt: PushToTalk) -> None:
        self.stream = stream
        self.ptt = ptt
        self._tty = _isatty(stream)
        self._pending = ""  # characters read from the terminal, not yet consumed
        self._saved: list[Any] | None = None  # the terminal's attributes before cbreak mode
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def isatty(self) -> bool:
        return self._tty

    def fileno(self) -> int:
        return self.stream.fileno()

    def readline(self) -> str:
        """The next line of text (with its newline); "" at end of input."""
        if self._tty and self._cbreak():
            return self._read_terminal_line()
        while True:
            line = self.stream.readline()
            if line.strip() == PTT_LINE:
                self.ptt.toggle()
                continue
            return line

    # ---- terminal ----------------------------------------------------------------------

    def _read_terminal_line(self) -> str:
        fd = self.stream.fileno()
        line: list[str] = []
        escape = False
        while True:
            if not self._pending:
                data = os.read(fd, 256)
                if not data:
                    return "".join(line) + "\n" if line else ""
                self._pending = self._decoder.decode(data)
                continue
            ch, self._pending = self._pending[0], self._pending[1:]
            if escape:  # skip an escape sequence (arrow keys...): ESC [ params final-byte
                escape = ch == "[" or not ("@" <= ch <= "~")
                continue
            if ch == "\x1b":
                escape = True
            elif ch == self.ptt.key and not line:
                self.ptt.toggle()
            elif ch in "\r\n":
                self._echo("\n")
                return "".join(line) + "\n"
            elif ch in "\x7f\b":
                if line:
                    line.pop()
                    self._echo("\b \b")
            elif ch == "\x15":  # Ctrl-U: clear the line
                self._echo("\b \b" * len(line))
                line.clear()
            elif ch == "\x04":  # Ctrl-D: end of input on an empty line
                if not line:
                    return ""
            elif ch >= " " or ch == "\t":
                line.append(ch)
                self._echo(ch)

    def _echo(self, text: str) -> None:
        with contextlib.suppress(OSError):
            os.write(self.stream.fileno(), text.encode())

    def _cbreak(self) -> bool:
        """Keys one at a time, not echoed (Ctrl-C still interrupts), restored at exit; False if
        the terminal will not (then lines are read as they come and `/ptt` toggles)."""
        if self._saved is not None:
            return True
        try:
            import termios
        except ImportError:  # not a POSIX system
            self._tty = False
            return False
        try:
            fd = self.stream.fileno()
            saved = termios.tcgetattr(fd)
            mode = termios.tcgetattr(fd)
            mode[3] &= ~(termios.ICANON | termios.ECHO)
            mode[6][termios.VMIN], mode[6][termios.VTIME] = 1, 0
            termios.tcsetattr(fd, termios.TCSANOW, mode)
        except (termios.error, OSError, ValueError) as exc:
            log.warning("push-to-talk: cannot read single keys from the terminal (%s); type /ptt instead", exc)
            self._tty = False
            return False
        self._saved = saved
        atexit.register(self.restore)
        return True

    def restore(self) -> None:
        """Put the terminal back as it was."""
        saved, self._saved = self._saved, None
        if saved is None:
            return
        import termios

        with contextlib.suppress(OSError, termios.error, ValueError):
            termios.tcsetattr(self.stream.fileno(), termios.TCSANOW, saved)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (ValueError, OSError):
        return False
