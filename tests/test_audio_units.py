"""Unit tests for the audio components that need no device: resampling, WAV I/O, buffers."""

from __future__ import annotations

import struct
import threading
import time
import wave
from pathlib import Path

import anyio
import numpy as np
import pytest

from agent.errors import UserError
from agent.events import AudioChunk, AudioStreamEnd, InputClosed
from agent.media.buffers import AudioQueue, JitterBuffer
from agent.media.mic import level_bar
from agent.media.resample import Resampler, resample, rms_dbfs, to_mono
from agent.media.wavfile import WavRecorder, read_wav, read_wav_16k_mono, stream_wav

RATE_PAIRS = [(16000, 24000), (24000, 16000), (48000, 16000), (44100, 16000),
              (22050, 16000), (8000, 16000), (32000, 16000), (16000, 48000)]


def sine(freq: float, rate: int, seconds: float, amp: float = 10000.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def peak_frequency(x: np.ndarray, rate: int) -> float:
    w = np.hanning(len(x))
    spec = np.abs(np.fft.rfft(x.astype(np.float64) * w, n=8 * len(x)))
    return float(np.argmax(spec)) * rate / (8 * len(x))


# ---- resampling --------------------------------------------------------------------------------


@pytest.mark.parametrize(("src", "dst"), RATE_PAIRS)
def test_resample_keeps_frequency_and_amplitude(src: int, dst: int) -> None:
    x = sine(440.0, src, 1.0)
    y = resample(x, src, dst)
    assert len(y) == dst
    assert peak_frequency(y, dst) == pytest.approx(440.0, abs=1.0)
    ref = 10000 * np.sin(2 * np.pi * 440 * np.arange(len(y)) / dst)
    # Aligned one-shot resampling: no delay, error of a few LSBs away from the edges.
    assert np.abs(y[200:-200] - ref[200:-200]).max() < 10


@pytest.mark.parametrize(("src", "dst"), RATE_PAIRS)
@pytest.mark.parametrize("n", [0, 1, 7, 320, 441, 16001])
def test_resample_length_ratio(src: int, dst: int, n: int) -> None:
    assert len(resample(np.zeros(n, np.int16), src, dst)) == round(n * dst / src)


@pytest.mark.parametrize(("src", "dst"), RATE_PAIRS)
def test_streaming_chunks_match_one_shot_and_do_not_click(src: int, dst: int) -> None:
    x = sine(1000.0, src, 0.5, amp=20000)
    rng = np.random.default_rng(1)
    r = Resampler(src, dst)
    parts, i = [], 0
    while i < len(x):
        n = int(rng.integers(1, 900))
        parts.append(r.process(x[i:i + n]))
        i += n
    chunked = np.concatenate(parts)
    whole = Resampler(src, dst).process(x)
    assert np.array_equal(chunked, whole)  # state carried across boundaries exactly
    assert abs(len(chunked) - len(x) * dst / src) <= 1
    # No clicks: the steepest step is what a 1 kHz sine allows (after the filter's warm-up).
    steady = chunked[50:].astype(np.float64)
    max_step = 2 * np.pi * 1000 * 20000 / dst
    assert np.abs(np.diff(steady)).max() <= max_step * 1.05


def test_resampler_passthrough_and_reset() -> None:
    x = sine(440, 16000, 0.1)
    r = Resampler(16000, 16000)
    assert r.passthrough and np.array_equal(r.process(x), x)
    assert r.process_bytes(x.tobytes()) == x.tobytes()
    r2 = Resampler(16000, 24000)
    a = r2.process(x)
    r2.reset()
    assert np.array_equal(r2.process(x), a)


def test_downmix_and_levels() -> None:
    stereo = np.stack([np.full(10, 1000, np.int16), np.full(10, 3000, np.int16)], axis=1)
    assert np.array_equal(to_mono(stereo), np.full(10, 2000, np.int16))
    assert to_mono(stereo[:, :1]).shape == (10,)
    full_scale = sine(1000, 16000, 0.1, amp=32767)
    assert rms_dbfs(full_scale) == pytest.approx(-3.01, abs=0.05)
    assert rms_dbfs(np.zeros(320, np.int16)) == -120.0
    assert level_bar(-120.0) == "." * 20
    assert level_bar(0.0) == "#" * 20
    assert level_bar(-30.0, width=10) == "#####....."


# ---- WAV input ---------------------------------------------------------------------------------

GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"


def encode(samples: np.ndarray, kind: str, bits: int) -> bytes:
    """Encode float samples in [-1, 1] (frames, channels) as WAV sample bytes."""
    s = np.clip(samples, -1.0, 1.0 - 1e-9)
    if kind == "float":
        return s.astype("<f4" if bits == 32 else "<f8").tobytes()
    if bits == 8:
        return np.round(s * 128 + 128).clip(0, 255).astype(np.uint8).tobytes()
    if bits == 16:
        return np.round(s * 32768).astype("<i2").tobytes()
    if bits == 24:
        v = np.round(s * 8388608).astype("<i4").reshape(-1)
        return np.stack([(v >> 8 * k) & 0xFF for k in range(3)], axis=1).astype(np.uint8).tobytes()
    return np.round(s.astype(np.float64) * 2147483648).clip(-2**31, 2**31 - 1).astype("<i4").tobytes()


def make_wav(path: Path, samples: np.ndarray, rate: int, kind: str = "pcm", bits: int = 16,
             extensible: bool = False, extra_chunk: bool = False) -> Path:
    samples = samples.reshape(len(samples), -1)
    channels = samples.shape[1]
    data = encode(samples, kind, bits)
    block = channels * bits // 8
    tag = 3 if kind == "float" else 1
    if extensible:
        fmt = struct.pack("<HHIIHHHHI", 0xFFFE, channels, rate, rate * block, block, bits, 22, bits,
                          (1 << channels) - 1) + struct.pack("<H", tag) + GUID_TAIL
    else:
        fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    chunks = b""
    if extra_chunk:  # an odd-sized LIST chunk before fmt, with its pad byte
        chunks += b"LIST" + struct.pack("<I", 5) + b"INFOx" + b"\x00"
    chunks += b"fmt " + struct.pack("<I", len(fmt)) + fmt
    if kind == "float" and not extensible:
        chunks += b"fact" + struct.pack("<II", 4, len(samples))
    chunks += b"data" + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) % 2 else b"")
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks)
    return path


