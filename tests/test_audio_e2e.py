"""Audio through the whole agent against the fake Live server.

Headless: --input-audio / --output-audio WAV files. Live: the real mic and speaker through
PortAudio on a private PulseAudio daemon (virtual devices), with barge-in.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from agent.media.wavfile import read_wav_16k_mono
from tests.conftest import interrupt, run_agent, start_agent
from tests.fakes.live_server import FakeConnection

RATE_IN, RATE_OUT = 16_000, 24_000


def speech_wav(path: Path, text: str = "Turn on the kitchen lights and tell me the weather in Paris") -> Path:
    """Real speech at espeak-ng's native 22.05 kHz, so the agent has to resample it."""
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is not installed: scripts/setup --test installs it")
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True, capture_output=True)
    return path


def tone(seconds: float, freq: float = 440.0, rate: int = RATE_OUT, level: float = 0.5) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * freq * t) * level * 32767).astype("<i2").tobytes()


def similarity(a: bytes, b: bytes) -> float:
    """Peak normalised cross-correlation of two PCM16 signals, over every lag."""
    x = np.frombuffer(a, "<i2").astype(np.float64)
    y = np.frombuffer(b, "<i2").astype(np.float64)
    n = len(x) + len(y)
    size = 1 << (n - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(x, size) * np.conj(np.fft.rfft(y, size)), size)
    return float(np.max(np.abs(corr)) / (np.linalg.norm(x) * np.linalg.norm(y) + 1e-9))


def trim_silence(pcm: bytes, threshold: int = 500) -> bytes:
    """The stretch from the first to the last sample louder than `threshold`."""
    x = np.frombuffer(pcm, "<i2")
    loud = np.flatnonzero(np.abs(x.astype(np.int32)) > threshold)
    return x[loud[0] : loud[-1] + 1].tobytes() if len(loud) else b""


def voiced_seconds(pcm: bytes, rate: int, window: float = 0.02, threshold: float = 0.02) -> float:
    """How long the signal is above a small RMS level, in seconds."""
    x = np.frombuffer(pcm, "<i2").astype(np.float64) / 32768
    step = int(rate * window)
    frames = x[: len(x) // step * step].reshape(-1, step)
    return float(np.sum(np.sqrt(np.mean(frames**2, axis=1)) > threshold) * window)


class AudioModel:
    """Scenario: takes in user audio until audioStreamEnd (or enough of it), answers in audio."""

    def __init__(self, reply: bytes, *, need_seconds: float | None = None, interrupt_after: float | None = None) -> None:
        self.reply = reply
        self.need_seconds = need_seconds
        self.interrupt_after = interrupt_after
        self.audio = bytearray()
        self.stream_ended = False
        self.mime_types: set[str] = set()

    async def __call__(self, conn: FakeConnection) -> None:
        while True:
            msg = await conn.expect("realtime_input", timeout=60)
            if msg.audio is not None:
                self.audio += msg.audio
                self.mime_types.add(msg.body["audio"].get("mime_type", ""))
            if msg.body.get("audio_stream_end"):
                self.stream_ended = True
                break
            if self.need_seconds and len(self.audio) >= self.need_seconds * RATE_IN * 2:
                break
        await conn.send_transcript("turn on the kitchen lights", output=False)
        if self.interrupt_after is None:
            await conn.send_audio(self.reply)
            await conn.send_transcript("Done.")
            await conn.turn_complete()
            return
        # Like the service, send the whole reply faster than it plays; the user barges in part way.
        await conn.send_audio(self.reply)
        await asyncio.sleep(self.interrupt_after)
        await conn.interrupted()
        await conn.turn_complete()
        await asyncio.sleep(3600)


def test_wav_in_wav_out_headless(live, clean_env: Path) -> None:
    question = speech_wav(clean_env / "question.wav")
    answer = clean_env / "answer.wav"
    reply = tone(1.0, 330.0)
    model = AudioModel(reply)
    live(model)
    log_file = clean_env / "session.jsonl"
    result = run_agent("--input-audio", str(question), "--output-audio", str(answer), "--no-audio-output", "--no-search",
                       "--log-file", str(log_file), input="", timeout=90)
    assert result.status == 0, result.stderr
    sent = read_wav_16k_mono(question)
    assert model.stream_ended and model.mime_types == {"audio/pcm;rate=16000"}
    assert len(model.audio) == len(sent)  # every chunk arrived, none dropped or repeated
    assert similarity(bytes(model.audio), sent) > 0.99
    assert "you: turn on the kitchen lights" in result.stdout and "Done." in result.stdout
    with wave.open(str(answer)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (RATE_OUT, 1, 2)
        recorded = w.readframes(w.getnframes())
    assert similarity(recorded, reply) > 0.99
    # The end of the user's speech (the file's audioStreamEnd) to the first model audio, once per turn.
    metrics = next(e for e in map(json.loads, log_file.read_text().splitlines()) if e["event"] == "metrics")
    assert len(metrics["response_latency_ms"]) == 1 and metrics["response_latency_ms"][0] >= 0


def test_bad_input_wav_is_a_clear_error(clean_env: Path) -> None:
    bad = clean_env / "not.wav"
    bad.write_bytes(b"this is not a wav file")
    result = run_agent("--input-audio", str(bad), input="", env={"GOOGLE_API_KEY": "k"})
    assert result.status == 2 and "not.wav" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.audio
def test_mic_speaker_and_barge_in(live, clean_env: Path, pulse) -> None:
    """Speech fed into the virtual mic reaches the server; the reply plays on the virtual speaker
    until `interrupted`, which silences it."""
    speech = read_wav_16k_mono(speech_wav(clean_env / "speech.wav"))
    reply = tone(4.0, 440.0)
    model = AudioModel(reply, need_seconds=len(speech) / 2 / RATE_IN + 0.5, interrupt_after=1.0)
    server = live(model)
    # Echo cancellation (on by default, tested in test_audio_echo.py) reshapes the waveform a little;
    # without it the speech must arrive as fed.
    proc = start_agent("--no-search", "--no-echo-cancellation", env=pulse.env, cwd=clean_env)
    try:
        server.wait_for(lambda: len(server.connections) == 1, timeout=30)
        time.sleep(0.5)  # the mic opens after setupComplete
        with pulse.capture() as speaker:
            pulse.feed(speech).wait(timeout=30)
            server.wait_for(lambda: len(model.audio) >= model.need_seconds * RATE_IN * 2, timeout=30)
            time.sleep(3.0)  # the reply plays for 1 s, then barge-in; then room to hear any leftovers
        status, out, err = interrupt(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert status == 130, err
    assert similarity(bytes(model.audio), speech) > 0.8
    heard = speaker.data
    played = trim_silence(heard)
    assert similarity(played, reply[: len(played)]) > 0.9  # the speaker played the model's audio
    # All 4 s of reply were buffered; the interruption came after about 1 s of playback, and a
    # flushed speaker stops there instead of playing the rest.
    assert 0.6 < voiced_seconds(heard, RATE_OUT) < 2.0, voiced_seconds(heard, RATE_OUT)


@pytest.mark.audio
def test_devices_command_and_unknown_device(pulse, clean_env: Path) -> None:
    listing = run_agent("devices", env=pulse.env)
    assert listing.status == 0 and "vmic" in listing.stdout and "vspeaker" in listing.stdout
    result = run_agent("--input-device", "nosuchmic", "--no-audio-output", input="", env={**pulse.env, "GOOGLE_API_KEY": "k"})
    assert result.status == 2
    assert "nosuchmic" in result.stderr and "gemini-live devices" in result.stderr and "vmic" in result.stderr
