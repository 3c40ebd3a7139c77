"""Screen capture: JPEG frames of a monitor (or a region of it) at a steady rate, for Live video.

A ticker on the event loop's monotonic clock asks a dedicated worker thread (which owns the
mss instance) to grab, compare, scale and encode. A screen identical to the last frame sent
is skipped before any encoding, except for a keepalive frame every few seconds. Frames are
offered with `send_nowait`: when the consumer is busy they are dropped, never queued.
"""

from __future__ import annotations

import logging
import math
import queue
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

import anyio
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectSendStream

from agent.events import VideoFrame
from agent.media.screen_grab import Grabber, Region, Shot, close_quietly, open_display, parse_region

__all__ = ["ScreenCapture", "ScreenStats", "parse_region"]

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(slots=True)
class ScreenStats:
    """Counters for the status line and the JSONL log. Times cover grab + scale + JPEG."""

    frames_sent: int = 0
    frames_skipped: int = 0  # unchanged since the last frame sent
    frames_dropped: int = 0  # the consumer was still busy with an earlier frame
    bytes_sent: int = 0
    last_encode_ms: float = 0.0
    avg_encode_ms: float = 0.0
    last_grab_ms: float = 0.0  # grab + compare, the whole cost of a skipped frame
    ticks_missed: int = 0  # ticks passed over because a capture overran the period
    errors: int = 0  # failed grabs (display gone, screen resized); retried on the next tick
    frames_encoded: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Worker:
    """One thread, for the life of `run`, that runs blocking calls in order."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def serve(self, on_exit: Callable[[], None]) -> None:
        """The thread's body (via anyio.to_thread.run_sync); returns after `stop`."""
        try:
            while (job := self._jobs.get()) is not None:
                fn, args, done, box = job
                try:
                    box.append((True, fn(*args)))
                except BaseException as e:  # noqa: BLE001 - handed back to the awaiting task, which raises it
                    box.append((False, e))
                anyio.from_thread.run_sync(done.set)
        finally:
            on_exit()

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        done = anyio.Event()
        box: list[tuple[bool, Any]] = []  # (True, result) or (False, exception)
        self._jobs.put((fn, args, done, box))
        await done.wait()
        ok, value = box[0]
        if ok:
            return value
        raise value

    def stop(self) -> None:
        self._jobs.put(None)


class ScreenCapture:
    """Grabs the screen at `fps` and offers each frame to `out` without ever waiting on it.

    `region` is X,Y,W,H relative to the monitor's top-left corner (a tuple, or text for
    `parse_region`). `monitor` numbers as mss does: 1 = primary, 0 = all monitors together.
    `run` closes `out` when it returns, and returns early if the receiving side closes.
    """

    def __init__(
        self,
        out: MemoryObjectSendStream[VideoFrame],
        *,
        fps: float,
        monitor: int = 1,
        region: Region | str | None = None,
        max_size: int = 1024,
        quality: int = 70,
        skip_unchanged: bool = True,
        keepalive_s: float | None = 5.0,
    ) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps!r}")
        if not 1 <= quality <= 95:
            raise ValueError(f"quality must be 1..95, got {quality!r}")
        if max_size < 1:
            raise ValueError(f"max_size must be positive, got {max_size!r}")
        self.out = out
        self.fps, self.monitor, self.max_size, self.quality = fps, monitor, max_size, quality
        self.region = parse_region(region) if isinstance(region, str) else region
        self.skip_unchanged = skip_unchanged
        self.keepalive_s = keepalive_s if keepalive_s and keepalive_s > 0 else None
        self.stats = ScreenStats()
        self._last_raw: bytearray | None = None  # what the model last got, when skipping
        self._last_sent_at = -math.inf
        self._failing = False

    def check(self) -> None:
        """Fail fast, before anything connects: raises UserError if capture cannot work."""
        sct, _area = open_display(self.monitor, self.region)
        close_quietly(sct)

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Capture until cancelled or the receiver closes; started() once the display is open."""
        grabber = Grabber(self.monitor, self.region, self.max_size, self.quality)
        worker = _Worker()
        failure: Exception | None = None
        async with self.out, anyio.create_task_group() as tg:
            tg.start_soon(anyio.to_thread.run_sync, worker.serve, grabber.close)
            try:
                area = await worker.call(grabber.open)
                log.info("screen capture: %d×%d at %g fps", area["width"], area["height"], self.fps)
                task_status.started()
                await self._tick_loop(worker, grabber)
            except Exception as e:  # noqa: BLE001 - raised below as itself, not inside an ExceptionGroup
                failure = e
            finally:
                worker.stop()
        if failure is not None:
            raise failure

    async def _tick_loop(self, worker: _Worker, grabber: Grabber) -> None:
        period = 1.0 / self.fps
        start = anyio.current_time()
        k = 0
        while True:
            tick = start + k * period
            await anyio.sleep_until(tick)
            if not await self._tick(worker, grabber, tick):
                return
            # Stay on the grid start + k·period; skip the ticks a slow capture overran.
            k += 1
            late = math.floor((anyio.current_time() - start) / period) + 1 - k
            if late > 0:
                self.stats.ticks_missed += late
                k += late

    async def _tick(self, worker: _Worker, grabber: Grabber, tick: float) -> bool:
        """One frame; False once nobody is listening any more."""
        stats = self.stats
        if self._consumer_busy():
            stats.frames_dropped += 1  # not even grabbed: it could not be delivered
            return True
        keepalive_due = self.keepalive_s is not None and tick - self._last_sent_at >= self.keepalive_s - 1e-6
        force = not self.skip_unchanged or keepalive_due
        try:
            shot: Shot = await worker.call(grabber.capture, self._last_raw, force)
        except Exception as e:  # noqa: BLE001 - display gone, screen resized, ...: keep the session alive
            stats.errors += 1
            why = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
            log.log(logging.DEBUG if self._failing else logging.WARNING, "screen capture failed: %s", why)
            self._failing = True
            return True
        if self._failing:
            log.info("screen capture works again")
            self._failing = False
        stats.last_grab_ms = shot.grab_ms
        if shot.jpeg is None:
            stats.frames_skipped += 1
            return True
        stats.frames_encoded += 1
        stats.last_encode_ms = shot.total_ms
        stats.avg_encode_ms += (shot.total_ms - stats.avg_encode_ms) / stats.frames_encoded
        frame = VideoFrame(shot.jpeg, "image/jpeg", *shot.size)
        try:
            self.out.send_nowait(frame)
        except anyio.WouldBlock:
            stats.frames_dropped += 1
            return True
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            log.debug("screen capture: the frame consumer has gone; stopping")
            return False
        stats.frames_sent += 1
        stats.bytes_sent += len(shot.jpeg)
        # Compare with what the model last saw, so a change that was dropped is sent later.
        self._last_sent_at = tick
        if self.skip_unchanged:
            self._last_raw = shot.raw
        return True

    def _consumer_busy(self) -> bool:
        s = self.out.statistics()
        return s.current_buffer_used >= s.max_buffer_size and s.tasks_waiting_receive == 0
