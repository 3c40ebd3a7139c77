"""Echo cancellation on virtual devices: ERLE, near-end speech kept, CPU and mic latency added.

    .venv/bin/python benchmarks/bench_echo.py [--delay-ms 60] [--gain-db -6] [--seconds 12]

A private PulseAudio daemon (tests/audio_env.py) with an echo path: what the speaker plays comes
back into the mic through module-loopback after about --delay-ms, --gain-db quieter. The Speaker
plays the "model" (an espeak-ng voice, 24 kHz) from the start; the "person" (another voice) talks
into the mic from 7 s on, over the model: double talk. The Mic runs with the EchoCanceller
(WebRTC APM through livekit: echo cancellation, noise suppression, high-pass filter), whose
monitor records each block before and after processing.

Printed, from one run of each variant (order off, on, on, off, so drift hits both alike):
  ERLE        echo return loss enhancement, mic energy over cleaned energy where the echo is on:
              per 0.5 s from the first echo, the first window that reaches 25 dB, and from 2 s
              until the person speaks (goal >= 25 dB within 2 s)
  double talk best normalised correlation of the cleaned mic with the person's clean voice
              (within +-20 ms of where it sits in the raw mic), next to the raw mic's: the
              person's speech must survive (goal >= 0.8)
  CPU         this process (PortAudio threads, event loop, processing), % of one core, with and
              without echo cancellation (goal <= 2 % added)
  latency     processing time per 20 ms mic block on the callback thread; 20 ms blocks are two
              whole 10 ms frames, so nothing is held back (goal <= 10 ms added)
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anyio  # noqa: E402
import numpy as np  # noqa: E402

from agent.events import AudioChunk  # noqa: E402
from agent.media.aec import EchoCanceller  # noqa: E402
from agent.media.buffers import AudioQueue  # noqa: E402
from agent.media.mic import Mic  # noqa: E402
from agent.media.speaker import Speaker  # noqa: E402
from tests.audio_env import PulseAudio, running_pulse  # noqa: E402
from tests.echo_metrics import correlation, energy_db, model_voice, person_voice  # noqa: E402

RATE = 16_000
TALK_AT = 7.0
WINDOW = 0.5
GOAL_ERLE_DB, GOAL_CONVERGE_S, GOAL_CORR, GOAL_CPU_PCT, GOAL_LATENCY_MS = 25.0, 2.0, 0.8, 2.0, 10.0


@dataclass
class Run:
    cpu: float = 0.0
    wall: float = 0.0
    raw: bytearray = field(default_factory=bytearray)  # the mic before processing
    clean: bytearray = field(default_factory=bytearray)  # what would be sent
    process_ms: list[float] = field(default_factory=list)
    delay_hints: list[int] = field(default_factory=list)
    sent_blocks: int = 0
    talk_sample: int = 0  # how much the mic had captured when the person began (pacat started)


async def session(pa: PulseAudio, aec_on: bool, far: np.ndarray, near: np.ndarray, seconds: float, delay_ms: int, gain_db: float) -> Run:
    run = Run()
    q = AudioQueue(maxsize=10_000)
    speaker = Speaker()
    aec = EchoCanceller() if aec_on else None
    if aec is not None:
        speaker.tap = aec.played

        def monitor(raw: bytes, clean: bytes) -> None:
            run.raw.extend(raw)
            run.clean.extend(clean)
            run.delay_hints.append(aec.stats.delay_ms)

        aec.monitor = monitor
    mic = Mic(q, echo_canceller=aec)

    async def consume() -> None:
        async for item in q:
            if isinstance(item, AudioChunk):
                run.sent_blocks += 1
                if aec is None:
                    run.raw.extend(item.data)

    with pa.echo_path(delay_ms, gain_db):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await tg.start(speaker.run)
            await tg.start(mic.run)
            c0, w0 = time.process_time(), time.perf_counter()
            speaker.write(far.astype("<i2").tobytes())
            speaker.end_turn()
            await anyio.sleep(TALK_AT)
            run.talk_sample = len(run.raw) // 2
            feeder = pa.feed(near.astype("<i2").tobytes())
            await anyio.sleep(seconds - TALK_AT)
            run.cpu, run.wall = time.process_time() - c0, time.perf_counter() - w0
            tg.cancel_scope.cancel()
    feeder.wait(timeout=30)
    if aec is not None:
        run.process_ms = [x * 1000 for x in aec.stats.process_s]
    return run


def windows_db(x: np.ndarray, w: int) -> np.ndarray:
    f = x[: len(x) // w * w].astype(np.float64).reshape(-1, w)
    return 10 * np.log10(np.mean(f * f, axis=1) + 1e-9)


def report(run: Run, near: np.ndarray, delay_ms: int, gain_db: float) -> None:
    raw = np.frombuffer(bytes(run.raw), "<i2").astype(np.float64)
    clean = np.frombuffer(bytes(run.clean), "<i2").astype(np.float64)
    n = min(len(raw), len(clean))
    raw, clean = raw[:n], clean[:n]
    # Where the person's voice sits in the raw mic: within half a second of starting to play it.
    search = raw[run.talk_sample : run.talk_sample + len(near) + RATE // 2]
    size = 1 << (len(search) + len(near)).bit_length()
    xc = np.fft.irfft(np.fft.rfft(search, size) * np.conj(np.fft.rfft(near.astype(np.float64), size)), size)
    at = run.talk_sample + int(np.argmax(xc[: RATE // 2]))
    w = int(RATE * 0.02)
    raw_db = windows_db(raw, w)
    echo_from = int(np.argmax(raw_db > raw_db[: at // w].max() - 40)) * w  # the first echo
    # Echo-only windows: between the first echo and the person, loud enough to be the echo.
    echo_on = raw_db > raw_db[: at // w].max() - 40
    echo_on[run.talk_sample // w :] = False

    def erle(lo: int, hi: int) -> float:
        sel = np.zeros_like(echo_on)
        sel[lo // w : hi // w] = echo_on[lo // w : hi // w]
        if not sel.any():
            return float("nan")
        r = raw[: len(sel) * w].reshape(-1, w)[sel]
        c = clean[: len(sel) * w].reshape(-1, w)[sel]
        return float(10 * np.log10(np.sum(r * r) / (np.sum(c * c) + 1e-9)))

    step = int(RATE * WINDOW)
    per = [erle(s, s + step) for s in range(echo_from, run.talk_sample - step + 1, step)]
    reached = next((i * WINDOW for i, x in enumerate(per) if x >= GOAL_ERLE_DB and all(y >= GOAL_ERLE_DB for y in per[i:])), None)
    settled = erle(echo_from + 2 * RATE, run.talk_sample)
    span = slice(at, min(n, at + len(near)))
    corr_clean, _ = correlation(clean[span], near[: span.stop - span.start], RATE // 50)
    corr_raw, _ = correlation(raw[span], near[: span.stop - span.start], RATE // 50)
    env = [np.corrcoef(windows_db(x[span], w)[: len(near) // w], windows_db(near.astype(np.float64), w)[: (span.stop - span.start) // w])[0, 1]
           for x in (clean, raw)]
    echo_raw_db = energy_db(raw[: len(echo_on) * w].reshape(-1, w)[echo_on])
    print(f"room: echo path {delay_ms} ms target at {gain_db:+.1f} dB; raw echo at the mic {echo_raw_db - 90.3:5.1f} dBFS; "
          f"person from {at / RATE:.2f} s, {len(near) / RATE:.1f} s long")
    print("ERLE per 0.5 s from the first echo: " + " ".join(f"{x:4.0f}" for x in per) + " dB")
    print(f"  reaches {GOAL_ERLE_DB:g} dB for good after: {'never' if reached is None else f'{reached:.1f} s'}"
          f"  (goal <= {GOAL_CONVERGE_S:g} s)")
    print(f"  ERLE from 2 s until the person speaks: {settled:5.1f} dB  (goal >= {GOAL_ERLE_DB:g} dB)")
    print(f"double talk: correlation with the person's clean voice {corr_clean:5.3f} (raw mic {corr_raw:5.3f}; goal >= {GOAL_CORR:g})")
    print(f"  20 ms level envelope (dB) against the person's: {env[0]:5.3f} (raw mic {env[1]:5.3f}): the syllables are there, echo or not")
    print(f"  the module alone on the person's voice, no echo at all: correlation {alone_corr(near):5.3f} (its own ceiling)")
    ms = np.asarray(run.process_ms)
    print(f"added mic latency: processing per 20 ms block p50 {np.percentile(ms, 50):.3f} ms, p99 {np.percentile(ms, 99):.3f} ms, "
          f"max {ms.max():.3f} ms; nothing buffered (goal <= {GOAL_LATENCY_MS:g} ms)")
    hints = np.asarray(run.delay_hints)
    print(f"stream delay hint after alignment: median {np.median(hints):.0f} ms (the room's delay is left to AEC3's estimator)")


def alone_corr(near: np.ndarray) -> float:
    """The person's clean voice through the same processing with silence played: what it changes by itself."""
    aec = EchoCanceller()
    out = bytearray()
    b = RATE // 50
    for i in range(len(near) // b):
        aec.played(bytes(2 * 480), 24_000, i * 0.02)
        out += aec.process(near[i * b : (i + 1) * b].astype("<i2").tobytes(), i * 0.02 + 0.001)
    return correlation(np.frombuffer(bytes(out), "<i2"), near, RATE // 50)[0]


async def bench(pa: PulseAudio, seconds: float, delay_ms: int, gain_db: float) -> None:
    far = model_voice(24_000, seconds)
    near = person_voice(RATE)
    runs: dict[bool, list[Run]] = {False: [], True: []}
    for on in (False, True, True, False):
        runs[on].append(await session(pa, on, far, near, seconds, delay_ms, gain_db))
    report(runs[True][0], near, delay_ms, gain_db)
    pct = {on: 100 * sum(r.cpu for r in rs) / sum(r.wall for r in rs) for on, rs in runs.items()}
    added = pct[True] - pct[False]
    print(f"CPU (this process, {seconds:g} s sessions, 2 each): without {pct[False]:.2f} %, with {pct[True]:.2f} % of one core: "
          f"+{added:.2f} %  (goal <= {GOAL_CPU_PCT:g} %)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--delay-ms", type=int, default=60, help="echo path latency target (30-120)")
    ap.add_argument("--gain-db", type=float, default=-6.0, help="echo path gain")
    ap.add_argument("--seconds", type=float, default=12.0, help="length of each session (the person talks from 7 s)")
    args = ap.parse_args()
    with running_pulse() as pa:
        anyio.run(bench, pa, args.seconds, args.delay_ms, args.gain_db)


if __name__ == "__main__":
    main()
