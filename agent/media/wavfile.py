"""WAV file input (any PCM/float WAV -> 16 kHz mono PCM16, streamed in real time) and output.

The stdlib `wave` module reads neither IEEE-float nor WAVE_FORMAT_EXTENSIBLE files, so the RIFF
chunks are parsed here. Output (`WavRecorder`) is plain 16-bit PCM, which `wave` writes fine.
"""

from __future__ import annotations

import logging
import struct
import threading
import time
import wave
from os import PathLike
from pathlib import Path

import anyio
import numpy as np

from agent.errors import UserError
from agent.events import MIC_RATE, SPEAKER_RATE, AudioChunk, AudioStreamEnd, InputClosed
from agent.media.buffers import ActivityEnd, ActivityStart, AudioQueue
from agent.media.resample import Resampler, resample

log = logging.getLogger(__name__)

PCM, IEEE_FLOAT, EXTENSIBLE = 0x0001, 0x0003, 0xFFFE
_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"  # KSDATAFORMAT_SUBTYPE_*
_FORMAT_NAMES = {0x0002: "MS ADPCM", 0x0006: "A-law", 0x0007: "mu-law", 0x0011: "IMA ADPCM",
                 0x0050: "MPEG", 0x0055: "MP3", 0x0031: "GSM 6.10"}


def _fail(path: str | PathLike[str], why: str) -> UserError:
    return UserError(
        f"{path}: {why}. Input audio must be a WAV file with 8/16/24/32-bit integer PCM or "
        "32/64-bit float samples (convert with e.g. `sox in.ext -b 16 out.wav`)"
    )


MIN_WAV_RATE, MAX_WAV_RATE = 4_000, 384_000  # what any recorder produces; outside is a corrupt header


