"""Typed input (stdin lines, the initial message) and the headless contract's bookkeeping.

Every input source is registered as open; when the last one closes (stdin at end-of-file, the
WAV file sent) and the conversation is idle, `until_done` returns and the agent exits 0. A live
mic never closes, so with a mic the agent runs until Ctrl-C. In an interactive terminal the input
line (agent.terminal, set as `front`) reads the typed lines instead, and `quit()` ends the agent
at once, whatever is still open or running.
"""

from __future__ import annotations

import functools
from typing import Any, TextIO

import anyio

from agent.config import Config
from agent.console import read_lines
from agent.conversation import Conversation


class TextInputs:
    def __init__(self, config: Config, stdin: TextIO, conversation: Conversation, *, realtime_text: bool) -> None:
        self.config = config
        self.stdin = stdin
        self.conversation = conversation
        self.realtime_text = realtime_text  # how the model's profile takes typed turns
        self.headless = not stdin.isatty()  # a script: nobody will type an answer to a stall
        self.session: Any = None  # set once the Live session is up
        self.front: Any = None  # the interactive input line (agent.terminal.TerminalUI), if any
        self.questions: Any = None  # agent.questions.Questions: a line typed while one waits answers it
        self._quit = anyio.Event()
        self._open: set[str] = set()
        self._changed = anyio.Event()
        self._initial_sent = anyio.Event()

    def open(self, name: str) -> None:
        self._open.add(name)

    def close(self, name: str) -> None:
        self._open.discard(name)
        self._changed.set()
        self._changed = anyio.Event()

    def start(self, tg: anyio.abc.TaskGroup) -> None:
        self.open("stdin")
        if self.front is not None:
            tg.start_soon(self._front, tg)
        else:
            tg.start_soon(self._stdin)
        if self.config.initial_message:
            self.open("initial")
            tg.start_soon(self._initial_message)
        else:
            self._initial_sent.set()

    async def send_text(self, text: str) -> None:
        await self.session.send_text(text, realtime=self.realtime_text)
        self.conversation.user_text_sent(text)

    async def _initial_message(self) -> None:
        try:
            if self.config.initial_message_delay:
                await anyio.sleep(self.config.initial_message_delay)
            await self.send_text(self.config.initial_message or "")
        finally:
            self._initial_sent.set()
            self.close("initial")

    async def _stdin(self) -> None:
        send, receive = anyio.create_memory_object_stream[str](16)
        interactive = self.stdin.isatty()
        async with anyio.create_task_group() as tg:
            tg.start_soon(functools.partial(read_lines, self.stdin, send, keep_empty=True))  # an empty line answers too
            async with receive:
                async for line in receive:
                    await self._initial_sent.wait()
                    if self._answers(line):
                        continue
                    if not interactive:
                        # Piped lines are a script: each waits for the answer to the one before (or
                        # answers a question asked meanwhile), where typed lines go at once (typing
                        # over the model interrupts it).
                        await self._idle_or_asked()
                        if self._answers(line):
                            continue
                    if line.strip():
                        await self.send_text(line)
        if self.questions is not None:
            self.questions.close()  # nobody can answer a question now: it is declined at once
        self.close("stdin")

    def _answers(self, line: str) -> bool:
        """A question waits for the person: this line is its answer, not a user turn."""
        return self.questions is not None and self.questions.answer(line)

    async def _idle_or_asked(self) -> None:
        """Until the conversation is idle, or a question waits for an answer."""
        if self.questions is None:
            await self.conversation.state.wait_idle()
            return
        async with anyio.create_task_group() as tg:

            async def until(event: Any) -> None:
                await event()
                tg.cancel_scope.cancel()

            tg.start_soon(until, self.conversation.state.wait_idle)
            tg.start_soon(until, self.questions.wait_asked)

    async def wait_initial_sent(self) -> None:
        """Typed lines go after the initial message."""
        await self._initial_sent.wait()

    async def _front(self, tg: anyio.abc.TaskGroup) -> None:
        try:
            await self.front.run(self, tg)
        finally:
            self.close("stdin")

    def quit(self) -> None:
        """The user quit: `until_done` returns now, not when the model is done."""
        self._quit.set()

    async def until_done(self) -> None:
        """Headless contract: every input closed, then the model's turn (and tools) finished; or a quit."""
        async with anyio.create_task_group() as tg:

            async def finished() -> None:
                while self._open:
                    await self._changed.wait()
                await self.conversation.state.wait_idle()
                tg.cancel_scope.cancel()

            async def quit() -> None:
                await self._quit.wait()
                tg.cancel_scope.cancel()

            tg.start_soon(finished)
            tg.start_soon(quit)
