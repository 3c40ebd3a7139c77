"""Echo cancellation, noise suppression and a high-pass filter on the mic path (WebRTC APM).

The reference is what the speaker actually played: its PortAudio callback hands every block it
gives the device (silence included) to `played()`, stamped with the time it reaches the DAC
(the stream's reported output latency). The mic callback hands each captured block to
`process()`, stamped with the time it left the ADC (the reported input latency). Before each
10 ms capture frame, every played frame that reached the DAC by the time that frame was
captured goes in as the reverse stream, so the reference always leads its echo by just the
acoustic path, whatever the two streams' buffering; the residual delay goes in as the stream
delay hint, and AEC3's own delay estimator finds the room's.

Everything runs on the two PortAudio threads; `played()` only appends under a short lock, the
processing (about 0.1 ms per 10 ms frame) happens on the mic's thread.

The binding is LiveKit's (`livekit.rtc.AudioProcessingModule`: prebuilt wheels for Linux,
macOS and Windows); it is imported when an EchoCanceller is made, so the rest of the agent
works without it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent.errors import UserError
from agent.events import MIC_RATE

log = logging.getLogger(__name__)

FRAME_S = 0.01  # the APM takes 10 ms frames
MAX_REFERENCE_S = 1.0  # played audio kept waiting for the mic (more means the mic stalled)
WARMUP_S = 0.5  # after playback starts from silence: the canceller may not have converged yet
NEW_TURN_S = 1.0  # silence this long, then sound: playback starts anew (shorter ones are pauses)


@dataclass
class EchoStats:
    """Counters updated by the PortAudio threads (plain numbers: read them, don't rely on atomicity)."""

    frames: int = 0  # capture frames processed
    reference_frames: int = 0  # played frames fed as the reverse stream
    reference_dropped: int = 0  # played frames dropped (the mic fell behind)
    errors: int = 0  # frames the module refused (passed through unprocessed)
    delay_ms: int = 0  # the last stream delay hint
    process_s: deque[float] = field(default_factory=lambda: deque(maxlen=3000))  # per block, seconds


def load_binding() -> Any:
    """livekit.rtc, or a UserError that says how to get it or go without."""
    try:
        from livekit import rtc
    except ImportError as exc:
        raise UserError(
            f"echo cancellation needs the livekit package ({exc}); pip install livekit, "
            "or run with --no-echo-cancellation (and headphones, or --half-duplex)"
        ) from None
    return rtc


class EchoCanceller:
    """WebRTC audio processing for 16 kHz mono PCM16 capture, referenced to what the speaker played."""

    def __init__(self, *, noise_suppression: bool = True, high_pass_filter: bool = True, rate: int = MIC_RATE) -> None:
        self._rtc = load_binding()
        self._apm = self._rtc.AudioProcessingModule(
            echo_cancellation=True, noise_suppression=noise_suppression, high_pass_filter=high_pass_filter,
        )
        self.rate = rate
        self._frame = int(rate * FRAME_S)
        self._lock = threading.Lock()
        # Played audio not yet fed: (pcm of one 10 ms frame, its rate, when it reaches the DAC).
        self._reference: deque[tuple[bytes, int, float]] = deque()
        self._partial = bytearray()  # the start of a played 10 ms frame the next block completes
        self._partial_rate = 0
        self._partial_at = 0.0
        self._capture = bytearray()  # captured samples short of a whole frame (odd block sizes)
        self._capture_at = 0.0
        self._audible_since: float | None = None  # when the speaker last began a stretch of sound
        self._silent_since: float | None = None  # when it last fell silent (a pause, or the end of a turn)
        self._hint: int | None = None  # the stream delay last told to the module
        self.stats = EchoStats()
        self._error_logged = False
        self.monitor: Callable[[bytes, bytes], None] | None = None  # (captured, cleaned): for measuring

    # ---- the speaker's thread ----------------------------------------------------------------

    def played(self, pcm: bytes, rate: int, dac_time: float) -> None:
        """One block the speaker handed the device (PCM16 mono at `rate`), reaching the DAC at `dac_time`."""
        step = 2 * int(rate * FRAME_S)
        with self._lock:
            if self._partial and self._partial_rate != rate:
                self._partial.clear()
            if not self._partial:
                self._partial_rate, self._partial_at = rate, dac_time
            self._partial += pcm
            frames, at = len(self._partial) // step, self._partial_at
            for i in range(frames):
                self._reference.append((bytes(self._partial[i * step : (i + 1) * step]), rate, at + i * FRAME_S))
            del self._partial[: frames * step]
            self._partial_at = at + frames * FRAME_S
            excess = len(self._reference) - int(MAX_REFERENCE_S / FRAME_S)
            for _ in range(max(0, excess)):
                self._reference.popleft()
                self.stats.reference_dropped += 1
        if any(pcm):
            if self._audible_since is None or (self._silent_since is not None and dac_time - self._silent_since >= NEW_TURN_S):
                self._audible_since = dac_time
            self._silent_since = None
        elif self._silent_since is None:
            self._silent_since = dac_time

    def warming_up(self, now: float | None = None) -> bool:
        """Playback began (after a second or more of silence) less than WARMUP_S ago: echo may still
        get through, so speech heard now is not taken for the person's."""
        since = self._audible_since
        return since is not None and (time.perf_counter() if now is None else now) - since < WARMUP_S

    # ---- the mic's thread --------------------------------------------------------------------

    def process(self, pcm: bytes, adc_time: float) -> bytes:
        """Clean one captured block (16 kHz PCM16 mono) whose first sample left the ADC at `adc_time`.

        Whole 10 ms frames come back at once; a block that is not a multiple of 10 ms leaves
        its tail for the next call (so odd block sizes add up to 10 ms of delay).
        """
        start = time.perf_counter()
        if not self._capture:
            self._capture_at = adc_time
        self._capture += pcm
        step = 2 * self._frame
        frames = len(self._capture) // step
        out = bytearray()
        for i in range(frames):
            captured = self._capture_at + i * FRAME_S
            out += self._process_frame(bytes(self._capture[i * step : (i + 1) * step]), captured)
        del self._capture[: frames * step]
        self._capture_at += frames * FRAME_S
        self.stats.process_s.append(time.perf_counter() - start)
        cleaned = bytes(out)
        if self.monitor is not None:
            self.monitor(pcm, cleaned)
        return cleaned

    def _process_frame(self, frame: bytes, captured: float) -> bytes:
        rtc = self._rtc
        last_render: float | None = None
        while True:
            with self._lock:
                if not self._reference or self._reference[0][2] > captured:
                    break
                pcm, rate, render = self._reference.popleft()
            last_render = render
            try:
                self._apm.process_reverse_stream(rtc.AudioFrame(bytearray(pcm), rate, 1, len(pcm) // 2))
                self.stats.reference_frames += 1
            except RuntimeError as exc:
                self._failed(exc)
        # The reference is aligned here already; what is left is how far the last played frame
        # leads this captured one (under 10 ms), plus the room, which AEC3 estimates itself.
        delay = 0 if last_render is None else max(0, int(round((captured - last_render) * 1000)))
        try:
            if last_render is not None and (self._hint is None or abs(delay - self._hint) >= 10):  # a call costs 10-50 us
                self._apm.set_stream_delay_ms(delay)
                self._hint = delay
            self.stats.delay_ms = delay
            buf = rtc.AudioFrame(bytearray(frame), self.rate, 1, len(frame) // 2)
            self._apm.process_stream(buf)
            self.stats.frames += 1
            return bytes(buf.data)
        except RuntimeError as exc:
            self._failed(exc)
            return frame

    def _failed(self, exc: BaseException) -> None:
        self.stats.errors += 1
        if not self._error_logged:
            self._error_logged = True
            log.warning("echo cancellation: the audio processing module refused a frame (%s); passing audio through", exc)
