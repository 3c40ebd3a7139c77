"""CPU cost of Mic + Speaker full duplex vs a bare sounddevice loop doing the same device I/O.

    .venv/bin/python benchmarks/bench_audio_cpu.py [--seconds 60]

Both run in this process, on a private PulseAudio daemon with virtual devices
(tests/audio_env.py), in the order bare, ours, ours, bare (half the time each) so drift in the
machine's load hits both alike. CPU is this process's time.process_time() (all threads: the
PortAudio callbacks, the event loop, worker threads) over wall time, as % of one core.

  bare: RawInputStream 16 kHz/320-frame blocks whose callback copies each block into a deque
        drained by an async task every 20 ms, and RawOutputStream 24 kHz/480-frame blocks whose
        callback copies from a tone buffer.
  ours: Mic -> AudioQueue -> an async consumer (as the session's audio sender), and
        Speaker fed 100 ms chunks every 100 ms (as model audio arrives).
The "ours" run also reports the mic block captured -> taken off the queue latency.
The lead will add the full-session comparison here later.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
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

GOAL_RATIO = 1.2
GOAL_ABS_PCT = 3.0
GOAL_LAT_P99_MS = 5.0

TONE = (6000 * np.sin(2 * np.pi * 330 * np.arange(24000 * 2) / 24000)).astype("<i2").tobytes()


def proc_cpu_seconds(pid: int) -> float:
    """utime+stime of another process (the PulseAudio daemon), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


async def run_bare(seconds: float) -> dict[str, float]:
    import sounddevice as sd

    blocks: collections.deque[bytes] = collections.deque()
    pos = 0

    def in_cb(indata, frames, t, status) -> None:  # noqa: ANN001
        blocks.append(bytes(indata))

    def out_cb(outdata, frames, t, status) -> None:  # noqa: ANN001
        nonlocal pos
        n = frames * 2
        if pos + n > len(TONE):
            pos = 0
        outdata[:] = TONE[pos:pos + n]
        pos += n

    ins = sd.RawInputStream(samplerate=16000, blocksize=320, channels=1, dtype="int16",
                            latency="low", callback=in_cb)
    outs = sd.RawOutputStream(samplerate=24000, blocksize=480, channels=1, dtype="int16",
                              latency="low", callback=out_cb)
    got = 0
    with ins, outs:
        c0, w0 = time.process_time(), time.perf_counter()
        end = anyio.current_time() + seconds
        while anyio.current_time() < end:
            await anyio.sleep(0.02)
            while blocks:
                got += len(blocks.popleft())
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    return {"cpu": cpu, "wall": wall, "bytes": got}


async def run_ours(seconds: float, latencies: list[float]) -> dict[str, float]:
    q = AudioQueue()
    mic = Mic(q)
    spk = Speaker()
    got = 0

    async def consumer() -> None:
        nonlocal got
        async for item in q:
            if isinstance(item, AudioChunk):
                latencies.append(time.perf_counter() - item.captured_at)
                got += len(item.data)

    async def feeder() -> None:
        pos, step = 0, 4800 * 2
        start = anyio.current_time()
        for i in range(10**9):
            await anyio.sleep_until(start + i * 0.1)
            if pos + step > len(TONE):
                pos = 0
            spk.write(TONE[pos:pos + step])
            pos += step

    async with anyio.create_task_group() as tg:
        await tg.start(mic.run)
        await tg.start(spk.run)
        tg.start_soon(consumer)
        tg.start_soon(feeder)
        c0, w0 = time.process_time(), time.perf_counter()
        await anyio.sleep(seconds)
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        tg.cancel_scope.cancel()
    st = spk.stats
    return {"cpu": cpu, "wall": wall, "bytes": got, "dropped": q.dropped,
            "underruns": st.underruns, "underflows": st.output_underflows,
            "overflows": mic.stats.input_overflows}


async def bench(pa: PulseAudio, seconds: float) -> None:
    half = seconds / 2
    totals = {"bare": [0.0, 0.0], "ours": [0.0, 0.0]}
    latencies: list[float] = []
    extra: dict[str, float] = collections.defaultdict(float)
    d0 = proc_cpu_seconds(pa.pid) if pa.pid else float("nan")
    for which in ("bare", "ours", "ours", "bare"):
        r = await run_bare(half) if which == "bare" else await run_ours(half, latencies)
        totals[which][0] += r["cpu"]
        totals[which][1] += r["wall"]
        if which == "ours":
            for k in ("dropped", "underruns", "underflows", "overflows"):
                extra[k] += r[k]
    daemon = (proc_cpu_seconds(pa.pid) - d0) if pa.pid else float("nan")
    bare = 100 * totals["bare"][0] / totals["bare"][1]
    ours = 100 * totals["ours"][0] / totals["ours"][1]
    wall_all = totals["bare"][1] + totals["ours"][1]
    print(f"full duplex, {seconds:g} s each (16 kHz in / 24 kHz out, 20 ms blocks)")
    print(f"  bare sounddevice loop : {bare:5.2f} % of one core")
    print(f"  Mic + Speaker         : {ours:5.2f} % of one core")
    print(f"  ratio ours/bare       : {ours / bare:5.2f} x  (goal <= {GOAL_RATIO} x; "
          f"absolute goal <= {GOAL_ABS_PCT} %: {'met' if ours <= GOAL_ABS_PCT else 'NOT met'})")
    print(f"  PulseAudio daemon     : {100 * daemon / wall_all:5.2f} % of one core (both runs)")
    print(f"  ours: dropped {int(extra['dropped'])}, speaker underruns {int(extra['underruns'])}, "
          f"PortAudio underflows {int(extra['underflows'])}, mic overflows {int(extra['overflows'])}")
    ms = np.asarray(latencies) * 1000
    print(f"mic block captured -> taken off the queue ({len(ms)} blocks): p50 {np.percentile(ms, 50):.3f} ms"
          f"  p99 {np.percentile(ms, 99):.3f} ms  max {ms.max():.3f} ms  "
          f"(goal p99 <= {GOAL_LAT_P99_MS:g} ms: {'met' if np.percentile(ms, 99) <= GOAL_LAT_P99_MS else 'NOT met'})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="seconds per variant (default 60)")
    args = ap.parse_args()
    with running_pulse() as pa:
        anyio.run(bench, pa, args.seconds)


if __name__ == "__main__":
    main()
