"""Speaker: a callback-driven PortAudio output stream fed from a jitter buffer, flushable at once.

`write()` and `flush()` are called from the event loop (or any thread); the PortAudio callback
only copies bytes out of the JitterBuffer under a short lock. After `flush()` the very next
callback plays silence, so barge-in silences the speaker within one block plus the device latency.

`barge_in()` is the local version (push-to-talk, or the mic's voice activity over the model):
a 10 ms fade instead of a click, and the model's audio still on its way is dropped until the
server's `interrupted` (a flush) or the end of the turn, for at most `barge_in_hold` seconds.

`tap`, when set, sees every block the callback hands the device (silence included) with the
time it reaches the DAC: the echo canceller's reference.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio

from agent.errors import UserError
from agent.events import SPEAKER_RATE
from agent.media.buffers import JitterBuffer
from agent.media.devices import device_info
from agent.media.resample import Resampler
from agent.media.stream import DeviceStream

log = logging.getLogger(__name__)

FADE_MS = 10  # barge-in fades out over this long instead of cutting (a click)

# tap(pcm, rate, dac_time): one played block, PCM16 mono bytes at the device rate, and the
# perf_counter() time its first sample reaches the DAC. Runs on the PortAudio thread.
Tap = Callable[[bytes, int, float], None]


@dataclass(frozen=True)
class SpeakerStats:
    """A snapshot of the speaker's counters."""

    blocks: int  # callbacks run
    audio_frames: int  # real (non-silence) frames played
    underruns: int  # mid-turn starvation (not counting the normal end of a turn)
    turns: int  # playback bursts that ended normally
    flushes: int
    status_flags: int  # callbacks with any PortAudio status flag
    output_underflows: int  # PortAudio-level underflows (the callback itself was late)
    buffered_ms: float  # audio waiting in the jitter buffer
    device_rate: int
    latency_ms: float  # PortAudio's reported output latency
    dac_latency_ms: float  # last measured time from callback to the DAC (outputBufferDacTime)
    flush_latency_ms: tuple[float, ...]  # recent flush() -> first silent callback times
    barge_ins: int = 0  # local barge-ins (barge_in())
    gated_frames: int = 0  # model audio dropped after a barge-in, before the server confirmed it


