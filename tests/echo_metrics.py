"""Signals and measures for echo cancellation: two speakers' voices, ERLE, near-end correlation.

Shared by tests/test_audio_echo.py, benchmarks/bench_echo.py and benchmarks/compare_aec.py.
The "model" (far end) and the "person" (near end) are espeak-ng voices of different pitch and
words, so the two signals are uncorrelated.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from agent.media.wavfile import read_wav_mono

MODEL_TEXT = (
    "Here is the weather for Paris this afternoon. It will be mostly sunny with a light breeze from "
    "the west, and temperatures around twenty two degrees. Later this evening some clouds roll in, "
    "and there is a small chance of rain after midnight. Tomorrow looks warmer again."
)
PERSON_TEXT = "Wait, stop please. I asked about London, not Paris. Can you check London instead?"


def speech(text: str, rate: int, *, voice: str = "en", pitch: int = 50, speed: int = 175) -> np.ndarray:
    """espeak-ng saying `text`, as int16 mono at `rate`."""
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is not installed: scripts/setup --test installs it")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed), "-w", str(path), text],
                       check=True, capture_output=True, timeout=60)
        pcm = read_wav_mono(path, rate)
    return np.frombuffer(pcm, dtype="<i2").copy()


def model_voice(rate: int, seconds: float | None = None) -> np.ndarray:
    """The far end: a low male voice, repeated to `seconds` if given."""
    x = speech(MODEL_TEXT, rate, voice="en-us", pitch=30)
    if seconds is not None:
        n = int(seconds * rate)
        x = np.resize(x, n) if len(x) < n else x[:n]
    return x


def person_voice(rate: int) -> np.ndarray:
    """The near end: a higher voice, other words."""
    return speech(PERSON_TEXT, rate, voice="en+f3", pitch=70)


def energy_db(x: np.ndarray) -> float:
    f = np.asarray(x, dtype=np.float64)
    return float(10 * np.log10(np.mean(f * f) + 1e-9))


def active(x: np.ndarray, rate: int, window: float = 0.02, floor_db: float = -40.0) -> np.ndarray:
    """Per window: is `x` within `floor_db` of its own loudest window (speech, not a pause)?"""
    w = int(rate * window)
    f = np.asarray(x[: len(x) // w * w], dtype=np.float64).reshape(-1, w)
    e = 10 * np.log10(np.mean(f * f, axis=1) + 1e-9)
    return e > e.max() + floor_db


def erle_db(mic: np.ndarray, out: np.ndarray, reference_active: np.ndarray, rate: int, window: float = 0.02) -> float:
    """Echo return loss enhancement: mic energy over output energy, in the windows the echo is on."""
    w = int(rate * window)
    n = min(len(mic), len(out), len(reference_active) * w) // w
    m = np.asarray(mic[: n * w], dtype=np.float64).reshape(n, w)
    o = np.asarray(out[: n * w], dtype=np.float64).reshape(n, w)
    sel = reference_active[:n]
    if not sel.any():
        return float("nan")
    return float(10 * np.log10((np.sum(m[sel] ** 2) + 1e-9) / (np.sum(o[sel] ** 2) + 1e-9)))


def correlation(x: np.ndarray, y: np.ndarray, max_lag: int) -> tuple[float, int]:
    """Best normalised correlation of x and y within +-max_lag samples, and that lag (x later = +)."""
    a = np.asarray(x, dtype=np.float64)
    b = np.asarray(y, dtype=np.float64)
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    size = 1 << (2 * n - 1).bit_length()
    xc = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(b, size)), size)
    lags = np.concatenate((np.arange(0, max_lag + 1), np.arange(-max_lag, 0)))
    vals = xc[lags]  # negative lags wrap around
    i = int(np.argmax(vals))
    norm = np.linalg.norm(a) * np.linalg.norm(b) + 1e-9
    return float(vals[i] / norm), int(lags[i])


def best_lag(x: np.ndarray, ref: np.ndarray, max_lag: int) -> int:
    """Where `ref` sits in `x` (0..max_lag samples later)."""
    a = np.asarray(x, dtype=np.float64)
    b = np.asarray(ref, dtype=np.float64)
    size = 1 << (len(a) + len(b)).bit_length()
    xc = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(b, size)), size)
    return int(np.argmax(xc[: max_lag + 1]))
