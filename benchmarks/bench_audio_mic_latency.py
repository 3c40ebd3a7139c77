"""Mic block captured -> taken off the AudioQueue by an async consumer: p50/p99/max in ms.

    .venv/bin/python benchmarks/bench_audio_mic_latency.py [--seconds 30] [--no-speaker]

Runs on a private PulseAudio daemon with virtual devices (tests/audio_env.py). "Captured" is
AudioChunk.captured_at, taken at the top of the PortAudio input callback; "taken" is when the
consumer task's `await queue.get()` returns, as the session's audio sender would see it. By
default the Speaker plays a tone at the same time (full duplex), as in a conversation.
Also shown: the same path without devices (a thread putting blocks every 20 ms), which isolates
the AudioQueue's cross-thread wake-up from PortAudio's scheduling.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anyio  # noqa: E402
import numpy as np  # noqa: E402

from agent.events import AudioChunk  # noqa: E402
from agent.media.buffers import AudioQueue  # noqa: E402
from agent.media.mic import Mic  # noqa: E402
from agent.media.speaker import Speaker  # noqa: E402
from tests.audio_env import PulseAudio, running_pulse  # noqa: E402

GOAL_P99_MS = 5.0


def report(label: str, latencies: list[float]) -> None:
    ms = np.asarray(latencies) * 1000
    p99 = np.percentile(ms, 99)
    print(f"{label:34s} n={len(ms):5d}  p50 {np.percentile(ms, 50):6.3f} ms  p99 {p99:6.3f} ms  "
          f"max {ms.max():6.3f} ms  (goal p99 <= {GOAL_P99_MS:g} ms: {'met' if p99 <= GOAL_P99_MS else 'NOT met'})")


async def consume(q: AudioQueue, latencies: list[float], n: int) -> None:
    while len(latencies) < n:
        item = await q.get()
        if isinstance(item, AudioChunk):
            latencies.append(time.perf_counter() - item.captured_at)


async def with_devices(pa: PulseAudio, seconds: float, speaker: bool) -> None:
    q = AudioQueue()
    latencies: list[float] = []
    async with anyio.create_task_group() as tg:
        if speaker:
            spk = Speaker()
            await tg.start(spk.run)
            tone = (6000 * np.sin(2 * np.pi * 330 * np.arange(int(24000 * (seconds + 5))) / 24000))
            spk.write(tone.astype("<i2").tobytes())
        mic = Mic(q)
        await tg.start(mic.run)
        await consume(q, latencies, int(seconds * 50))
        tg.cancel_scope.cancel()
    report("mic -> consumer" + (" (full duplex)" if speaker else ""), latencies)
    print(f"{'':34s} dropped {q.dropped}, mic overflows {mic.stats.input_overflows}")


async def without_devices(seconds: float) -> None:
    q = AudioQueue()
    latencies: list[float] = []
    n = int(seconds * 50)
    stop = threading.Event()

    def producer() -> None:
        start = time.perf_counter()
        for i in range(n):
            delay = start + i * 0.02 - time.perf_counter()
            if delay > 0 and stop.wait(delay):
                return
            q.put_nowait(AudioChunk(data=bytes(640), captured_at=time.perf_counter()))

    thread = threading.Thread(target=producer, daemon=True)
    thread.start()
    try:
        await consume(q, latencies, n)
    finally:
        stop.set()
        thread.join()
    report("thread -> consumer (no devices)", latencies)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--no-speaker", action="store_true", help="mic only, no playback at the same time")
    args = ap.parse_args()
    anyio.run(without_devices, min(args.seconds, 10.0))
    with running_pulse() as pa:
        anyio.run(with_devices, pa, args.seconds, not args.no_speaker)


if __name__ == "__main__":
    main()
