"""The terminal: stdin lines in; model text, transcripts, sources, code and tool activity out.

The conversation goes to stdout (the model's words unlabelled, so `echo hi | gemini-live` pipes
cleanly; the user's speech as `you: …`). Diagnostics, tool activity, the status line and
`--verbose` events go to stderr.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import threading
from typing import Any, TextIO

import anyio
import anyio.from_thread
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectSendStream

from agent.tools.printable import printable


def safe_text(text: str) -> str:
    """`text` without terminal escape sequences or control characters (newlines and tabs kept).

    The model's words, like a tool server's, reach a terminal, where ESC [ 2 J or a bidi
    override would act.
    """
    return printable(text)


def _short(value: Any) -> Any:
    """A JSON-able copy of a server message with bytes replaced by their size."""
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, dict):
        return {k: _short(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_short(v) for v in value]
    return value


class Console:
    """Prints the conversation. Every method is synchronous and never blocks for long."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None, *, verbose: bool = False) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.verbose = verbose
        self.secrets: list[str] = []  # strings never to print (the API key), set by the app
        self._speaker: str | None = None  # who the open stdout line belongs to
        self._status = ""
        self.status_enabled = self.err.isatty()
        self._clean = _isatty(self.out)  # a terminal gets the model's words without control characters

    # ---- conversation (stdout) -------------------------------------------------------

    def _begin(self, who: str) -> None:
        if self._speaker != who:
            self._end_line()
            self._clear_status()
            if who == "user":
                self.out.write("you: ")
            self._speaker = who

    def _end_line(self) -> None:
        if self._speaker is not None:
            self.out.write("\n")
            self.out.flush()
            self._speaker = None

    def model_text(self, text: str) -> None:
        self._begin("model")
        self.out.write(safe_text(text) if self._clean else text)
        self.out.flush()

    def user_transcript(self, text: str) -> None:
        self._begin("user")
        self.out.write(safe_text(text) if self._clean else text)
        self.out.flush()

    def turn_complete(self) -> None:
        self._end_line()
        self._redraw_status()

    def block(self, text: str) -> None:
        """A block of its own lines on stdout (sources, code, results)."""
        self._end_line()
        self._clear_status()
        self.out.write((safe_text(text) if self._clean else text).rstrip("\n") + "\n")
        self.out.flush()

    def sources(self, chunks: list[tuple[str, str]], queries: list[str]) -> None:
        lines = []
        if queries:
            lines.append("Searched: " + "; ".join(queries))
        if chunks:
            lines.append("Sources:")
            lines += [f"  [{i}] {title} — {uri}" if title else f"  [{i}] {uri}" for i, (title, uri) in enumerate(chunks, 1)]
        if lines:
            self.block("\n".join(lines))

    def code(self, language: str, code: str) -> None:
        self.block(f"```{language.lower() if language else ''}\n{code.rstrip()}\n```")

    def code_result(self, outcome: str, output: str) -> None:
        label = "Result" if outcome in ("", "OUTCOME_OK") else f"Result ({outcome})"
        self.block(f"{label}:\n{output.rstrip()}" if output.strip() else f"{label}: (no output)")

    # ---- diagnostics (stderr) --------------------------------------------------------

    def info(self, text: str) -> None:
        self._end_line()
        self._clear_status()
        self.err.write(text + "\n")
        self.err.flush()
        self._redraw_status()

    def error(self, text: str) -> None:
        self.info(f"gemini-live: {text}")

    def event(self, message: Any) -> None:
        """--verbose: one raw server event per line, cut to the terminal width."""
        if not self.verbose:
            return
        data = message.model_dump(exclude_none=True, mode="python") if hasattr(message, "model_dump") else message
        line = "« " + json.dumps(_short(data), ensure_ascii=False, default=str, separators=(",", ":"))
        for secret in self.secrets:  # what the log file masks, -v masks too
            line = line.replace(secret, "***")
        width = shutil.get_terminal_size((160, 24)).columns
        self.info(line if len(line) <= width else line[: max(10, width - 1)] + "…")

    # ---- status line (stderr, terminals only) ----------------------------------------

    def status(self, text: str) -> None:
        if not self.status_enabled or text == self._status:
            return
        self._status = text
        self._redraw_status()

    def _clear_status(self) -> None:
        if self.status_enabled and self._status:
            self.err.write("\r\x1b[2K")
            self.err.flush()

    def _redraw_status(self) -> None:
        if self.status_enabled and self._status and self._speaker is None:
            width = shutil.get_terminal_size((80, 24)).columns
            self.err.write("\r\x1b[2K" + self._status[: width - 1])
            self.err.flush()

    def close(self) -> None:
        self._end_line()
        self._clear_status()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (ValueError, OSError):
        return False


async def read_lines(stream: TextIO, send: MemoryObjectSendStream[str], *, keep_empty: bool = False) -> None:
    """Forward each line of `stream` to `send` (blank ones too with `keep_empty`); close `send` at end-of-file.

    A daemon thread does the blocking reads, so a pending readline never holds up exit.
    """
    token = anyio.lowlevel.current_token()
    done = anyio.Event()

    def reader() -> None:
        try:
            for line in iter(stream.readline, ""):
                line = line.rstrip("\r\n")
                if keep_empty or line.strip():
                    anyio.from_thread.run(send.send, line, token=token)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, RuntimeError, ValueError, OSError):
            pass  # the agent is shutting down, or stdin went away
        finally:
            with contextlib.suppress(RuntimeError):  # the event loop is gone
                anyio.from_thread.run_sync(done.set, token=token)

    threading.Thread(target=reader, name="stdin", daemon=True).start()
    async with send:
        await done.wait()
