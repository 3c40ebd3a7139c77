"""Mic and Speaker against real PortAudio streams on a private PulseAudio daemon (virtual devices).

Signals are compared by normalised cross-correlation per 250 ms window, allowing a lag and the
odd glitch (a loaded 2-core machine can underrun); nothing here asserts wall-clock timings.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import anyio
import numpy as np
import pytest

from agent.errors import UserError
from agent.events import AudioChunk, AudioStreamEnd
from agent.media.buffers import AudioQueue
from agent.media.devices import list_devices_text, resolve_device
from agent.media.mic import Mic
from agent.media.resample import resample
from agent.media.speaker import Speaker
from agent.media.wavfile import read_wav_mono
from tests.audio_env import PulseAudio

pytestmark = pytest.mark.audio

WINDOW_S = 0.25


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (apt-get install espeak-ng)")
    path = tmp_path_factory.mktemp("speech") / "speech.wav"
    subprocess.run(["espeak-ng", "-w", str(path), "Testing the microphone path, one two three."],
                   check=True, timeout=60)
    return path


def best_lag(captured: np.ndarray, ref: np.ndarray) -> int:
    """Offset of `ref` inside `captured` by FFT cross-correlation."""
    n = len(captured) + len(ref)
    size = 1 << (n - 1).bit_length()
    xc = np.fft.irfft(np.fft.rfft(captured, size) * np.conj(np.fft.rfft(ref, size)), size)
    return int(np.argmax(xc[: len(captured)]))


def windows_matching(captured: np.ndarray, ref: np.ndarray, rate: int) -> tuple[int, int, list[tuple[float, int]]]:
    """(matching windows, voiced windows, [(correlation, lag)]) of `ref` found in `captured`.

    Each 250 ms window of the reference is searched for near the overall best lag (+-100 ms), so
    a glitch (an underrun inserting a gap) only spoils the window it falls in.
    """
    c = captured.astype(np.float64)
    r = ref.astype(np.float64)
    lag = best_lag(c, r)
    w = int(rate * WINDOW_S)
    slack = int(rate * 0.1)
    found: list[tuple[float, int]] = []
    for start in range(0, len(r) - w + 1, w):
        b = r[start:start + w]
        if np.sqrt(np.mean(b * b)) < 300:  # a pause in the speech: nothing to compare
            continue
        lo = max(0, lag + start - slack)
        region = c[lo: lag + start + w + slack]
        if len(region) < w:
            found.append((0.0, -1))
            continue
        ncc, off = best_normalised_lag(region, b)
        found.append((ncc, lo + off - start))
    good = sum(x > 0.9 for x, _ in found)
    return good, len(found), found


def best_normalised_lag(region: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    """Max over offsets of the normalised correlation of `b` with region[off:off+len(b)]."""
    w = len(b)
    n = len(region) + w
    size = 1 << (n - 1).bit_length()
    xc = np.fft.irfft(np.fft.rfft(region, size) * np.conj(np.fft.rfft(b, size)), size)
    offsets = len(region) - w + 1
    energy = np.cumsum(np.concatenate(([0.0], region * region)))
    seg = energy[w:w + offsets] - energy[:offsets]
    ncc = xc[:offsets] / np.sqrt(np.maximum(seg, 1e-9) * max(float(np.dot(b, b)), 1e-9))
    best = int(np.argmax(ncc))
    return float(ncc[best]), best


def assert_matches(captured: np.ndarray, ref: np.ndarray, rate: int) -> None:
    good, total, corrs = windows_matching(captured, ref, rate)
    assert total >= 4, "reference has too little speech"
    shown = [(round(x, 3), lag) for x, lag in corrs]
    assert good >= total - 1, f"only {good}/{total} windows match (correlation, lag): {shown}"


async def record_mic(pulse: PulseAudio, mic: Mic, q: AudioQueue, fed: bytes, extra_s: float = 1.0) -> np.ndarray:
    """Run `mic`, play `fed` into vmic_feed, and collect what the mic queued."""
    want = len(fed) // 2 + int(16000 * extra_s)
    got: list[bytes] = []
    n = 0
    with anyio.fail_after(len(fed) / 32000 + 20):
        async with anyio.create_task_group() as tg:
            await tg.start(mic.run)
            proc = pulse.feed(fed)
            try:
                while n < want:
                    item = await q.get()
                    if isinstance(item, AudioChunk):
                        assert item.rate == 16000
                        got.append(item.data)
                        n += len(item.data) // 2
            finally:
                tg.cancel_scope.cancel()
    proc.wait(timeout=20)
    return np.frombuffer(b"".join(got), "<i2")


def padded(pcm: bytes, rate: int, seconds: float = 0.3) -> bytes:
    return bytes(2 * int(rate * seconds)) + pcm + bytes(2 * int(rate * seconds))


@pytest.mark.anyio
async def test_mic_captures_what_is_fed(pulse: PulseAudio, speech_wav: Path) -> None:
    speech = read_wav_mono(speech_wav, 16000)
    q = AudioQueue(maxsize=10_000)
    mic = Mic(q)  # the default input is vmic
    captured = await record_mic(pulse, mic, q, padded(speech, 16000))
    assert mic.stats.device_rate == 16000 and mic.stats.channels == 1
    assert mic.stats.sent > 0 and q.dropped == 0
    assert_matches(captured, np.frombuffer(speech, "<i2"), 16000)


@pytest.mark.anyio
async def test_mic_at_48k_device_rate_resamples(pulse: PulseAudio, speech_wav: Path) -> None:
    speech = read_wav_mono(speech_wav, 16000)
    q = AudioQueue(maxsize=10_000)
    mic = Mic(q, device="vmic", device_rate=48000)
    captured = await record_mic(pulse, mic, q, padded(speech, 16000))
    assert mic.stats.device_rate == 48000
    assert_matches(captured, np.frombuffer(speech, "<i2"), 16000)


@pytest.mark.anyio
async def test_muted_mic_sends_one_stream_end_and_no_audio(pulse: PulseAudio) -> None:
    q = AudioQueue(maxsize=1000)
    mic = Mic(q, muted=lambda: True)
    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            await tg.start(mic.run)
            first = await q.get()
            while mic.stats.muted_blocks < 10:
                await anyio.sleep(0.02)
            tg.cancel_scope.cancel()
    assert first == AudioStreamEnd()
    assert len(q) == 0 and mic.stats.sent == 0


async def play_and_capture(pulse: PulseAudio, spk: Speaker, chunks: list[tuple[bytes, int]], total: int) -> np.ndarray:
    """Write `chunks` to a running speaker and capture vspeaker.monitor until it has all played."""
    with pulse.capture() as cap:
        with anyio.fail_after(total / 24000 + 20):
            async with anyio.create_task_group() as tg:
                await tg.start(spk.run)
                for data, rate in chunks:
                    spk.write(data, rate)
                spk.end_turn()
                while spk.stats.audio_frames < total:
                    await anyio.sleep(0.05)
                played_at = len(cap.data)
                # Let the last block through the device latency into the capture.
                while len(cap.data) < played_at + 2 * 24000 * 0.5:
                    await anyio.sleep(0.05)
                tg.cancel_scope.cancel()
    return cap.samples


@pytest.mark.anyio
async def test_speaker_plays_what_is_written(pulse: PulseAudio, speech_wav: Path) -> None:
    speech = read_wav_mono(speech_wav, 24000)
    spk = Speaker()
    step = 4800  # the model delivers audio in irregular chunks; 100 ms here
    chunks = [(speech[i:i + step], 24000) for i in range(0, len(speech), step)]
    captured = await play_and_capture(pulse, spk, chunks, len(speech) // 2)
    assert spk.stats.device_rate == 24000
    assert_matches(captured, np.frombuffer(speech, "<i2"), 24000)


@pytest.mark.anyio
async def test_speaker_resamples_16k_input(pulse: PulseAudio, speech_wav: Path) -> None:
    speech16 = read_wav_mono(speech_wav, 16000)
    spk = Speaker()
    expected = resample(np.frombuffer(speech16, "<i2"), 16000, 24000)
    captured = await play_and_capture(pulse, spk, [(speech16, 16000)], len(expected) - 50)
    assert_matches(captured, expected, 24000)


@pytest.mark.anyio
async def test_flush_silences_speaker_within_a_block(pulse: PulseAudio) -> None:
    rate, block = 24000, 480
    t = np.arange(rate * 5) / rate
    tone = (8000 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()
    spk = Speaker(prebuffer_ms=60, block_ms=20)
    with pulse.capture() as cap:
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                await tg.start(spk.run)
                spk.write(tone)
                while spk.stats.audio_frames < rate // 2:
                    await anyio.sleep(0.01)
                spk.flush()
                played = spk.stats.audio_frames  # nothing more can be taken after the flush
                mark = len(cap.data)
                while len(cap.data) < mark + 2 * rate:  # one more second of capture
                    await anyio.sleep(0.05)
                stats = spk.stats
                tg.cancel_scope.cancel()
    assert stats.audio_frames == played and stats.flushes == 1
    assert len(stats.flush_latency_ms) == 1  # the callback saw the flush at its next call
    x = cap.samples.astype(np.float64)
    loud = np.flatnonzero(np.abs(x) > 400)
    first, last = int(loud[0]), int(loud[-1])
    # The tone lasts as long as the frames the callback handed out before the flush (give or
    # take a block or two for a glitch), then the signal stays at zero.
    assert abs((last + 1 - first) - played) <= 2 * block, (last + 1 - first, played)
    assert np.abs(x[last + 1:]).max() < 50
    assert len(x) - last > rate // 2  # and we did record well past the flush point
    tone_part = x[first:last + 1]
    w = rate // 4
    quiet = [i for i in range(0, len(tone_part) - w, w) if np.sqrt(np.mean(tone_part[i:i + w] ** 2)) < 3000]
    assert len(quiet) <= 1  # the odd underrun at most


def test_list_devices_shows_virtual_devices(pulse: PulseAudio) -> None:
    text = list_devices_text()
    assert "Input devices:" in text and "Output devices:" in text
    for name in ("vmic", "vspeaker", "default"):
        assert name in text
    assert "*" in text


def test_resolve_device_by_name_index_and_errors(pulse: PulseAudio) -> None:
    import sounddevice as sd

    names = {d["name"]: d["index"] for d in sd.query_devices()}
    assert resolve_device(None, "output") is None
    assert resolve_device("vspeaker", "output") == names["vspeaker"]
    assert resolve_device("VSPEAKER", "output") == names["vspeaker"]  # exact beats the monitor
    assert resolve_device("ker_MON", "input") == names["vspeaker_monitor"]  # case-insensitive part
    assert resolve_device("vmic", "input") == names["vmic"]  # an exact name beats vmic_feed
    assert resolve_device(str(names["vmic"]), "input") == names["vmic"]
    assert resolve_device(names["vmic"], "input") == names["vmic"]
    with pytest.raises(UserError, match=r"no audio input device matches 'nosuchmic'(.|\n)*gemini-live devices"):
        resolve_device("nosuchmic", "input")
    with pytest.raises(UserError, match=r"ambiguous(.|\n)*vmic_feed"):
        resolve_device("v", "input")
    with pytest.raises(UserError, match="no audio output device with index 999"):
        resolve_device(999, "output")


@pytest.mark.anyio
async def test_mic_with_unknown_device_fails_at_start(pulse: PulseAudio) -> None:
    with pytest.raises(UserError, match="no-such-device(.|\n)*gemini-live devices"):
        with anyio.fail_after(20):
            await Mic(AudioQueue(), device="no-such-device").run()
    with pytest.raises(UserError, match="no audio output device matches"):
        with anyio.fail_after(20):
            await Speaker(device="no-such-device").run()



NO_SERVER = r"""
from agent.errors import UserError
from agent.media.devices import list_devices_text, resolve_device
print(list_devices_text())
try:
    resolve_device("vmic", "input")