FORMATS = [("pcm", 8), ("pcm", 16), ("pcm", 24), ("pcm", 32), ("float", 32), ("float", 64)]


@pytest.mark.parametrize(("kind", "bits"), FORMATS)
@pytest.mark.parametrize("extensible", [False, True])
@pytest.mark.parametrize(("rate", "channels"), [(16000, 1), (44100, 2), (8000, 1), (48000, 2)])
def test_read_wav_converts_every_format(tmp_path: Path, kind: str, bits: int, extensible: bool,
                                        rate: int, channels: int) -> None:
    t = np.arange(int(rate * 0.5)) / rate
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    # Stereo: left carries the tone plus x, right the tone minus x, so the down-mix is the tone.
    x = 0.2 * np.sin(2 * np.pi * 1000 * t)
    sig = np.stack([tone + x, tone - x], axis=1) if channels == 2 else tone
    path = make_wav(tmp_path / "in.wav", sig, rate, kind, bits, extensible, extra_chunk=extensible)
    pcm = read_wav_16k_mono(path)
    out = np.frombuffer(pcm, "<i2")
    assert len(out) == 8000
    ref = 0.5 * 32768 * np.sin(2 * np.pi * 440 * np.arange(8000) / 16000)
    tolerance = 300 if bits == 8 else 15  # 8-bit is coarse
    assert np.abs(out[100:-100] - ref[100:-100]).max() < tolerance