class Speaker(DeviceStream):
    """Play 24 kHz PCM16 mono (other rates resampled) with a small prebuffer and instant flush."""

    kind = "output"

    def __init__(
        self,
        *,
        device: str | int | None = None,
        prebuffer_ms: int = 60,
        block_ms: int = 20,
        tail_ms: int = 200,
        device_rate: int | None = None,
        latency: str | float = "low",
        barge_in_hold: float = 3.0,
    ) -> None:
        super().__init__()
        self.device = device
        self.prebuffer_ms = prebuffer_ms
        self.block_ms = block_ms
        self.tail_ms = tail_ms  # how long `playing` stays true after the last sample (echo tail)
        self.device_rate = device_rate  # force the device open rate (None: 24 kHz, else native)
        self.latency = latency
        self._rate = SPEAKER_RATE
        self._jb = self._new_buffer(SPEAKER_RATE)
        self._resamplers: dict[int, Resampler] = {}
        self._write_lock = threading.Lock()
        self._blocks = 0
        self._status_flags = 0
        self._underflows = 0
        self._latency_ms = 0.0
        self._dac_latency = 0.0
        self._audio_until = 0.0  # perf_counter time when the last real sample reaches the DAC
        self.barge_in_hold = barge_in_hold
        self._gate_until = 0.0  # after barge_in(): drop writes until then (or a flush/end_turn)
        self._turn_open = False  # model audio came since the last turnComplete/interrupted
        self._barge_ins = 0
        self._gated_frames = 0
        self.tap: Tap | None = None

    def _new_buffer(self, rate: int) -> JitterBuffer:
        idle = max(5, 500 // max(self.block_ms, 1))  # dry for 0.5 s = the turn ended
        return JitterBuffer(prebuffer=rate * self.prebuffer_ms // 1000, idle_reads=idle)

    # ---- event-loop side ---------------------------------------------------------------------

    def write(self, pcm: bytes, rate: int = SPEAKER_RATE) -> None:
        """Queue PCM16 mono audio for playback (thread-safe, never blocks)."""
        if not pcm:
            return
        with self._write_lock:
            if self._gate_until:
                if time.perf_counter() < self._gate_until:
                    self._gated_frames += len(pcm) // 2
                    return
                self._gate_until = 0.0
            self._turn_open = True
            if rate != self._rate:
                r = self._resamplers.get(rate)
                if r is None:
                    r = self._resamplers[rate] = Resampler(rate, self._rate)
                pcm = r.process_bytes(pcm)
            self._jb.write(pcm)

    def flush(self) -> None:
        """Drop all queued audio (barge-in): the next callback plays silence."""
        with self._write_lock:
            for r in self._resamplers.values():
                r.reset()
            self._gate_until = 0.0
            self._turn_open = False
            self._jb.flush(time.perf_counter())

    def barge_in(self) -> None:
        """The user spoke over the model: fade out now, and drop its audio still arriving until
        the server's `interrupted` (flush) or turnComplete (end_turn), at most `barge_in_hold` s."""
        with self._write_lock:
            for r in self._resamplers.values():
                r.reset()
            now = time.perf_counter()
            if self._turn_open:  # the rest of this turn may still be on its way: hold it off
                self._gate_until = now + self.barge_in_hold
            self._barge_ins += 1
            dropped = self._jb.fade_out(self._rate * FADE_MS // 1000, now)
        log.info("barge-in: faded out, %d ms of the model's audio dropped", dropped * 1000 // self._rate)

    def end_turn(self) -> None:
        """The model's turn is complete: play the rest without waiting to fill the prebuffer."""
        with self._write_lock:
            self._gate_until = 0.0
            self._turn_open = False
        self._jb.end_turn()

    @property
    def playing(self) -> bool:
        """Audio is queued, or was heard within the last `tail_ms` (for half-duplex muting)."""
        if not self._running:
            return False
        return self._jb.active or time.perf_counter() < self._audio_until + self.tail_ms / 1000.0

    @property
    def muted_until(self) -> float:
        """perf_counter() time until which a half-duplex mic should stay muted."""
        now = time.perf_counter()
        tail = self.tail_ms / 1000.0
        if self._jb.active:
            return now + self._jb.buffered / self._rate + self._dac_latency + tail
        return self._audio_until + tail

    @property
    def stats(self) -> SpeakerStats:
        jb = self._jb
        return SpeakerStats(
            blocks=self._blocks,
            audio_frames=jb.frames_out,
            underruns=jb.underruns,
            turns=jb.turns,
            flushes=jb.flushes,
            status_flags=self._status_flags,
            output_underflows=self._underflows,
            buffered_ms=jb.buffered * 1000.0 / self._rate,
            device_rate=self._rate,
            latency_ms=self._latency_ms,
            dac_latency_ms=self._dac_latency * 1000.0,
            flush_latency_ms=tuple(x * 1000.0 for x in jb.flush_waits),
            barge_ins=self._barge_ins,
            gated_frames=self._gated_frames,
        )

    # ---- PortAudio callback thread -----------------------------------------------------------

    def _callback(self, outdata: Any, frames: int, time_info: Any, status: Any) -> None:
        now = time.perf_counter()
        self._blocks += 1
        if status:
            self._status_flags += 1
            if status.output_underflow:
                self._underflows += 1
        dac = time_info.outputBufferDacTime - time_info.currentTime
        if 0.0 <= dac < 5.0:  # some host APIs report 0 or garbage
            self._dac_latency = dac
        played = self._jb.read_into(outdata, frames, now)
        if played:
            self._audio_until = now + self._dac_latency + played / self._rate
        tap = self.tap
        if tap is not None:
            tap(bytes(outdata), self._rate, now + self._dac_latency)

    # ---- opening / closing (worker thread) ---------------------------------------------------

    def _open_and_start(self, sd: Any, index: int | None) -> None:
        info = device_info(index, "output")
        native = int(info["default_samplerate"])
        if self.device_rate:
            rates = [int(self.device_rate)]
        else:
            rates = [SPEAKER_RATE] + ([native] if native != SPEAKER_RATE else [])
        errors: list[str] = []
        for rate in rates:
            try:
                stream = sd.RawOutputStream(
                    samplerate=rate,
                    blocksize=rate * self.block_ms // 1000,
                    device=index,
                    channels=1,
                    dtype="int16",
                    latency=self.latency,
                    callback=self._callback,
                    finished_callback=self._finished,
                )
            except (sd.PortAudioError, ValueError) as exc:
                errors.append(f"{rate} Hz: {exc}")
                continue
            if rate != self._rate:
                with self._write_lock:
                    dropped = self._jb.buffered
                    self._rate, self._jb, self._resamplers = rate, self._new_buffer(rate), {}
                if dropped:
                    log.warning("speaker: dropped %d frames queued before the device opened", dropped)
            self._latency_ms = float(stream.latency) * 1000.0
            self._stream = stream
            stream.start()
            return
        raise UserError(
            f"cannot open audio output device {info['name']!r} ({'; '.join(errors)}); "
            "choose another with its index or name (see `gemini-live devices`) "
            "or run with --no-audio-output"
        )

    def _opened(self) -> None:
        log.info(
            "speaker: %d Hz, %d ms blocks, prebuffer %d ms, latency %.1f ms",
            self._rate, self.block_ms, self.prebuffer_ms, self._latency_ms,
        )

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Open the device, report started, play until cancelled; closes the stream on exit."""
        await self._serve(task_status)
        log.warning("audio output stream stopped (device lost?); model audio is no longer played")
