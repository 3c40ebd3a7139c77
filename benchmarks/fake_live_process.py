"""The fake Live server in a child process, so its CPU and GIL stay out of a benchmark's figures,
and a stdin that keeps the in-process agent running until the benchmark is done.

`target(pipe)` runs in the child: it starts a FakeLiveServer, sends its env() on the pipe, then
answers commands `(name, *args)` with `("ok", value)` or `("error", text)` until `("stop",)`,
which it answers with `("stopped", [errors])`.
"""

from __future__ import annotations

import io
import multiprocessing
import threading
from collections.abc import Callable
from typing import Any

import anyio
import anyio.to_thread


class FakeServerProcess:
    """The parent's handle on the fake server process."""

    def __init__(self, target: Callable[[Any], None], *, start_timeout: float = 90.0) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.pipe, child = ctx.Pipe()
        self.start_timeout = start_timeout
        self.proc = ctx.Process(target=target, args=(child,), daemon=True, name="fake-live")
        self.proc.start()
        child.close()

    def env(self) -> dict[str, str]:
        if not self.pipe.poll(self.start_timeout):
            raise RuntimeError("the fake Live server process did not start")
        return self.pipe.recv()

    def _call(self, command: tuple[Any, ...]) -> Any:
        self.pipe.send(command)
        status, value = self.pipe.recv()
        if status != "ok":
            raise RuntimeError(f"fake Live server: {value}")
        return value

    async def call(self, *command: Any) -> Any:
        # A worker thread waits on the pipe; it sleeps in recv() while the agent is measured.
        return await anyio.to_thread.run_sync(self._call, command)

    def stop(self) -> list[str]:
        errors: list[str] = []
        try:
            self.pipe.send(("stop",))
            if self.pipe.poll(15):
                status, value = self.pipe.recv()
                errors = list(value) if status == "stopped" else []
        except (OSError, EOFError):
            pass
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)
        return errors


class HeldStdin(io.TextIOBase):
    """A non-terminal stdin that stays open (no input) until released, then reads as EOF."""

    def __init__(self) -> None:
        self._released = threading.Event()

    def release(self) -> None:
        self._released.set()

    def isatty(self) -> bool:
        return False

    def readable(self) -> bool:
        return True

    def readline(self, size: int = -1) -> str:  # type: ignore[override]
        self._released.wait()
        return ""
