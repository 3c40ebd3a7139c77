"""Microphone capture: a PortAudio input callback that puts 20 ms AudioChunks on an AudioQueue.

Half-duplex muting: while `muted()` is true the mic sends *nothing* (not silence). On entering
the muted state it puts one `AudioStreamEnd` (the API's "the microphone was turned off"), so the
server's VAD closes any utterance that was cut off instead of waiting for more; audio resumes,
which reopens the stream, as soon as `muted()` turns false. Silence would also let the VAD end
the turn, but costs bandwidth and callbacks for nothing while the model talks.

Push-to-talk (`activity_markers`): the mic is muted except while the key says talk, and the
callback thread itself puts `ActivityStart` before the first block of each stretch and
`ActivityEnd` after its last, so the markers can never be out of order with the audio.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import numpy as np

from agent.errors import UserError
from agent.events import MIC_RATE, AudioChunk, AudioStreamEnd, InputClosed
from agent.media.aec import EchoCanceller
from agent.media.buffers import ActivityEnd, ActivityStart, AudioQueue
from agent.media.devices import device_info
from agent.media.resample import Resampler, rms_dbfs, to_mono
from agent.media.stream import DeviceStream
from agent.media.vad import VoiceActivity

log = logging.getLogger(__name__)


@dataclass
class MicStats:
    """Counters updated by the callback thread (plain ints: read them, don't rely on atomicity)."""

    blocks: int = 0  # callbacks seen
    sent: int = 0  # chunks put on the queue
    muted_blocks: int = 0  # blocks not sent because muted() was true
    status_flags: int = 0  # callbacks that reported any PortAudio status flag
    input_overflows: int = 0
    device_rate: int = 0  # rate the device was opened at (resampled to 16 kHz if different)
    channels: int = 0  # channels the device was opened with (down-mixed to mono)
    latency_ms: float = 0.0  # PortAudio's reported input latency


class Mic(DeviceStream):
    """Capture 16 kHz PCM16 mono from an input device into `queue` in `block_ms` chunks."""

    def __init__(
        self,
        queue: AudioQueue,
        *,
        device: str | int | None = None,
        block_ms: int = 20,
        muted: Callable[[], bool] | None = None,
        device_rate: int | None = None,
        end_stream_on_mute: bool = True,
        activity_markers: bool = False,
        latency: str | float = "low",
        echo_canceller: EchoCanceller | None = None,
        voice_activity: VoiceActivity | None = None,
    ) -> None:
        super().__init__()
        self.queue = queue
        self.device = device
        self.block_ms = block_ms
        self.muted = muted
        self.device_rate = device_rate  # force the device open rate (None: 16 kHz, else native)
        self.end_stream_on_mute = end_stream_on_mute and not activity_markers
        self.activity_markers = activity_markers  # push-to-talk: bracket each unmuted stretch
        self.latency = latency
        self.echo_canceller = echo_canceller  # cleans each block before anything else sees it
        self.voice_activity = voice_activity  # hears the cleaned blocks, muted or not
        self._last_block = b""  # the last block captured (for `level`)
        self.stats = MicStats()
        self._resampler: Resampler | None = None
        self._was_muted = False
        self._in_activity = False  # an ActivityStart was put and its ActivityEnd not yet
        self._muted_error_logged = False

    # ---- PortAudio callback thread ---------------------------------------------------------

    def _callback(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        now = time.perf_counter()
        st = self.stats
        st.blocks += 1
        if status:
            st.status_flags += 1
            if status.input_overflow:
                st.input_overflows += 1
        if st.channels == 1 and self._resampler is None:
            data = bytes(indata)  # the common case: one copy, no numpy (this thread runs cold)
        else:
            samples = to_mono(np.frombuffer(indata, dtype="<i2").reshape(-1, st.channels))
            if self._resampler is not None:
                samples = self._resampler.process(samples)
            data = samples.astype("<i2", copy=False).tobytes()
        if self.echo_canceller is not None:
            data = self.echo_canceller.process(data, now - self._input_delay(time_info))
        if self.voice_activity is not None:
            self.voice_activity.feed(data)
        self._last_block = data
        if self._is_muted():
            st.muted_blocks += 1
            if not self._was_muted:
                self._was_muted = True
                if self._in_activity:
                    self._in_activity = False
                    self.queue.put_nowait(ActivityEnd())
                elif self.end_stream_on_mute:
                    self.queue.put_nowait(AudioStreamEnd())
            return
        self._was_muted = False
        if self.activity_markers and not self._in_activity:
            self._in_activity = True
            self.queue.put_nowait(ActivityStart())
        if data:
            self.queue.put_nowait(AudioChunk(data=data, rate=MIC_RATE, captured_at=now))
            st.sent += 1

    def _input_delay(self, time_info: Any) -> float:
        """Seconds from the ADC to this callback: PortAudio's timestamps, else its reported latency."""
        try:
            delay = float(time_info.currentTime - time_info.inputBufferAdcTime)
        except (AttributeError, TypeError):
            delay = -1.0
        return delay if 0.0 <= delay < 1.0 else self.stats.latency_ms / 1000.0

    @property
    def level(self) -> float:
        """RMS level of the last block in dBFS (-120 for silence), for a meter.

        Computed when read, not in the callback: a meter reads it a few times a second while
        blocks arrive 50 times a second.
        """
        return rms_dbfs(np.frombuffer(self._last_block, dtype="<i2"))

    @property
    def speaking(self) -> bool:
        """The person is talking: the voice activity detector's say, else a level above -45 dBFS."""
        vad = self.voice_activity
        if vad is not None and vad.available:
            return vad.speaking
        return self.level > -45.0

    def _is_muted(self) -> bool:
        if self.muted is None:
            return False
        try:
            return bool(self.muted())
        except Exception:  # a broken predicate must not kill the audio thread
            if not self._muted_error_logged:
                self._muted_error_logged = True
                log.exception("mic muted() predicate failed; treating as unmuted")
            return False

    # ---- opening / closing (worker thread) -------------------------------------------------

    def _open_and_start(self, sd: Any, index: int | None) -> None:
        info = device_info(index, "input")
        native = int(info["default_samplerate"])
        if self.device_rate:
            rates = [int(self.device_rate)]
        else:
            rates = [MIC_RATE] + ([native] if native != MIC_RATE else [])
        max_ch = int(info["max_input_channels"])
        channel_options = [1] + ([min(2, max_ch)] if max_ch > 1 else [])
        errors: list[str] = []
        for rate in rates:
            for channels in channel_options:
                try:
                    stream = sd.RawInputStream(
                        samplerate=rate,
                        blocksize=rate * self.block_ms // 1000,
                        device=index,
                        channels=channels,
                        dtype="int16",
                        latency=self.latency,
                        callback=self._callback,
                        finished_callback=self._finished,
                    )
                except (sd.PortAudioError, ValueError) as exc:
                    errors.append(f"{rate} Hz/{channels} ch: {exc}")
                    continue
                self.stats.device_rate, self.stats.channels = rate, channels
                self._resampler = Resampler(rate, MIC_RATE) if rate != MIC_RATE else None
                self.stats.latency_ms = float(stream.latency) * 1000.0
                self._stream = stream
                stream.start()
                if errors:
                    log.info("mic opened at %d Hz/%d ch after: %s", rate, channels, "; ".join(errors))
                return
        raise UserError(
            f"cannot open audio input device {info['name']!r} ({'; '.join(errors)}); "
            "choose another with its index or name (see `gemini-live devices`) "
            "or run with --no-audio-input"
        )

    def _opened(self) -> None:
        log.info(
            "mic: %d Hz, %d ch, %d ms blocks, latency %.1f ms",
            self.stats.device_rate, self.stats.channels, self.block_ms, self.stats.latency_ms,
        )

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Open the device, report started, capture until cancelled; closes the stream on exit."""
        await self._serve(task_status)
        log.warning("audio input stream stopped (device lost?); mic input closed")
        if self._in_activity:
            self._in_activity = False
            self.queue.put_nowait(ActivityEnd())
        elif not self.activity_markers:
            self.queue.put_nowait(AudioStreamEnd())
        self.queue.put_nowait(InputClosed("mic"))


def level_bar(dbfs: float, width: int = 20, floor: float = -60.0) -> str:
    """ASCII meter for a dBFS level: floor..0 dBFS maps to 0..width '#' characters."""
    if width <= 0:
        return ""
    frac = 0.0 if dbfs <= floor else min(1.0, (dbfs - floor) / -floor)
    n = int(round(frac * width))
    return "#" * n + "." * (width - n)