def test_read_wav_16k_mono_16bit_is_bit_exact(tmp_path: Path) -> None:
    x = sine(300, 16000, 0.3)
    path = tmp_path / "a.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes(x.tobytes())
    assert read_wav_16k_mono(path) == x.tobytes()


def test_read_wav_truncated_and_streaming_headers(tmp_path: Path) -> None:
    x = sine(300, 16000, 0.1)
    good = make_wav(tmp_path / "g.wav", x.astype(np.float64) / 32768, 16000).read_bytes()
    # A streaming writer's header (data size 0xFFFFFFFF) and a file cut mid-sample.
    streamed = good.replace(struct.pack("<I", len(x) * 2), b"\xff\xff\xff\xff")
    (tmp_path / "s.wav").write_bytes(streamed[:-1])
    samples, rate = read_wav(tmp_path / "s.wav")
    assert rate == 16000 and samples.shape == (len(x) - 1, 1)


def test_read_wav_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.wav"
    with pytest.raises(UserError, match="missing.wav: no such file"):
        read_wav_16k_mono(missing)
    text = tmp_path / "notes.wav"
    text.write_text("hello, this is not audio")
    with pytest.raises(UserError, match="notes.wav: not a WAV file"):
        read_wav_16k_mono(text)
    alaw = make_wav(tmp_path / "alaw.wav", np.zeros(100), 8000)
    raw = bytearray(alaw.read_bytes())
    raw[20:22] = struct.pack("<H", 6)  # format tag: A-law
    alaw.write_bytes(bytes(raw))
    with pytest.raises(UserError, match=r"alaw.wav: unsupported WAV encoding: A-law"):
        read_wav_16k_mono(alaw)
    with pytest.raises(UserError, match="is a directory"):
        read_wav_16k_mono(tmp_path)
    nodata = tmp_path / "nodata.wav"
    nodata.write_bytes(alaw.read_bytes()[:36])
    with pytest.raises(UserError, match="nodata.wav: WAV file has no 'data' chunk"):
        read_wav_16k_mono(nodata)
    assert UserError.exit_code == 2


@pytest.mark.parametrize("rate", [1, 8, 2_000_000])
def test_read_wav_refuses_absurd_sample_rates(tmp_path: Path, rate: int) -> None:
    """A corrupt header's 1 Hz divided by zero, 8 Hz asked for gigabytes: a clear error instead."""
    path = make_wav(tmp_path / "odd.wav", np.zeros(8_000), 16_000)
    raw = bytearray(path.read_bytes())
    raw[24:28] = struct.pack("<I", rate)
    path.write_bytes(bytes(raw))
    with pytest.raises(UserError, match=f"odd.wav: unsupported sample rate {rate} Hz"):
        read_wav_16k_mono(path)


@pytest.mark.anyio
async def test_stream_wav_chunks_then_end_then_closed(tmp_path: Path) -> None:
    x = sine(300, 16000, 0.25)  # 12.5 blocks of 20 ms
    path = make_wav(tmp_path / "a.wav", x.astype(np.float64) / 32768, 16000)
    q = AudioQueue(maxsize=4)  # smaller than the file: put() must wait for room
    items: list[object] = []

    async def consume() -> None:
        async for item in q:
            items.append(item)
            if isinstance(item, InputClosed):
                return

    start = time.monotonic()
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await stream_wav(path, q, realtime=True)
    assert time.monotonic() - start >= 0.24  # paced (a lower bound only: sleeps never end early)
    chunks = [i for i in items if isinstance(i, AudioChunk)]
    assert [len(c.data) for c in chunks] == [640] * 12 + [320]
    assert b"".join(c.data for c in chunks) == x.tobytes()
    assert all(c.rate == 16000 and c.captured_at > 0 for c in chunks)
    assert isinstance(items[-2], AudioStreamEnd) and items[-1] == InputClosed("input-audio")
    assert q.dropped == 0


# ---- WAV output --------------------------------------------------------------------------------


