"""Composition root: one anyio task group owns every component of a running agent.

Start-up order: tools (their declarations go into the setup message), the Live session
(started once setupComplete arrives), then the inputs (stdin, initial message, mic or WAV
file, screen) and outputs (speaker, WAV recorder). The agent ends when the user interrupts
it, when the session ends, or (headless) when every input is closed and the model is done.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import TextIO

import anyio
from google import genai

from agent.config import Config
from agent.console import Console, read_lines
from agent.conversation import Conversation
from agent.errors import SessionError, UserError
from agent.live_config import build_live_config
from agent.record import Recorder
from agent.session import LiveSession

log = logging.getLogger(__name__)

AUDIO_REPLY_GRACE = 10.0  # seconds to wait for a reply after audio input ends


def api_key_from_env() -> str | None:
    return os.environ.get("GOOGLE_API_KEY") or os.environ.get("GEMINI_API_KEY")


def make_client() -> genai.Client:
    """A client configured entirely from the SDK's own environment variables."""
    vertex = os.environ.get("GOOGLE_GENAI_USE_VERTEXAI", "").lower() in ("1", "true", "yes")
    if not vertex and not api_key_from_env():
        raise UserError(
            "no API key: set GOOGLE_API_KEY (or GEMINI_API_KEY) to a Gemini API key, "
            "or set GOOGLE_GENAI_USE_VERTEXAI=true with GOOGLE_CLOUD_PROJECT and GOOGLE_CLOUD_LOCATION"
        )
    try:
        return genai.Client()
    except ValueError as e:  # the SDK's own credential checks
        raise UserError(f"cannot create the Gemini client: {e}") from None


class Agent:
    """A running agent. `run()` returns the process exit status."""

    def __init__(self, config: Config, *, stdin: TextIO | None = None, console: Console | None = None) -> None:
        self.config = config
        self.stdin = stdin if stdin is not None else sys.stdin
        self.console = console or Console(verbose=config.verbose)
        self.recorder = Recorder(config.log_file, secrets=[api_key_from_env() or ""])
        self.conversation = Conversation(self.console, self.recorder)
        self._open_inputs: set[str] = set()
        self._inputs_changed = anyio.Event()
        self._initial_sent = anyio.Event()
        self.session: LiveSession | None = None

    # ---- inputs ----------------------------------------------------------------------

    def _input_opened(self, name: str) -> None:
        self._open_inputs.add(name)

    def _input_closed(self, name: str) -> None:
        self._open_inputs.discard(name)
        self._inputs_changed.set()
        self._inputs_changed = anyio.Event()

    async def _send_text(self, text: str) -> None:
        assert self.session is not None
        await self.session.send_text(text, realtime=self.config.uses_realtime_text)
        self.conversation.user_turn_sent(text)

    async def _initial_message(self) -> None:
        try:
            if self.config.initial_message_delay:
                await anyio.sleep(self.config.initial_message_delay)
            await self._send_text(self.config.initial_message or "")
        finally:
            self._initial_sent.set()
            self._input_closed("initial")

    async def _stdin(self) -> None:
        send, receive = anyio.create_memory_object_stream[str](16)
        interactive = self.stdin.isatty()
        async with anyio.create_task_group() as tg:
            tg.start_soon(read_lines, self.stdin, send)
            async with receive:
                async for line in receive:
                    await self._initial_sent.wait()
                    if not interactive:
                        # Piped lines are a script: each waits for the answer to the one before,
                        # where typed lines go at once (typing over the model interrupts it).
                        await self.conversation.wait_idle()
                    await self._send_text(line)
        self._input_closed("stdin")

    async def _until_inputs_done(self) -> None:
        """Headless contract: every input closed, then the model's turn (and tools) finished."""
        while self._open_inputs:
            await self._inputs_changed.wait()
        await self.conversation.wait_idle()

    # ---- run -------------------------------------------------------------------------

    async def run(self) -> int:
        config = self.config
        client = make_client()
        self.session = LiveSession(
            client,
            config.model,
            lambda handle: build_live_config(config, resume_handle=handle),
            self.conversation.handle,
            on_setup=self.conversation.record_setup,
        )
        self.recorder.event("connect", model=config.model, base_url=self.session.base_url)
        try:
            async with anyio.create_task_group() as tg:
                await tg.start(self.session.run)
                self._input_opened("stdin")
                tg.start_soon(self._stdin)
                if config.initial_message:
                    self._input_opened("initial")
                    tg.start_soon(self._initial_message)
                else:
                    self._initial_sent.set()
                await self._until_inputs_done()
                tg.cancel_scope.cancel()
        finally:
            self.console.close()
            self.recorder.event("exit")
            self.recorder.close()
        return 0


def unwrap(group: BaseExceptionGroup) -> BaseException:
    """The one exception worth reporting from a task group's group of failures."""
    leaves: list[BaseException] = []

    def walk(e: BaseException) -> None:
        if isinstance(e, BaseExceptionGroup):
            for inner in e.exceptions:
                walk(inner)
        else:
            leaves.append(e)

    walk(group)
    for kind in (KeyboardInterrupt, UserError, SessionError):
        for leaf in leaves:
            if isinstance(leaf, kind):
                return leaf
    # Called outside the event loop, so the cancellation class is named, not asked for.
    non_cancel = [e for e in leaves if not isinstance(e, asyncio.CancelledError)]
    return (non_cancel or leaves)[0]
