"""Thread-safe audio buffers between PortAudio callback threads and the event loop.

`AudioQueue` carries mic/file input to the session's audio sender; `JitterBuffer` carries model
audio to the speaker callback. Both hold a `threading.Lock` only for a few deque/bytearray
operations, so a PortAudio callback never waits on the event loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import anyio
import numpy as np
import sniffio

from agent.events import AudioChunk, AudioStreamEnd, InputClosed


@dataclass(frozen=True, slots=True)
class ActivityStart:
    """Push-to-talk: the user began speaking (sent as activityStart; automatic detection is off)."""


@dataclass(frozen=True, slots=True)
class ActivityEnd:
    """Push-to-talk: the user stopped speaking (sent as activityEnd)."""


AudioItem = AudioChunk | AudioStreamEnd | InputClosed | ActivityStart | ActivityEnd


def thread_safe_caller() -> Callable[[Callable[[], object]], object]:
    """Return a non-blocking "run this soon in the current event loop" usable from any thread."""
    try:
        return asyncio.get_running_loop().call_soon_threadsafe
    except RuntimeError:
        pass
    lib = sniffio.current_async_library()
    if lib == "trio":
        import trio

        return trio.lowlevel.current_trio_token().run_sync_soon
    raise RuntimeError(f"unsupported async library: {lib}")


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class _Waiter:
    """Something one task awaits and any thread can trigger without blocking.

    On asyncio a bare Future (the hot path: one per mic block), elsewhere an anyio.Event.
    """

    __slots__ = ("_fut", "_loop", "_event", "_call_soon")

    def __init__(self) -> None:
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None
        if self._loop is not None:
            self._fut: asyncio.Future[None] | None = self._loop.create_future()
        else:
            self._fut = None
            self._event = anyio.Event()
            self._call_soon = thread_safe_caller()

    def wake(self) -> None:
        try:
            if self._fut is not None:
                self._loop.call_soon_threadsafe(_resolve, self._fut)  # type: ignore[union-attr]
            else:
                self._call_soon(self._event.set)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    async def wait(self) -> None:
        if self._fut is not None:
            await self._fut
        else:
            await self._event.wait()


class AudioQueue:
    """Bounded queue of input items: drop-oldest-audio for device threads, await for files.

    `put_nowait` never blocks: when full it drops the oldest AudioChunk (counted in `dropped`).
    Markers (AudioStreamEnd, InputClosed, ActivityStart/End) are never dropped (they may exceed
    `maxsize` briefly), so they keep their order with the audio around them.
    One consumer task awaits `get()` or iterates with `async for`.
    """

    def __init__(self, maxsize: int = 50) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be >= 1")
        self.maxsize = maxsize
        self.dropped = 0  # audio chunks discarded because the consumer fell behind
        self.put_count = 0
        self._items: deque[AudioItem] = deque()
        self._lock = threading.Lock()
        self._getter: _Waiter | None = None
        self._putters: deque[_Waiter] = deque()

    def __len__(self) -> int:
        return len(self._items)

    def qsize(self) -> int:
        return len(self._items)

    def put_nowait(self, item: AudioItem) -> None:
        """Enqueue from any thread without blocking; drops the oldest audio chunk when full."""
        with self._lock:
            if len(self._items) >= self.maxsize:
                self._drop_oldest_audio_locked()
            self._items.append(item)
            self.put_count += 1
            getter, self._getter = self._getter, None
        if getter is not None:
            getter.wake()

    def _drop_oldest_audio_locked(self) -> None:
        for i, old in enumerate(self._items):
            if isinstance(old, AudioChunk):
                del self._items[i]
                self.dropped += 1
                return
        # Only control items queued: keep them all (they must not be lost).

    async def put(self, item: AudioItem) -> None:
        """Enqueue, waiting for room (for paced sources such as WAV files)."""
        while True:
            with self._lock:
                if len(self._items) < self.maxsize:
                    self._items.append(item)
                    self.put_count += 1
                    getter, self._getter = self._getter, None
                    break
                waiter = _Waiter()
                self._putters.append(waiter)
            try:
                await waiter.wait()
            finally:
                with self._lock:
                    if waiter in self._putters:
                        self._putters.remove(waiter)
        if getter is not None:
            getter.wake()
        await anyio.lowlevel.checkpoint()

    def get_nowait(self) -> AudioItem:
        """Take the next item; raises anyio.WouldBlock when empty."""
        with self._lock:
            if not self._items:
                raise anyio.WouldBlock
            item = self._items.popleft()
            putter = self._putters.popleft() if self._putters else None
        if putter is not None:
            putter.wake()
        return item

    async def get(self) -> AudioItem:
        """Wait for and take the next item (single consumer)."""
        waited = False
        while True:
            with self._lock:
                if self._items:
                    item = self._items.popleft()
                    putter = self._putters.popleft() if self._putters else None
                    break
                waiter = self._getter = _Waiter()
            waited = True
            try:
                await waiter.wait()
            finally:
                with self._lock:
                    if self._getter is waiter:
                        self._getter = None
        if putter is not None:
            putter.wake()
        if not waited:  # we never yielded: let other tasks run (and cancellation in)
            await anyio.lowlevel.checkpoint()
        return item

    def __aiter__(self) -> AudioQueue:
        return self

    async def __anext__(self) -> AudioItem:
        return await self.get()


class JitterBuffer:
    """PCM16 mono FIFO read by an audio callback, with prebuffering and underrun accounting.

    Playback starts once `prebuffer` frames are queued (or the turn is marked ended, or data has
    waited a prebuffer's worth of reads). Running dry pauses playback and re-arms the prebuffer.
    Running dry after `end_turn()`, or with no new audio for `idle_reads` reads, is the normal
    end of a turn; new audio arriving sooner than that after running dry counts as an underrun.
    """

    def __init__(self, *, prebuffer: int, idle_reads: int = 25, max_frames: int | None = None) -> None:
        self.prebuffer = max(0, prebuffer)
        self.idle_reads = idle_reads
        self.max_frames = max_frames
        self._buf = bytearray()
        self._lock = threading.Lock()
        self._playing = False
        self._turn_ended = False
        self._waited = 0  # reads spent waiting for the prebuffer to fill
        self._dry_at: int | None = None  # read count when the buffer ran dry mid-turn
        self.reads = 0  # calls to read()
        self.frames_out = 0  # real (non-silence) frames handed to the device
        self.underruns = 0
        self.turns = 0  # playback bursts that ended normally
        self.flushes = 0
        self.overflow_frames = 0  # discarded because the buffer hit max_frames
        self.flush_waits: deque[float] = deque(maxlen=1000)  # flush(now) -> next read_into(now)
        self._flushed_at: float | None = None

    @property
    def buffered(self) -> int:
        """Frames waiting to be played."""
        return len(self._buf) // 2

    @property
    def active(self) -> bool:
        """True while playing or holding audio."""
        return self._playing or bool(self._buf)

    def write(self, pcm: bytes) -> None:
        """Append PCM16 mono bytes (any thread)."""
        if not pcm:
            return
        with self._lock:
            if self._dry_at is not None:
                if self.reads - self._dry_at <= self.idle_reads:
                    self.underruns += 1
                else:
                    self.turns += 1
                self._dry_at = None
            self._turn_ended = False
            self._buf += pcm
            if self.max_frames is not None and len(self._buf) > 2 * self.max_frames:
                excess = len(self._buf) - 2 * self.max_frames
                del self._buf[:excess]
                self.overflow_frames += excess // 2

    def end_turn(self) -> None:
        """The model finished its turn: play what is left without waiting for the prebuffer."""
        with self._lock:
            self._turn_ended = True

    def flush(self, now: float | None = None) -> int:
        """Discard everything queued (barge-in); returns the frames dropped.

        With `now` (a clock reading), the next read_into(now=...) records the wait in flush_waits.
        """
        with self._lock:
            return self._flush_locked(now)

    def _flush_locked(self, now: float | None) -> int:
        if self._flushed_at is None:  # two flushes before a read: time from the first
            self._flushed_at = now
        dropped = len(self._buf) // 2
        self._buf.clear()
        self._playing = False
        self._turn_ended = False
        self._dry_at = None
        self._waited = 0
        self.flushes += 1
        return dropped

    def fade_out(self, frames: int, now: float | None = None) -> int:
        """Barge-in without a click: keep the next `frames` frames ramped down to zero, drop the rest.

        Counted as a flush (the ramp is not silence, so no flush wait is recorded); returns the
        frames dropped.
        """
        with self._lock:
            keep = min(max(0, frames), len(self._buf) // 2) if self._playing else 0
            tail = np.frombuffer(bytes(self._buf[: 2 * keep]), dtype="<i2")
            dropped = self._flush_locked(None if keep else now) - keep
            if keep:
                ramp = np.linspace(1.0, 0.0, keep, endpoint=False, dtype=np.float32)
                self._buf += (tail * ramp).astype("<i2").tobytes()
                self._playing = True
                self._turn_ended = True  # play the ramp out; then this turn is over
        return dropped

    def read_into(self, out: memoryview, frames: int, now: float | None = None) -> int:
        """Fill `out` (2*frames bytes) with audio then silence; returns the real frames written."""
        nbytes = 2 * frames
        with self._lock:
            self.reads += 1
            if self._flushed_at is not None and now is not None:
                self.flush_waits.append(now - self._flushed_at)  # this read is the first silent one
                self._flushed_at = None
            if self._dry_at is not None and self.reads - self._dry_at > self.idle_reads:
                self.turns += 1  # stayed dry long enough: that was the end of a turn
                self._dry_at = None
            if not self._playing and self._buf:
                self._waited += 1
                if (
                    len(self._buf) >= 2 * self.prebuffer
                    or self._turn_ended
                    or self._waited > max(1, self.prebuffer // max(frames, 1))
                ):
                    self._playing = True
                    self._waited = 0
            if self._playing:
                n = min(nbytes, len(self._buf))
                out[:n] = self._buf[:n]
                del self._buf[:n]
                if not self._buf:
                    self._playing = False
                    if self._turn_ended:
                        self._turn_ended = False
                        self.turns += 1
                    else:
                        self._dry_at = self.reads
            else:
                n = 0
            self.frames_out += n // 2
        if n < nbytes:
            out[n:nbytes] = bytes(nbytes - n)
        return n // 2
