"""Questions for the person: a confirmation before a destructive tool, the fields of an MCP elicitation.

One question is shown at a time (a form's fields one after another, never interleaved with another
question) and the next line the person types answers it, instead of becoming a user turn: at the
interactive input line, on a terminal's stdin, and, when stdin is not a terminal, the next line
piped in (so scripts and tests can answer). The conversation goes on meanwhile: a question waits
inside the tool call that asked it. A question nobody answers within the timeout, or asked when
nobody can answer any more (stdin closed), gets no answer (None): the caller declines or cancels.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio

from agent.tools.printable import printable

log = logging.getLogger(__name__)

YES = frozenset({"y", "yes"})
MAX_SHOWN = 300  # characters of arguments (or a server's text) in one question

Ask = Callable[[str, str], Awaitable[str | None]]


@dataclass
class Question:
    text: str  # printable
    hint: str = ""  # how to answer: "[y/N]", "(Enter: 2)"
    answered: anyio.Event = field(default_factory=anyio.Event)
    answer: str | None = None

    def shown(self) -> str:
        return f"? {self.text} {self.hint}".rstrip()


class Questions:
    """The person's attention: one question at a time; the next typed line answers it."""

    def __init__(self, console: Any, recorder: Any = None, *, timeout: float = 60.0) -> None:
        self.console = console
        self.recorder = recorder
        self.timeout = timeout
        self.pending: Question | None = None
        self.answerable = True  # False once nobody can type an answer (stdin closed)
        self.listeners: list[Callable[[], None]] = []  # the input line redraws its prompt
        self._lock = anyio.Lock()
        self._changed = anyio.Event()

    # ---- asking (from a tool call's task) ------------------------------------------------

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[Ask]:
        """The person's attention for a series of questions (a form): nobody else asks meanwhile."""
        async with self._lock:
            yield self._ask

    async def ask(self, text: str, hint: str = "") -> str | None:
        """One question; the answer as typed (stripped), or None: no answer in time, or nobody to ask."""
        async with self.turn() as ask:
            return await ask(text, hint)

    async def _ask(self, text: str, hint: str) -> str | None:
        if not self.answerable:
            return None
        question = Question(printable(text), printable(hint, one_line=True))
        self.pending = question
        self._touch()
        self.console.info(question.shown())
        try:
            with anyio.move_on_after(self.timeout):
                await question.answered.wait()
        finally:
            self.pending = None
            self._touch()
        if question.answer is None and self.answerable:
            self.console.info(f"  (no answer within {self.timeout:g} s)")
        return question.answer

    def why_unanswered(self) -> str:
        if not self.answerable:
            return "nobody can answer: stdin is closed (run with --yes to approve tool calls without asking)"
        return f"no answer within {self.timeout:g} s"

    # ---- answering (from whoever reads lines) ----------------------------------------------

    def answer(self, line: str) -> bool:
        """True when a question was waiting and `line` answered it (so it is not a user turn)."""
        question = self.pending
        if question is None or question.answered.is_set():
            return False
        question.answer = line.strip()
        question.answered.set()
        return True

    async def wait_asked(self) -> None:
        """Until a question is waiting for an answer."""
        while self.pending is None or self.pending.answered.is_set():
            await self._changed.wait()

    def close(self) -> None:
        """Nobody can answer any more: the question waiting now, and every later one, gets None."""
        self.answerable = False
        if self.pending is not None:
            self.pending.answered.set()
        self._touch()

    def _touch(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()
        for listener in self.listeners:
            try:
                listener()
            except Exception:  # a redraw must never break a question
                log.exception("question listener failed")


def shown_args(args: Any, limit: int = MAX_SHOWN) -> str:
    """A call's arguments as one printable line, bounded."""
    text = json.dumps(args, ensure_ascii=False, default=str, separators=(", ", ": "))
    text = printable(text[: limit * 2], one_line=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Confirmations:
    """Asks before a call whose policy says so; --yes approves all. A declined call never runs."""

    def __init__(self, questions: Questions, recorder: Any = None, *, assume_yes: bool = False) -> None:
        self.questions = questions
        self.recorder = recorder
        self.assume_yes = assume_yes

    async def __call__(self, name: str, tool: str, source: str, args: dict[str, Any]) -> str | None:
        """None: go ahead; else why the call is declined."""
        if self.assume_yes:
            self._record(name, True, "--yes")
            return None
        text = f"{name} ({source}: {tool}) wants to run with {shown_args(args)}. Run it?"
        answer = await self.questions.ask(text, "[y/N]")
        if answer is None:
            why = self.questions.why_unanswered()
            self._record(name, False, "no answer")
            return f"the person was asked to confirm {name} and did not answer ({why}); it was not run"
        approved = answer.lower() in YES
        self._record(name, approved, "answered")
        return None if approved else f"the person declined to run {name}; it was not run"

    def _record(self, name: str, approved: bool, how: str) -> None:
        if self.recorder is not None:
            self.recorder.event("confirmation", name=name, approved=approved, how=how)