def test_wav_recorder_records_resamples_and_keeps_audio_on_flush(tmp_path: Path) -> None:
    path = tmp_path / "out.wav"
    with WavRecorder(path) as rec:
        rec.write(sine(440, 24000, 0.5).tobytes())
        rec.flush()  # barge-in: nothing recorded is discarded
        rec.write(sine(440, 16000, 0.5).tobytes(), rate=16000)
        rec.end_turn()
    rec.close()  # idempotent
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 24000)
        data = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    assert abs(len(data) - 24000) <= 30
    second = data[12000 + 100:-100]
    assert peak_frequency(second, 24000) == pytest.approx(440, abs=2)
    assert np.array_equal(data[:12000], sine(440, 24000, 0.5))
    with pytest.raises(UserError, match="cannot write"):
        WavRecorder(tmp_path / "no" / "such" / "dir.wav")


# ---- jitter buffer -----------------------------------------------------------------------------


def pcm(frames: int, value: int = 1000) -> bytes:
    return np.full(frames, value, "<i2").tobytes()


def read(jb: JitterBuffer, frames: int = 480) -> tuple[int, np.ndarray]:
    out = bytearray(b"\x55" * frames * 2)
    n = jb.read_into(memoryview(out), frames)
    return n, np.frombuffer(bytes(out), "<i2")


def test_jitter_prebuffers_before_playing() -> None:
    jb = JitterBuffer(prebuffer=1440, idle_reads=25)
    jb.write(pcm(960))
    n, out = read(jb)
    assert n == 0 and not out.any()  # silence while filling
    jb.write(pcm(480))
    n, out = read(jb)
    assert n == 480 and (out == 1000).all()
    assert jb.buffered == 960 and jb.underruns == 0


def test_jitter_short_utterance_plays_after_waiting() -> None:
    jb = JitterBuffer(prebuffer=1440, idle_reads=25)
    jb.write(pcm(200))
    results = [read(jb)[0] for _ in range(5)]
    assert results[:3] == [0, 0, 0] and 200 in results  # starts after a prebuffer's worth of reads


def test_jitter_end_turn_plays_rest_without_underrun() -> None:
    jb = JitterBuffer(prebuffer=1440, idle_reads=25)
    jb.write(pcm(700))
    jb.end_turn()
    assert read(jb)[0] == 480
    n, out = read(jb)
    assert n == 220 and (out[:220] == 1000).all() and not out[220:].any()
    jb.write(pcm(2000))  # the next turn, straight away: not an underrun
    assert jb.underruns == 0 and jb.turns == 1


def test_jitter_counts_mid_stream_starvation_only() -> None:
    jb = JitterBuffer(prebuffer=960, idle_reads=10)
    jb.write(pcm(1000))
    assert [read(jb)[0] for _ in range(3)] == [480, 480, 40]  # ran dry mid-turn
    for _ in range(3):
        assert read(jb)[0] == 0
    jb.write(pcm(960))  # more audio soon after: that was starvation
    assert jb.underruns == 1
    assert [read(jb)[0] for _ in range(2)] == [480, 480]
    for _ in range(12):  # dry for longer than idle_reads: the turn ended normally
        read(jb)
    assert jb.turns == 1
    jb.write(pcm(960))
    assert jb.underruns == 1


def test_jitter_flush_silences_next_read() -> None:
    jb = JitterBuffer(prebuffer=480, idle_reads=10)
    jb.write(pcm(4800))
    assert read(jb)[0] == 480
    assert jb.flush() == 4320
    n, out = read(jb)
    assert n == 0 and not out.any()
    assert jb.flushes == 1 and jb.buffered == 0 and not jb.active
    jb.write(pcm(480, 7))
    n, out = read(jb)
    assert n == 480 and (out == 7).all() and jb.underruns == 0


def test_jitter_times_flush_to_next_read() -> None:
    jb = JitterBuffer(prebuffer=0)
    jb.write(pcm(4800))
    jb.flush(now=10.0)
    jb.flush(now=10.004)  # a second flush before the device read: timed from the first
    jb.read_into(memoryview(bytearray(960)), 480, now=10.013)
    jb.read_into(memoryview(bytearray(960)), 480, now=10.033)
    assert list(jb.flush_waits) == [pytest.approx(0.013)]


