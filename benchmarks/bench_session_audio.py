"""Whole-agent audio figures: CPU of a full-duplex session, mic block -> websocket, barge-in.

    .venv/bin/python benchmarks/bench_session_audio.py [--seconds 60] [--trials 25] [--chunk-ms 40]

The real Agent runs in this process (anyio on asyncio, main thread; `--no-search`, mic and
speaker on, default devices) on a private PulseAudio daemon with virtual devices
(tests/audio_env.py), against the fake Live server (tests/fakes/live_server.py, TLS websocket on
127.0.0.1) run in a child process so its CPU is not counted. Speech (espeak-ng, looped) is fed
into vmic_feed for the whole run; the fake server streams model audio (a 24 kHz tone) at real-time
pace in `--chunk-ms` chunks, 100 ms ahead, as inlineData parts.

[1] CPU: this process's time.process_time() (every thread: the event loop, the PortAudio
    callback threads, ALSA/pulse plugin threads, worker threads) over wall time, as % of one
    core, start-up and warm-up excluded. "main thread" is time.thread_time() of the event loop
    thread; "other threads" the rest. Variants, run in the order
    bare (S/2), bare+ws (S/4), agent (S), bare+ws (S/4), bare (S/2) so drift hits them alike:
      bare     RawInputStream 16 kHz int16 mono, 320-frame (20 ms) blocks whose callback copies
               each block into a deque drained by an async task every 20 ms; RawOutputStream
               24 kHz int16 mono, 480-frame blocks whose callback copies from a tone buffer
               (as bench_audio_cpu.run_bare)
      bare+ws  the same loop, plus a plain websockets client over TLS to the same fake server:
               each mic block is sent as realtimeInput JSON with base64 audio; the model audio
               frames are json-parsed and base64-decoded into a buffer the output callback plays.
               Same websockets defaults as the SDK (permessage-deflate negotiated if offered).
               No SDK, no pydantic, no agent: the floor of "a Live client" in Python.
      agent    the whole agent, full duplex, for S seconds.
[2] Mic block captured -> sent: AudioChunk.captured_at (perf_counter at the top of the PortAudio
    input callback) -> LiveSession.send_audio returned (the SDK has handed the frame to
    websockets, which wrote it to the TLS transport), for every block sent during the CPU
    window of [1]; split at send_audio entered. Wraps the session's send_audio instance attribute.
[3] `interrupted` -> speaker silent, after [1] in the same agent session: per trial the fake
    sends 1.5 s of audio at once, waits 0.25-0.5 s (the speaker is playing), sends
    `interrupted` + turnComplete. Measured from Conversation.handle entered with the
    interrupted message (after the SDK parsed it) to the start of the first speaker callback
    that hands out silence (the Speaker's own flush_latency_ms: flush() -> next callback), plus
    the handle -> Speaker.flush() call time. Also: fake sent -> handled (CLOCK_MONOTONIC is shared
    by both processes) and the PortAudio-reported output latency after the callback.

Always exits 0; problems are printed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import json
import os
import random
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import anyio  # noqa: E402
import anyio.to_thread  # noqa: E402
import numpy as np  # noqa: E402

from agent.app import Agent, unwrap  # noqa: E402
from agent.config import Config  # noqa: E402
from agent.console import Console  # noqa: E402
from agent.events import AudioChunk  # noqa: E402
from agent.live_events import Interrupted  # noqa: E402
from benchmarks.fake_live_process import FakeServerProcess, HeldStdin  # noqa: E402
from tests.fakes.live_server import FakeConnection, FakeLiveServer  # noqa: E402

GOAL_RATIO = 1.2
GOAL_ABS_PCT = 3.0
GOAL_MIC_P99_MS = 5.0
GOAL_SILENT_MS = 20.0

IN_RATE, OUT_RATE = 16_000, 24_000
# 2 s of a 330 Hz tone at 24 kHz (a whole number of cycles, so it loops without a click)
TONE = (6000 * np.sin(2 * np.pi * 330 * np.arange(OUT_RATE * 2) / OUT_RATE)).astype("<i2").tobytes()
WS_PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
clock = time.perf_counter  # CLOCK_MONOTONIC on Linux, like time.monotonic in the fake server


# ---- statistics and /proc -------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def proc_cpu_seconds(pid: int | None) -> float:
    """utime+stime of another process (PulseAudio daemon, fake server), from /proc."""
    if not pid:
        return float("nan")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


@dataclass
class Usage:
    """CPU over one or more measurement windows."""

    cpu: float = 0.0  # this process, all threads
    main: float = 0.0  # the main (event loop) thread
    wall: float = 0.0
    daemon: float = 0.0  # PulseAudio daemon
    fake: float = 0.0  # fake server child process
    counters: dict[str, float] = field(default_factory=lambda: collections.defaultdict(float))

    def pct(self, seconds: float) -> float:
        return 100.0 * seconds / self.wall if self.wall > 0 else float("nan")


class Window:
    """process_time / thread_time / wall clock (and two other processes) over one window."""

    def __init__(self, pids: tuple[int | None, int | None]) -> None:
        self.pids = pids

    def __enter__(self) -> Window:
        self.d0, self.f0 = (proc_cpu_seconds(p) for p in self.pids)
        self.c0, self.t0, self.w0 = time.process_time(), time.thread_time(), clock()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cpu, self.main, self.wall = time.process_time() - self.c0, time.thread_time() - self.t0, clock() - self.w0
        self.daemon = proc_cpu_seconds(self.pids[0]) - self.d0
        self.fake = proc_cpu_seconds(self.pids[1]) - self.f0

    def add_to(self, u: Usage) -> None:
        u.cpu += self.cpu
        u.main += self.main
        u.wall += self.wall
        u.daemon += self.daemon
        u.fake += self.fake


# ---- the fake Live server, in a child process --------------------------------------------------


def model_frames(chunk_ms: int) -> list[str]:
    """The serverContent frames that carry TONE in `chunk_ms` pieces (one 2 s loop)."""
    step = OUT_RATE * chunk_ms // 1000 * 2
    frames = []
    for i in range(0, len(TONE) - step + 1, step):
        part = {"inlineData": {"mimeType": f"audio/pcm;rate={OUT_RATE}",
                               "data": base64.b64encode(TONE[i:i + step]).decode("ascii")}}
        frames.append(json.dumps({"serverContent": {"modelTurn": {"parts": [part]}}}))
    return frames


class Scenario:
    """Every connection is kept for the driver; the scenario itself only waits for the close."""

    def __init__(self) -> None:
        self.conns: list[FakeConnection] = []

    async def __call__(self, conn: FakeConnection) -> None:
        self.conns.append(conn)
        await conn.closed.wait()


class Driver:
    """Commands from the parent, run on the fake server's event loop."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.task: asyncio.Task[None] | None = None
        self.stats: dict[str, Any] = {}

    async def run(self, command: tuple[Any, ...]) -> Any:
        kind, args = command[0], command[1:]
        if kind == "conn_count":
            return len(self.scenario.conns)
        if kind == "wait_conn":  # (count): wait for that many connections; the newest's index
            deadline = time.monotonic() + 60
            while len(self.scenario.conns) < args[0]:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"connection {args[0]} did not arrive")
                await asyncio.sleep(0.01)
            return args[0] - 1
        if kind == "stream_start":  # (index, chunk_ms, lead_ms)
            index, chunk_ms, lead_ms = args
            conn = self.scenario.conns[index]
            self.stats = {"chunks": 0, "late_max_ms": 0.0, "received_before": len(conn.received), "index": index}
            self.task = asyncio.create_task(self._stream(conn, model_frames(chunk_ms), chunk_ms / 1000, lead_ms / 1000))
            return None
        if kind == "stream_stop":  # (turn_complete: bool)
            if self.task is not None:
                self.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self.task
                self.task = None
            conn = self.scenario.conns[self.stats["index"]]
            if args[0]:
                await conn.turn_complete()
            self.stats["received"] = len(conn.received) - self.stats.pop("received_before")
            return self.stats
        if kind == "trials":  # (index, n, burst_s, chunk_ms, seed) -> monotonic send times of `interrupted`
            return await self._trials(self.scenario.conns[args[0]], *args[1:])
        raise ValueError(f"unknown command {kind!r}")

    async def _stream(self, conn: FakeConnection, frames: list[str], chunk_s: float, lead_s: float) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        i = 0
        while True:
            delay = start + i * chunk_s - lead_s - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif i * chunk_s >= lead_s:
                self.stats["late_max_ms"] = max(self.stats["late_max_ms"], -delay * 1000)
            await conn.ws.send(frames[i % len(frames)])
            i += 1
            self.stats["chunks"] = i

    async def _trials(self, conn: FakeConnection, n: int, burst_s: float, chunk_ms: int, seed: int) -> list[float]:
        rng = random.Random(seed)
        frames = model_frames(chunk_ms)
        per_burst = max(1, round(burst_s * 1000 / chunk_ms))
        sent: list[float] = []
        for _ in range(n):
            for k in range(per_burst):  # faster than it plays, as the service does
                await conn.ws.send(frames[k % len(frames)])
            await asyncio.sleep(rng.uniform(0.25, 0.5))
            sent.append(time.monotonic())
            await conn.interrupted()
            await conn.turn_complete()
            await asyncio.sleep(0.25)
        return sent