except UserError as exc:
    print("ERROR:", exc)
"""


def test_no_reachable_sound_server_says_what_to_do(tmp_path: Path) -> None:
    import os
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULSE_", "ALSA_"))}
    env["PULSE_SERVER"] = f"unix:{tmp_path}/nothing-here"
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", NO_SERVER], cwd=root, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "ERROR: no audio input devices found" in out.stdout
    assert "--no-audio-input --no-audio-output" in out.stdout


@pytest.mark.anyio
async def test_half_duplex_mic_is_muted_while_speaker_plays(pulse: PulseAudio) -> None:
    spk = Speaker(tail_ms=100)
    q = AudioQueue(maxsize=10_000)
    mic = Mic(q, muted=lambda: spk.playing)
    tone = (6000 * np.sin(2 * np.pi * 300 * np.arange(12000) / 24000)).astype("<i2").tobytes()
    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            await tg.start(spk.run)
            await tg.start(mic.run)
            while mic.stats.sent < 5:  # unmuted: audio flows
                await anyio.sleep(0.02)
            spk.write(tone)
            spk.end_turn()
            assert spk.playing
            while not isinstance(await q.get(), AudioStreamEnd):  # muting sends one stream end
                pass
            muted_from = mic.stats.sent
            while spk.playing:
                await anyio.sleep(0.02)
            sent_while_muted = mic.stats.sent - muted_from
            while mic.stats.sent < muted_from + 5:  # and audio flows again afterwards
                await anyio.sleep(0.02)
            tg.cancel_scope.cancel()
    assert sent_while_muted <= 1  # a block already in flight at most
    assert mic.stats.muted_blocks >= 10  # 0.5 s of tone + a 100 ms tail, in 20 ms blocks


def test_alsa_library_messages_do_not_reach_stderr(pulse: PulseAudio, capfd: pytest.CaptureFixture[str]) -> None:
    import ctypes

    from agent.media import devices

    devices.import_sounddevice()
    before = devices.alsa_messages
    handle = ctypes.c_void_p()
    rc = ctypes.CDLL("libasound.so.2").snd_pcm_open(ctypes.byref(handle), b"no_such_pcm_here", 0, 0)
    assert rc < 0
    assert devices.alsa_messages == before + 1  # "Unknown PCM": counted and logged, not printed
    assert "ALSA lib" not in capfd.readouterr().err