# ---- AudioQueue --------------------------------------------------------------------------------


def chunk(i: int) -> AudioChunk:
    return AudioChunk(data=struct.pack("<h", i), captured_at=float(i))


def drain(q: AudioQueue) -> list[object]:
    out = []
    while True:
        try:
            out.append(q.get_nowait())
        except anyio.WouldBlock:
            return out


def test_queue_drops_oldest_audio_and_counts() -> None:
    q = AudioQueue(maxsize=3)
    for i in range(5):
        q.put_nowait(chunk(i))
    assert q.dropped == 2 and len(q) == 3
    assert drain(q) == [chunk(2), chunk(3), chunk(4)]


def test_queue_never_drops_control_items() -> None:
    q = AudioQueue(maxsize=2)
    q.put_nowait(chunk(1))
    q.put_nowait(AudioStreamEnd())
    q.put_nowait(chunk(2))
    q.put_nowait(chunk(3))
    q.put_nowait(InputClosed("mic"))
    assert drain(q) == [AudioStreamEnd(), InputClosed("mic")]
    assert q.dropped == 3
    for _ in range(4):  # only control items: the bound is exceeded rather than lose one
        q.put_nowait(AudioStreamEnd())
    assert len(q) == 4 and q.dropped == 3


@pytest.mark.anyio
async def test_queue_wakes_consumer_from_foreign_thread() -> None:
    q = AudioQueue(maxsize=1000)
    n = 300

    def producer() -> None:
        for i in range(n):
            q.put_nowait(chunk(i))
            if i % 7 == 0:
                time.sleep(0.001)  # let the consumer park in get() often

    got: list[AudioChunk] = []
    with anyio.fail_after(10):
        thread = threading.Thread(target=producer)
        thread.start()
        while len(got) < n:
            item = await q.get()
            assert isinstance(item, AudioChunk)
            got.append(item)
        thread.join()
    assert got == [chunk(i) for i in range(n)] and q.dropped == 0


@pytest.mark.anyio
async def test_queue_parked_consumer_is_woken_by_thread() -> None:
    q = AudioQueue()
    result: list[object] = []

    async def consumer() -> None:
        result.append(await q.get())

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consumer)
            await anyio.wait_all_tasks_blocked()
            t = threading.Thread(target=q.put_nowait, args=(InputClosed("mic"),))
            t.start()
            t.join()
    assert result == [InputClosed("mic")]


@pytest.mark.anyio
async def test_queue_async_put_waits_for_room_and_iterates() -> None:
    q = AudioQueue(maxsize=1)
    await q.put(chunk(1))
    done = anyio.Event()

    async def putter() -> None:
        await q.put(chunk(2))
        done.set()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(putter)
            await anyio.wait_all_tasks_blocked()
            assert not done.is_set() and len(q) == 1
            it = aiter(q)
            assert await anext(it) == chunk(1)
            await done.wait()
            assert await anext(it) == chunk(2)


# ---- no PortAudio ------------------------------------------------------------------------------

NO_PORTAUDIO = r"""
import ctypes.util, sys
ctypes.util.find_library = lambda name: None  # as on a machine without libportaudio2
import agent.media.buffers, agent.media.mic, agent.media.speaker, agent.media.wavfile
import agent.media.devices as devices
assert "sounddevice" not in sys.modules, "sounddevice must be imported lazily"
try:
    devices.list_devices_text()
except devices.UserError as exc:
    print(exc)
"""


def test_missing_portaudio_is_a_user_error_and_import_is_lazy() -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", NO_PORTAUDIO], cwd=root, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "PortAudio library not found" in out.stdout
    assert "apt-get install libportaudio2" in out.stdout
    assert "--no-audio-input --no-audio-output" in out.stdout