def fake_server_process(pipe: Any) -> None:
    """Child process: the fake Live server, driven over `pipe` one command at a time."""
    scenario = Scenario()
    driver = Driver(scenario)
    with FakeLiveServer(scenario) as server:
        pipe.send(server.env())
        assert server._loop is not None
        while True:
            try:
                command = pipe.recv()
            except EOFError:
                break
            if command[0] == "stop":
                break
            try:
                result = asyncio.run_coroutine_threadsafe(driver.run(command), server._loop).result(timeout=600)
                pipe.send(("ok", result))
            except Exception as e:  # noqa: BLE001 - reported to the parent
                pipe.send(("error", f"{type(e).__name__}: {e}"))
    with contextlib.suppress(OSError):  # the parent may be gone
        pipe.send(("stopped", [repr(e) for e in server.errors]))


# ---- the mic feed --------------------------------------------------------------------------------


def speech_loop(seconds: float, workdir: Path) -> tuple[bytes, str]:
    """16 kHz PCM16 mono speech (espeak-ng, 0.4 s pauses) looped to `seconds`; a tone without it."""
    n = int(seconds * IN_RATE)
    if shutil.which("espeak-ng"):
        from agent.media.wavfile import read_wav_16k_mono

        wav = workdir / "speech.wav"
        subprocess.run(["espeak-ng", "-w", str(wav), "Turn on the kitchen lights and tell me the weather in Paris, "
                        "then read me the news while I make some coffee"], check=True, capture_output=True)
        one = np.frombuffer(read_wav_16k_mono(wav), "<i2")
        one = np.concatenate([one, np.zeros(int(0.4 * IN_RATE), "<i2")])
        what = "espeak-ng speech, looped"
    else:
        t = np.arange(IN_RATE) / IN_RATE
        one = (4000 * np.sin(2 * np.pi * 220 * t)).astype("<i2")
        what = "220 Hz tone (espeak-ng not installed)"
    reps = -(-n // len(one))
    return np.tile(one, reps)[:n].astype("<i2").tobytes(), what


# ---- bare loops ----------------------------------------------------------------------------------


class WsEcho:
    """A plain TLS websocket Live client: base64+JSON both ways, nothing else."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.ws: Any = None
        self.out = bytearray()
        self.lock = threading.Lock()
        self.sent = 0
        self.received = 0
        self.deflate = False

    async def connect(self) -> None:
        from websockets.asyncio.client import connect

        ctx = ssl.create_default_context(cafile=self.env["SSL_CERT_FILE"])
        url = self.env["GOOGLE_GEMINI_BASE_URL"].replace("https://", "wss://") + WS_PATH
        # The SDK calls connect(uri, additional_headers=..., ssl=...): the same websockets defaults.
        self.ws = await connect(url, ssl=ctx, additional_headers={"x-goog-api-key": self.env["GOOGLE_API_KEY"]})
        self.deflate = any("Deflate" in type(x).__name__ for x in self.ws.protocol.extensions)
        # A test-* model: the fake accepts any setup for it, as this bare client sends the minimal one.
        await self.ws.send(json.dumps({"setup": {"model": "models/test-bench"}}))
        first = json.loads(await self.ws.recv())
        if "setupComplete" not in first:
            raise RuntimeError(f"no setupComplete: {first}")

    async def send_block(self, block: bytes) -> None:
        data = base64.b64encode(block).decode("ascii")
        await self.ws.send(json.dumps({"realtimeInput": {"audio": {"data": data, "mimeType": f"audio/pcm;rate={IN_RATE}"}}}))
        self.sent += 1

    async def receive(self) -> None:
        async for raw in self.ws:
            msg = json.loads(raw)
            for part in msg.get("serverContent", {}).get("modelTurn", {}).get("parts", []):
                inline = part.get("inlineData")
                if inline:
                    pcm = base64.b64decode(inline["data"])
                    with self.lock:
                        self.out += pcm
                    self.received += 1

    def read_into(self, outdata: Any, frames: int) -> bool:
        n = frames * 2
        with self.lock:
            k = min(n, len(self.out))
            outdata[:k] = self.out[:k]
            del self.out[:k]
        if k < n:
            outdata[k:n] = bytes(n - k)
        return k == n

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


async def run_bare(seconds: float, pids: tuple[int | None, int | None], usage: Usage,
                   ws: WsEcho | None = None, warmup: float = 1.0) -> None:
    """The bare device loop (bench_audio_cpu.run_bare), optionally with the websocket echo."""
    from agent.media.devices import import_sounddevice

    sd = import_sounddevice()
    blocks: collections.deque[bytes] = collections.deque()
    pos = 0
    short = 0
    flags = 0

    def in_cb(indata, frames, t, status) -> None:  # noqa: ANN001
        nonlocal flags
        if status:
            flags += 1
        blocks.append(bytes(indata))

    def out_cb(outdata, frames, t, status) -> None:  # noqa: ANN001
        nonlocal pos, short, flags
        if status:
            flags += 1
        if ws is not None:
            if not ws.read_into(outdata, frames):
                short += 1
            return
        n = frames * 2
        if pos + n > len(TONE):
            pos = 0
        outdata[:] = TONE[pos:pos + n]
        pos += n

    ins = sd.RawInputStream(samplerate=IN_RATE, blocksize=320, channels=1, dtype="int16",
                            latency="low", callback=in_cb)
    outs = sd.RawOutputStream(samplerate=OUT_RATE, blocksize=480, channels=1, dtype="int16",
                              latency="low", callback=out_cb)
    got = 0
    async with anyio.create_task_group() as tg:
        if ws is not None:
            tg.start_soon(ws.receive)
        with ins, outs:
            async def loop(until: float) -> None:
                nonlocal got
                while anyio.current_time() < until:
                    await anyio.sleep(0.02)
                    while blocks:
                        block = blocks.popleft()
                        got += len(block)
                        if ws is not None:
                            await ws.send_block(block)

            await loop(anyio.current_time() + warmup)
            flags0, short0, got0 = flags, short, got
            with Window(pids) as w:
                await loop(anyio.current_time() + seconds)
        w.add_to(usage)
        usage.counters["mic bytes"] += got - got0
        usage.counters["status flags"] += flags - flags0
        if ws is not None:
            usage.counters["output blocks short of audio"] += short - short0
        tg.cancel_scope.cancel()


async def run_bare_ws(seconds: float, pids: tuple[int | None, int | None], usage: Usage, fake: FakeServerProcess,
                      env: dict[str, str], opts: argparse.Namespace) -> WsEcho:
    ws = WsEcho(env)
    before = await fake.call("conn_count")
    await ws.connect()
    index = await fake.call("wait_conn", before + 1)
    await fake.call("stream_start", index, opts.chunk_ms, 100)
    try:
        await run_bare(seconds, pids, usage, ws=ws)
    finally:
        stats = await fake.call("stream_stop", False)
        await ws.close()
    usage.counters["fake: model chunks sent"] += stats["chunks"]
    usage.counters["fake: late max ms"] = max(usage.counters["fake: late max ms"], stats["late_max_ms"])
    return ws


# ---- the whole agent -----------------------------------------------------------------------------


@dataclass
class Interrupt:
    handled: float  # Conversation.handle entered with the interrupted message
    index: int  # its entry in the speaker's JitterBuffer.flush_waits
    buffered_ms: float  # audio queued in the speaker when it came
    flush_at: float = float("nan")  # Speaker.flush() called


class Probe:
    """Timestamps at the agent's edges, set on instance attributes (no agent code changed)."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.recording = False
        self.to_entered: list[float] = []  # captured -> send_audio entered
        self.to_sent: list[float] = []  # captured -> send_audio returned
        self.interrupts: list[Interrupt] = []
        handle = agent.conversation.on_event

        def timed_handle(event: Any) -> None:
            if isinstance(event, Interrupted) and agent.speaker is not None:
                spk = agent.speaker
                now = clock()
                jb = spk._jb
                self.interrupts.append(Interrupt(now, len(jb.flush_waits), jb.buffered * 1000.0 / spk._rate))
            handle(event)

        # The app looks the listener up per event.
        agent.conversation.on_event = timed_handle  # type: ignore[method-assign]

    def wrap_session(self, session: Any) -> None:
        send_audio = session.send_audio

        async def timed_send_audio(chunk: AudioChunk) -> None:
            entered = clock()
            await send_audio(chunk)
            if self.recording:
                done = clock()
                self.to_entered.append(entered - chunk.captured_at)
                self.to_sent.append(done - chunk.captured_at)

        session.send_audio = timed_send_audio  # Agent._send_audio looks it up per chunk

    def wrap_speaker(self, speaker: Any) -> None:
        flush = speaker.flush

        def timed_flush() -> None:
            if self.interrupts and self.interrupts[-1].flush_at != self.interrupts[-1].flush_at:  # NaN: not yet
                self.interrupts[-1].flush_at = clock()
            flush()

        speaker.flush = timed_flush  # Conversation calls sink.flush() on the instance


@dataclass
class AgentResult:
    usage: Usage = field(default_factory=Usage)
    probe: Probe | None = None
    sent: list[float] = field(default_factory=list)  # fake: monotonic time `interrupted` was sent
    flush_waits: list[float] = field(default_factory=list)
    dac_latency_ms: float = float("nan")
    pa_latency_ms: tuple[float, float] = (float("nan"), float("nan"))
    deflate: bool | None = None
    status: list[int] = field(default_factory=list)


async def run_agent(opts: argparse.Namespace, pids: tuple[int | None, int | None], fake: FakeServerProcess,
                    result: AgentResult, errors: list[str]) -> None:
    devnull = open(os.devnull, "w")  # noqa: SIM115 - real file writes, as a console costs
    stdin = HeldStdin()
    # Echo cancellation off: the bare loop it is compared with has none (bench_echo.py measures it).
    config = Config(search=False, audio_input=True, audio_output=True, echo_cancellation=False, local_barge_in=False)
    agent = Agent(config, stdin=stdin, console=Console(devnull, devnull))
    probe = result.probe = Probe(agent)
    u = result.usage
    before_conns = await fake.call("conn_count")
    try:
        async with anyio.create_task_group() as tg:
            async def run() -> None:
                result.status.append(await agent.run())

            tg.start_soon(run)
            with anyio.fail_after(90):
                while agent.session is None:
                    await anyio.sleep(0.001)
                probe.wrap_session(agent.session)
                while (agent.mic is None or agent.mic._stream is None or agent.speaker is None
                       or not agent.speaker._running or agent.session._session is None):
                    await anyio.sleep(0.01)
            probe.wrap_speaker(agent.speaker)
            spk, mic, queue = agent.speaker, agent.mic, agent.audio_queue
            ws = getattr(agent.session._session, "_ws", None)
            if ws is not None:
                result.deflate = any("Deflate" in type(x).__name__ for x in ws.protocol.extensions)
            result.pa_latency_ms = (mic.stats.latency_ms, spk.stats.latency_ms)
            index = await fake.call("wait_conn", before_conns + 1)
            await fake.call("stream_start", index, opts.chunk_ms, 100)
            await anyio.sleep(opts.warmup)

            before = (spk.stats, queue.dropped, mic.stats.input_overflows, mic.stats.sent, mic.stats.status_flags)
            probe.recording = True
            with Window(pids) as w:
                await anyio.sleep(opts.seconds)
            probe.recording = False
            w.add_to(u)
            after = (spk.stats, queue.dropped, mic.stats.input_overflows, mic.stats.sent, mic.stats.status_flags)
            stats = await fake.call("stream_stop", True)
            u.counters["mic blocks queued"] = after[3] - before[3]
            u.counters["audio queue dropped"] = after[1] - before[1]
            u.counters["mic overflows"] = after[2] - before[2]
            u.counters["status flags"] = after[0].status_flags - before[0].status_flags + after[4] - before[4]
            u.counters["speaker underruns"] = after[0].underruns - before[0].underruns
            u.counters["speaker PortAudio underflows"] = after[0].output_underflows - before[0].output_underflows
            u.counters["fake: model chunks sent"] = stats["chunks"]
            u.counters["fake: late max ms"] = stats["late_max_ms"]

            await anyio.sleep(0.6)  # the speaker plays out the lead
            result.sent = await fake.call("trials", index, opts.trials, 1.5, opts.chunk_ms, 1)
            with anyio.move_on_after(2):
                while len(spk._jb.flush_waits) < len(probe.interrupts):
                    await anyio.sleep(0.01)
            result.flush_waits = list(spk._jb.flush_waits)
            result.dac_latency_ms = spk.stats.dac_latency_ms
            tg.cancel_scope.cancel()
    finally:
        stdin.release()
        devnull.close()
    if len(result.flush_waits) >= 1000:
        errors.append("the speaker's flush_waits deque is full: trial indices may be off")


# ---- report --------------------------------------------------------------------------------------


def print_report(opts: argparse.Namespace, bare: Usage, bws: Usage, ag: AgentResult, ws_deflate: bool | None,
                 feed: str, load0: tuple[float, ...]) -> None:
    a = ag.usage
    print(f"\n[1] CPU, % of one core (this process; start-up and {opts.warmup:g} s warm-up excluded)")
    print(f"  {'variant':<44} {'s':>5} {'total':>6} {'main':>6} {'other':>6}   {'pulse':>6} {'fake srv':>8}")
    for label, u in (("bare sounddevice loop", bare),
                     ("bare + TLS websocket, base64+JSON both ways", bws),
                     ("whole agent, full duplex", a)):
        if u.wall <= 0:
            continue
        print(f"  {label:<44} {u.wall:5.1f} {u.pct(u.cpu):6.2f} {u.pct(u.main):6.2f} {u.pct(u.cpu - u.main):6.2f}"
              f"   {u.pct(u.daemon):6.2f} {u.pct(u.fake):8.2f}")
    print("  (main = the event-loop thread; other = PortAudio callbacks, ALSA/pulse plugin threads, workers;"
          " pulse daemon and fake server (child) are other processes, shown for context, not counted)")
    b, x, s = bare.pct(bare.cpu), bws.pct(bws.cpu), a.pct(a.cpu)
    if bare.wall > 0 and a.wall > 0:
        print(f"  ratio agent/bare: {s / b:.2f} x;  agent - bare = {s - b:+.2f} points of a core, of which")
        if bws.wall > 0:
            print(f"    plain websocket work (bare+ws - bare): {x - b:+.2f}   [TLS, websocket framing"
                  f"{' + permessage-deflate' if ws_deflate else ''}, base64, JSON; 50 frames/s out, "
                  f"{1000 / opts.chunk_ms:.0f} frames/s in]")
            print(f"    the rest (agent - bare+ws):            {s - x:+.2f}   [SDK pydantic validate/convert/model_dump per "
                  "frame both ways, agent queue/session/conversation/speaker, timers]")
    print(f"  permessage-deflate negotiated: agent {ag.deflate}, plain ws {ws_deflate}")
    c = a.counters
    print(f"  agent window: mic blocks queued {int(c['mic blocks queued'])}, model chunks streamed "
          f"{int(c['fake: model chunks sent'])} ({opts.chunk_ms} ms, incl. warm-up), queue dropped {int(c['audio queue dropped'])}, "
          f"speaker underruns {int(c['speaker underruns'])}, PortAudio underflows {int(c['speaker PortAudio underflows'])}, "
          f"mic overflows {int(c['mic overflows'])}, status flags {int(c['status flags'])}; "
          f"fake pacing late max {c['fake: late max ms']:.1f} ms")
    print(f"  bare: status flags {int(bare.counters['status flags'])};  bare+ws: status flags "
          f"{int(bws.counters['status flags'])}, output blocks short of audio "
          f"{int(bws.counters['output blocks short of audio'])}")
    print(f"  mic feed: {feed}; model audio: 24 kHz tone in {opts.chunk_ms} ms inlineData chunks, real-time pace, 100 ms ahead")

    p = ag.probe
    sent_ms = [v * 1000 for v in (p.to_sent if p else [])]
    entered_ms = [v * 1000 for v in (p.to_entered if p else [])]
    call_ms = [(s2 - e2) * 1000 for s2, e2 in zip(p.to_sent, p.to_entered, strict=True)] if p else []
    print(f"\n[2] mic block captured -> sent on the websocket, {len(sent_ms)} blocks in the CPU window "
          f"(device-side input latency before captured_at not included; PortAudio reports {ag.pa_latency_ms[0]:.1f} ms)")
    print(f"  {'':<48} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}  ms")
    for label, v in (("captured -> send_audio returned", sent_ms),
                     ("  captured -> send_audio entered (queue hop)", entered_ms),
                     ("  send_audio call (SDK + websocket + TLS write)", call_ms)):
        print(f"  {label:<48} {pct(v, 50):7.3f} {pct(v, 95):7.3f} {pct(v, 99):7.3f} {max(v, default=float('nan')):7.3f}")

    rows = interrupt_rows(ag)
    print(f"\n[3] interrupted -> speaker silent, {len(rows['total'])} trials (1.5 s burst, interrupted 0.25-0.5 s into it)")
    print(f"  {'':<56} {'p50':>7} {'p95':>7} {'max':>7}  ms")
    for label, key in (("handle(interrupted) -> first silent callback starts", "total"),
                       ("  handle -> Speaker.flush() called", "to_flush"),
                       ("  flush -> next callback (Speaker flush_latency_ms)", "wait"),
                       ("fake sent interrupted -> handle (ws hop + SDK parse)", "inbound"),
                       ("fake sent interrupted -> first silent callback", "e2e")):
        v = rows[key]
        if v:
            print(f"  {label:<56} {pct(v, 50):7.3f} {pct(v, 95):7.3f} {max(v):7.3f}")
    if rows["buffered"]:
        print(f"  audio queued in the speaker when interrupted: {min(rows['buffered']):.0f}-{max(rows['buffered']):.0f} ms "
              f"(discarded); then PortAudio-reported output latency to the DAC {ag.dac_latency_ms:.1f} ms "
              f"(reported stream latency {ag.pa_latency_ms[1]:.1f} ms), not included")

    print("\nsummary")
    print(f"  {'figure':<52} {'value':>14} {'goal':>10}  result")
    ratio = s / b if bare.wall > 0 and a.wall > 0 else float("nan")
    mic99 = pct(sent_ms, 99)
    sil95, silmax = pct(rows["total"], 95), max(rows["total"], default=float("nan"))
    for label, value, goal, ok in (
        ("agent CPU / bare loop CPU", f"{ratio:.2f} x", f"<= {GOAL_RATIO} x", ratio <= GOAL_RATIO),
        ("agent CPU, % of one core", f"{s:.2f} %", f"<= {GOAL_ABS_PCT:g} %", s <= GOAL_ABS_PCT),
        ("mic captured -> sent on websocket, p99", f"{mic99:.2f} ms", f"<= {GOAL_MIC_P99_MS:g} ms", mic99 <= GOAL_MIC_P99_MS),
        ("interrupted handled -> speaker silent, p95 (max)", f"{sil95:.1f} ({silmax:.1f}) ms", f"<= {GOAL_SILENT_MS:g} ms",
         sil95 <= GOAL_SILENT_MS),
    ):
        print(f"  {label:<52} {value:>14} {goal:>10}  {'met' if ok else 'NOT met'}")
    load1 = os.getloadavg()
    print(f"  load average: start {' '.join(f'{v:.2f}' for v in load0)}, end {' '.join(f'{v:.2f}' for v in load1)}"
          f" ({os.cpu_count()} cores)")


def interrupt_rows(ag: AgentResult) -> dict[str, list[float]]:
    rows: dict[str, list[float]] = {k: [] for k in ("total", "to_flush", "wait", "inbound", "e2e", "buffered")}
    p = ag.probe
    if p is None:
        return rows
    same_clock = time.get_clock_info("monotonic").implementation == time.get_clock_info("perf_counter").implementation
    for i, it in enumerate(p.interrupts):
        if it.index >= len(ag.flush_waits) or it.flush_at != it.flush_at:
            continue
        wait = ag.flush_waits[it.index]
        rows["total"].append((it.flush_at - it.handled + wait) * 1000)
        rows["to_flush"].append((it.flush_at - it.handled) * 1000)
        rows["wait"].append(wait * 1000)
        rows["buffered"].append(it.buffered_ms)
        if same_clock and i < len(ag.sent):
            rows["inbound"].append((it.handled - ag.sent[i]) * 1000)
            rows["e2e"].append((it.flush_at + wait - ag.sent[i]) * 1000)
    return rows


# ---- main ----------------------------------------------------------------------------------------


async def bench(opts: argparse.Namespace, errors: list[str]) -> None:
    from tests.audio_env import running_pulse

    load0 = os.getloadavg()
    print(f"session audio: {opts.seconds:g} s agent / bare, {opts.seconds / 2:g} s bare+ws; "
          f"{os.cpu_count()} cores, load average {' '.join(f'{v:.2f}' for v in load0)}")
    state = tempfile.TemporaryDirectory(prefix="bench-session-audio-")
    os.environ["XDG_STATE_HOME"] = state.name
    os.environ["XDG_CONFIG_HOME"] = state.name
    fake = FakeServerProcess(fake_server_process)
    bare, bws, ag = Usage(), Usage(), AgentResult()
    ws_deflate: bool | None = None
    feed_proc = None
    feed_what = ""
    started = time.perf_counter()
    try:
        env = fake.env()
        os.environ.update(env)
        with running_pulse() as pa:
            pids = (pa.pid, fake.proc.pid)
            total = 2.5 * opts.seconds + opts.trials * 1.0 + 60 + 2 * opts.warmup
            pcm, feed_what = speech_loop(total, Path(pa.root))
            feed_proc = pa.feed(pcm)
            await anyio.sleep(0.5)
            half, quarter = opts.seconds / 2, opts.seconds / 4
            try:
                await run_bare(half, pids, bare)
                ws_deflate = (await run_bare_ws(quarter, pids, bws, fake, env, opts)).deflate
                try:
                    await run_agent(opts, pids, fake, ag, errors)
                except Exception as e:  # noqa: BLE001 - carry on with the baselines
                    leaf = unwrap(e) if isinstance(e, BaseExceptionGroup) else e
                    errors.append(f"agent: {type(leaf).__name__}: {leaf}")
                await run_bare_ws(quarter, pids, bws, fake, env, opts)
                await run_bare(half, pids, bare)
            finally:
                if feed_proc.poll() is None:
                    feed_proc.terminate()
                    feed_proc.wait(5)
    except Exception as e:  # noqa: BLE001 - the benchmark always exits 0
        leaf = unwrap(e) if isinstance(e, BaseExceptionGroup) else e
        errors.append(f"{type(leaf).__name__}: {leaf}")
    finally:
        errors += [f"fake Live server: {e}" for e in fake.stop()]
        state.cleanup()
    if ag.status and ag.status[0] != 0:
        errors.append(f"the agent exited with status {ag.status[0]}")
    print_report(opts, bare, bws, ag, ws_deflate, feed_what, load0)
    print(f"  took {time.perf_counter() - started:.0f} s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0,
                    help="CPU window of the agent and of the bare loop (default 60; the bare+ws row gets half)")
    ap.add_argument("--trials", type=int, default=25, help="barge-in trials (default 25)")
    ap.add_argument("--chunk-ms", type=int, default=40, help="model audio chunk length, 20-100 ms (default 40)")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds of streaming before the agent's window")
    opts = ap.parse_args()
    errors: list[str] = []
    anyio.run(bench, opts, errors, backend="asyncio")
    for e in errors:
        print(f"problem: {e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
