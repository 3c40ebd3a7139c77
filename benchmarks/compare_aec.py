"""WebRTC audio processing bindings side by side, offline: echo removed, speech kept, CPU.

    .venv/bin/python benchmarks/compare_aec.py [--delay-ms 80] [--gain 0.5] [--reverb]

The same simulated room for each binding that is installed: the model's voice (24 kHz, as the
speaker plays it) comes back into the mic (16 kHz) after `delay` with `gain` (and, with
--reverb, a 150 ms exponentially decaying tail), a person talks over it from 7 s on, and a
little white noise is always there. Frames of 10 ms go through the binding as a live session
would feed them: the played frame (reverse stream) first, then the captured one.

Printed per binding: ERLE (echo return loss enhancement) per second of far-end-only speech, and
from 2 s until the person speaks; the correlation of the output with the person's clean voice
while both talk (against the raw mic's, the baseline); CPU per second of audio.

Bindings: livekit (`livekit.rtc.AudioProcessingModule`, a dependency of gemini-live) and, if
installed, aec-audio-processing (PyPI sdist only: it builds WebRTC from source, ~5 min here).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from agent.media.resample import resample  # noqa: E402
from tests.echo_metrics import active, correlation, erle_db, model_voice, person_voice  # noqa: E402

FAR_RATE, NEAR_RATE = 24_000, 16_000
SECONDS, TALK_AT = 12.0, 7.0
Process = Callable[[bytes, bytes], bytes]  # (far 10 ms @24k, mic 10 ms @16k) -> cleaned mic


def livekit_binding(delay_ms: int) -> Process:
    from livekit import rtc

    apm = rtc.AudioProcessingModule(echo_cancellation=True, noise_suppression=True, high_pass_filter=True)

    def process(far: bytes, mic: bytes) -> bytes:
        rev = rtc.AudioFrame(bytearray(far), FAR_RATE, 1, len(far) // 2)
        apm.process_reverse_stream(rev)
        apm.set_stream_delay_ms(delay_ms)
        frame = rtc.AudioFrame(bytearray(mic), NEAR_RATE, 1, len(mic) // 2)
        apm.process_stream(frame)
        return bytes(frame.data)

    return process


def aec_audio_processing_binding(delay_ms: int) -> Process:
    from aec_audio_processing import AudioProcessor

    from agent.media.resample import Resampler

    ap = AudioProcessor(enable_aec=True, enable_ns=True, ns_level=1, enable_agc=False, enable_vad=False)
    ap.set_stream_format(NEAR_RATE, 1)
    ap.set_reverse_stream_format(NEAR_RATE, 1)  # its reverse stream must have the capture rate
    down = Resampler(FAR_RATE, NEAR_RATE)

    def process(far: bytes, mic: bytes) -> bytes:
        ap.process_reverse_stream(down.process_bytes(far))
        ap.set_stream_delay(delay_ms)
        return bytes(ap.process_stream(mic))

    return process


BINDINGS: dict[str, Callable[[int], Process]] = {
    "livekit": livekit_binding,
    "aec-audio-processing": aec_audio_processing_binding,
}


def room(far24: np.ndarray, near: np.ndarray, delay_ms: int, gain: float, reverb: bool) -> tuple[np.ndarray, np.ndarray]:
    """(mic signal, echo alone) at 16 kHz."""
    far16 = resample(far24, FAR_RATE, NEAR_RATE).astype(np.float64)
    echo = np.zeros(int(SECONDS * NEAR_RATE))
    d = delay_ms * NEAR_RATE // 1000
    echo[d:] = far16[: len(echo) - d] * gain
    if reverb:
        rng = np.random.default_rng(1)
        n = int(0.15 * NEAR_RATE)
        ir = rng.standard_normal(n) * np.exp(-np.arange(n) / (0.03 * NEAR_RATE)) * 0.08
        ir[0] = 1.0
        echo = np.convolve(echo, ir)[: len(echo)]
    mic = echo.copy()
    t = int(TALK_AT * NEAR_RATE)
    mic[t : t + len(near)] += near[: len(mic) - t]
    mic += np.random.default_rng(2).standard_normal(len(mic)) * 32768 * 10 ** (-65 / 20)
    return np.clip(mic, -32768, 32767).astype(np.int16), echo


def run(name: str, process: Process, far24: np.ndarray, mic: np.ndarray, echo: np.ndarray, near: np.ndarray) -> None:
    fn, nn = FAR_RATE // 100, NEAR_RATE // 100
    frames = len(mic) // nn
    out = np.zeros(frames * nn, dtype=np.int16)
    c0 = time.process_time()
    for i in range(frames):
        far = far24[i * fn : (i + 1) * fn].astype("<i2").tobytes()
        out[i * nn : (i + 1) * nn] = np.frombuffer(process(far, mic[i * nn : (i + 1) * nn].astype("<i2").tobytes()), "<i2")
    cpu = time.process_time() - c0
    echo_on = active(echo, NEAR_RATE)
    t = int(TALK_AT * NEAR_RATE)
    w = int(NEAR_RATE * 0.02)
    per_second = []
    for s in range(int(TALK_AT)):
        sel = np.zeros_like(echo_on)
        sel[s * 50 : (s + 1) * 50] = echo_on[s * 50 : (s + 1) * 50]
        per_second.append(erle_db(mic, out, sel, NEAR_RATE))
    settled = echo_on.copy()
    settled[: 2 * 50] = False
    settled[t // w :] = False
    span = slice(t, t + len(near))
    dt_out, _ = correlation(out[span], near, NEAR_RATE // 50)
    dt_mic, _ = correlation(mic[span], near, NEAR_RATE // 50)
    print(f"{name}:")
    print("  ERLE per second    : " + " ".join(f"{x:5.1f}" for x in per_second) + " dB")
    print(f"  ERLE 2 s .. {TALK_AT:g} s   : {erle_db(mic, out, settled, NEAR_RATE):5.1f} dB  (goal >= 25)")
    print(f"  double talk corr.  : {dt_out:5.3f}  (raw mic {dt_mic:5.3f}; goal >= 0.8)")
    print(f"  CPU                : {100 * cpu / (frames / 100):5.2f} % of one core  ({1e6 * cpu / frames:.0f} us per 10 ms frame)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--delay-ms", type=int, default=80)
    ap.add_argument("--gain", type=float, default=0.5)
    ap.add_argument("--reverb", action="store_true")
    ap.add_argument("--hint-ms", type=int, default=None, help="stream delay told to the binding (default: --delay-ms)")
    args = ap.parse_args()
    far24 = model_voice(FAR_RATE, SECONDS)
    near = person_voice(NEAR_RATE)
    mic, echo = room(far24, near, args.delay_ms, args.gain, args.reverb)
    print(f"room: echo after {args.delay_ms} ms at gain {args.gain:g}{' with reverb' if args.reverb else ''}; person from {TALK_AT:g} s")
    for name, make in BINDINGS.items():
        try:
            process = make(args.delay_ms if args.hint_ms is None else args.hint_ms)
        except ImportError as exc:
            print(f"{name}: not installed ({exc})")
            continue
        run(name, process, far24, mic, echo, near)


if __name__ == "__main__":
    main()