def read_wav(path: str | PathLike[str]) -> tuple[np.ndarray, int]:
    """Read a WAV file as float32 samples in [-1, 1] shaped (frames, channels), plus its rate."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise UserError(f"{path}: no such file (input audio must be an existing WAV file)") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory, not a WAV file") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(raw) < 12 or raw[8:12] != b"WAVE" or raw[:4] not in (b"RIFF", b"RF64"):
        raise _fail(path, "not a WAV file (no RIFF/WAVE header)")
    fmt: bytes | None = None
    data: memoryview | None = None
    big_data_size: int | None = None
    pos, view = 12, memoryview(raw)
    while pos + 8 <= len(raw):
        cid, size = raw[pos:pos + 4], struct.unpack_from("<I", raw, pos + 4)[0]
        body = pos + 8
        if cid == b"ds64" and size >= 16:  # RF64: real sizes live here
            big_data_size = struct.unpack_from("<Q", raw, body + 8)[0]
        elif cid == b"fmt ":
            fmt = raw[body:body + size]
        elif cid == b"data":
            if size == 0xFFFFFFFF and big_data_size is not None:
                size = big_data_size
            # Streaming writers leave 0 or 0xFFFFFFFF here; a truncated file is read to its end.
            if size == 0 or body + size > len(raw):
                size = len(raw) - body
            data = view[body:body + size]
            if fmt is not None:
                break
        pos = body + size + (size & 1)
    if fmt is None or len(fmt) < 16:
        raise _fail(path, "WAV file has no valid 'fmt ' chunk")
    if data is None:
        raise _fail(path, "WAV file has no 'data' chunk")
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == EXTENSIBLE:
        if len(fmt) < 40 or fmt[26:40] != _GUID_TAIL:
            raise _fail(path, "unsupported WAVE_FORMAT_EXTENSIBLE sub-format")
        tag = struct.unpack_from("<H", fmt, 24)[0]
    if channels < 1 or rate < 1 or block_align < channels:
        raise _fail(path, f"corrupt WAV header ({channels} channels, {rate} Hz, block {block_align})")
    if not MIN_WAV_RATE <= rate <= MAX_WAV_RATE:
        # A rate of 1 Hz divides by zero in the resampler; 8 Hz would upsample to gigabytes.
        raise _fail(path, f"unsupported sample rate {rate} Hz (expected {MIN_WAV_RATE}-{MAX_WAV_RATE} Hz)")
    width = block_align // channels  # container bytes per sample
    usable = len(data) - len(data) % block_align
    buf = data[:usable]
    if tag == PCM and width in (1, 2, 3, 4):
        samples = _decode_int(buf, width)
    elif tag == IEEE_FLOAT and width in (4, 8):
        samples = np.frombuffer(buf, dtype="<f4" if width == 4 else "<f8").astype(np.float32)
        samples = np.nan_to_num(np.clip(samples, -1.0, 1.0))
    else:
        name = _FORMAT_NAMES.get(tag, f"format tag 0x{tag:04x}")
        kind = "float" if tag == IEEE_FLOAT else "PCM" if tag == PCM else name
        raise _fail(path, f"unsupported WAV encoding: {kind}, {bits} bits in {width * 8}-bit containers")
    return samples.reshape(-1, channels), int(rate)


def _decode_int(buf: memoryview, width: int) -> np.ndarray:
    if width == 1:  # 8-bit WAV is unsigned
        return (np.frombuffer(buf, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    if width == 2:
        return np.frombuffer(buf, dtype="<i2").astype(np.float32) / 32768.0
    if width == 3:
        b = np.frombuffer(buf, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = np.where(v & 0x800000, v - 0x1000000, v)
        return v.astype(np.float32) / 8388608.0
    return (np.frombuffer(buf, dtype="<i4").astype(np.float64) / 2147483648.0).astype(np.float32)


def read_wav_mono(path: str | PathLike[str], rate: int = MIC_RATE) -> bytes:
    """Read any supported WAV and convert it to PCM16 little-endian mono at `rate`."""
    samples, src_rate = read_wav(path)
    mono = samples.mean(axis=1) if samples.shape[1] > 1 else samples[:, 0]
    scaled = mono.astype(np.float32) * 32768.0
    out = resample(scaled, src_rate, rate)
    return out.astype("<i2", copy=False).tobytes()


def read_wav_16k_mono(path: str | PathLike[str]) -> bytes:
    """Read any supported WAV as 16 kHz PCM16 mono (the Live API input format)."""
    return read_wav_mono(path, MIC_RATE)


async def stream_pcm(
    pcm: bytes, queue: AudioQueue, *, block_ms: int = 20, realtime: bool = True, rate: int = MIC_RATE
) -> None:
    """Put PCM16 mono audio on `queue` in `block_ms` chunks, paced against a monotonic clock."""
    step = rate * block_ms // 1000 * 2
    block_s = block_ms / 1000.0
    start = anyio.current_time()
    n = 0
    for n, off in enumerate(range(0, len(pcm), step), start=1):
        if realtime:
            await anyio.sleep_until(start + (n - 1) * block_s)  # deadlines, not cumulative sleeps
        await queue.put(AudioChunk(data=pcm[off:off + step], rate=rate, captured_at=time.perf_counter()))
    if realtime:
        await anyio.sleep_until(start + n * block_s)  # the last chunk has "played" too


async def stream_wav(
    path: str | PathLike[str], queue: AudioQueue, *, block_ms: int = 20, realtime: bool = True
) -> None:
    """Stream a WAV file as 16 kHz mono chunks, then AudioStreamEnd and InputClosed("input-audio")."""
    pcm = await anyio.to_thread.run_sync(read_wav_16k_mono, path)
    log.info("streaming %s: %.2f s of audio", path, len(pcm) / 2 / MIC_RATE)
    await stream_clip(pcm, queue, block_ms=block_ms, realtime=realtime)


async def stream_clip(pcm: bytes, queue: AudioQueue, *, block_ms: int = 20, realtime: bool = True, activity: bool = False) -> None:
    """Stream 16 kHz mono audio that was read already, then AudioStreamEnd and InputClosed("input-audio").

    `activity` (push-to-talk, automatic activity detection off): the clip is one utterance,
    between ActivityStart and ActivityEnd, instead of ending with AudioStreamEnd.
    """
    if activity:
        await queue.put(ActivityStart())
    await stream_pcm(pcm, queue, block_ms=block_ms, realtime=realtime)
    await queue.put(ActivityEnd() if activity else AudioStreamEnd())
    await queue.put(InputClosed("input-audio"))


class WavRecorder:
    """Record model audio to a 24 kHz mono 16-bit WAV; same write/flush interface as Speaker."""

    def __init__(self, path: str | PathLike[str], rate: int = SPEAKER_RATE) -> None:
        self.path = Path(path)
        self.rate = rate
        self.frames_written = 0
        self._lock = threading.Lock()
        self._resamplers: dict[int, Resampler] = {}
        try:
            # Open the file first: wave.open(path) leaves a half-built object behind on failure.
            self._file = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        except OSError as exc:
            raise UserError(f"{path}: cannot write the output WAV: {exc.strerror or exc}") from None
        self._wav: wave.Wave_write | None = wave.open(self._file, "wb")  # noqa: SIM115 - closed in close()
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(rate)

    def write(self, pcm: bytes, rate: int = SPEAKER_RATE) -> None:
        """Append PCM16 mono audio (resampled to the file's rate if needed)."""
        if not pcm:
            return
        with self._lock:
            if rate != self.rate:
                r = self._resamplers.get(rate)
                if r is None:
                    r = self._resamplers[rate] = Resampler(rate, self.rate)
                pcm = r.process_bytes(pcm)
            self._write_locked(pcm)

    def _write_locked(self, pcm: bytes) -> None:
        if self._wav is None:
            return
        self._wav.writeframes(pcm)  # also patches the header: the file is valid after each write
        self.frames_written += len(pcm) // 2

    def _drain_resamplers_locked(self) -> None:
        for r in self._resamplers.values():
            self._write_locked(r.tail().astype("<i2", copy=False).tobytes())
            r.reset()

    def flush(self) -> None:
        """Barge-in marker: keeps everything recorded (it is a record), only ends resampler state."""
        with self._lock:
            self._drain_resamplers_locked()

    def end_turn(self) -> None:
        """Nothing to do for a file (interface parity with Speaker)."""

    def close(self) -> None:
        """Finish the file (idempotent)."""
        with self._lock:
            if self._wav is None:
                return
            self._drain_resamplers_locked()
            wav, self._wav = self._wav, None
            try:
                wav.close()
            finally:
                self._file.close()

    def __enter__(self) -> WavRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
