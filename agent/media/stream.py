"""What the mic and the speaker share: one PortAudio stream's life from open to close.

The stream is opened in a worker thread under the PortAudio lock (opening can block, and two
streams must not open at once), `run` reports started once it plays, then waits until the
device is lost (PortAudio's finished callback) or the task is cancelled, and always closes the
stream, shielded from cancellation.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import anyio

from agent.errors import UserError
from agent.media.buffers import thread_safe_caller
from agent.media.devices import PORTAUDIO_LOCK, Kind, import_sounddevice, resolve_device


class DeviceStream:
    """Base of Mic and Speaker; a subclass opens its stream in `_open_and_start`."""

    kind: Kind = "input"  # or "output": which devices `device` names
    device: str | int | None = None

    def __init__(self) -> None:
        self._stream: Any = None
        self._running = False  # the stream is open
        self._closing = False
        self._on_finished: Callable[[], None] = lambda: None

    def _open_and_start(self, sd: Any, index: int | None) -> None:
        raise NotImplementedError

    def _opened(self) -> None:
        """Called on the event loop once the stream runs (to log what was opened)."""

    def _finished(self) -> None:
        if not self._closing:
            self._on_finished()

    def _close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            self._closing = True
            with PORTAUDIO_LOCK:
                stream.close(ignore_errors=True)

    async def _serve(self, task_status: anyio.abc.TaskStatus[None]) -> None:
        """Open, report started, return when the device is lost; the stream is closed either way."""
        sd = import_sounddevice()
        lost = anyio.Event()
        call_soon = thread_safe_caller()

        def on_finished() -> None:
            with contextlib.suppress(RuntimeError):  # the event loop is gone
                call_soon(lost.set)

        def open_locked() -> None:
            with PORTAUDIO_LOCK:
                self._open_and_start(sd, resolve_device(self.device, self.kind))

        self._on_finished = on_finished
        self._closing = False
        try:
            try:
                await anyio.to_thread.run_sync(open_locked)
            except sd.PortAudioError as exc:
                raise UserError(f"cannot start audio {self.kind}: {exc}; run with --no-audio-{self.kind}") from exc
            self._opened()
            self._running = True
            task_status.started()
            await lost.wait()
        finally:
            self._running = False
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._close)
