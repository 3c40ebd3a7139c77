"""Bridge overhead: toolCall received by the agent -> toolResponse sent, against a raw MCP call.

    .venv/bin/python benchmarks/bench_bridge_overhead.py [--iterations 300] [--warmup 30]
        [--round 50] [--server basic|raw|both] [--no-memory]

[A] The real Agent runs in this process (anyio on asyncio, main thread) against the fake Live
server (tests/fakes/live_server.py: TLS websocket on 127.0.0.1), run in a child process so the two
do not share a GIL, with one stdio MCP test server. The fake server sends toolCalls of the
server's `echo` tool one at a time; the agent answers through its router. In the same run, and
interleaved round by round with those, the same `echo` with the same arguments is called
directly on the same server process and the same connection the agent holds:

  raw call_tool   mcp's ClientSession.call_tool (JSON-RPC over the stdio pipes, the server's
                  work, mcp's typed result parsing and output-schema check) - the baseline
  McpServer.call  the agent's backend call the router awaits (raw JSON-RPC request + formatting)
  bridge          Conversation.handle entered with the parsed toolCall (so after the SDK's
                  frame parsing) -> the agent's respond() entered with the result (so before the
                  SDK serialises and sends it): FunctionCall building, Router.submit, the call's
                  task, lookup, argument restore + validation, McpServer.call, the observer
                  (console line, metrics), the hop to the sender task
  CallReport      the router observer's CallReport.duration (inside the call's task only)
  end-to-end      timed inside the fake server: toolCall frame handed to websockets -> the
                  toolResponse frame parsed by the fake (two websocket hops over TLS, the SDK's
                  parse and serialisation, the bridge)
  ws ping RTT     websocket ping -> pong, answered by the client's websockets layer on the
                  agent's loop: the two hops alone, without the SDK or the agent
  bridge split    handle -> the call's task runs (observer.call_started); the call's task
                  (call_started -> call_finished); result -> respond() (the sender task's hop)
  inbound/outbound the two halves of end-to-end outside the bridge (CLOCK_MONOTONIC is the same
                  in both processes): fake sends -> Conversation.handle, respond() -> fake parsed it

extra = bridge p50 - raw call_tool p50 (goal <= 1 ms).

[B] (unless --no-memory) The Router alone with an in-process MCP server over mcp's memory
transport: Router.submit -> respond entered, against ClientSession.call_tool and McpServer.call on
that same connection. No pipes, no websocket: the router's own cost with the least noise.

The agent-side stamps wrap Conversation.handle, Agent._respond and the router observer's two
callbacks (a clock read each). On a busy machine the p95s mostly measure the other processes.
Always exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import anyio  # noqa: E402
import anyio.to_thread  # noqa: E402

from agent.app import Agent, unwrap  # noqa: E402
from agent.config import Config, McpServerConfig  # noqa: E402
from agent.console import Console  # noqa: E402
from agent.events import FunctionCall, FunctionResult  # noqa: E402
from agent.live_events import ToolCall  # noqa: E402
from agent.metrics import Metrics  # noqa: E402
from agent.record import Recorder  # noqa: E402
from agent.tools.catalog import build_catalog  # noqa: E402
from agent.tools.mcp import McpServer  # noqa: E402
from agent.tools.router import Router  # noqa: E402
from agent.tools.toolset import ToolActivity, mcp_source  # noqa: E402
from benchmarks.fake_live_process import FakeServerProcess, HeldStdin  # noqa: E402
from tests.fakes.live_server import FakeConnection, FakeLiveServer  # noqa: E402
from tests.fakes.mcp_servers import build_server, in_memory, raw_stdio_command, stdio_command  # noqa: E402

GOAL_MS = 1.0
TOOL = "echo"
ARGS = {"text": "the quick brown fox jumps over the lazy dog"}
clock = time.monotonic  # the fake server stamps ClientMessage.at with this clock too


# ---- statistics -----------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    """q-th percentile (linear interpolation), in the values' unit."""
    if not values:
        return float("nan")
    if len(values) == 1 or q == 50:
        return statistics.median(values)
    return statistics.quantiles(values, n=100, method="inclusive")[min(98, max(0, round(q) - 1))]


def ms(seconds: list[float]) -> list[float]:
    return [s * 1000 for s in seconds]


def row(label: str, values_s: list[float], note: str) -> None:
    v = ms(values_s)
    print(f"  {label:<30} {pct(v, 50):>8.3f} {pct(v, 95):>8.3f} {len(v):>5}   {note}")


def header() -> None:
    print(f"  {'measurement':<30} {'p50 ms':>8} {'p95 ms':>8} {'n':>5}   includes")


def verdict(label: str, extra_ms: float, base_ms: float) -> None:
    ok = "met" if extra_ms <= GOAL_MS else "NOT met"
    ratio = (base_ms + extra_ms) / base_ms if base_ms > 0 else float("nan")
    print(f"  {label}: {extra_ms:+.3f} ms at p50 (ratio {ratio:.2f}x; goal <= +{GOAL_MS:g} ms: {ok})")


# ---- [A] the whole agent against the fake Live server -----------------------------------------


@dataclass
class AgentStamps:
    handled: dict[str, float] = field(default_factory=dict)  # Conversation.handle entered
    respond_in: dict[str, float] = field(default_factory=dict)  # Agent._respond entered
    respond_out: dict[str, float] = field(default_factory=dict)  # SDK send returned
    started: dict[str, float] = field(default_factory=dict)  # observer.call_started entered
    finished: dict[str, float] = field(default_factory=dict)  # observer.call_finished entered


def watch_observer(observer: Any, stamps: AgentStamps) -> None:
    """Stamp the router observer's two callbacks (the router looks them up on each call)."""
    started, finished = observer.call_started, observer.call_finished

    def call_started(call: FunctionCall, entry: Any) -> None:
        stamps.started[call.id] = clock()
        started(call, entry)

    def call_finished(report: Any) -> None:
        stamps.finished[report.call.id] = clock()
        finished(report)

    observer.call_started = call_started
    observer.call_finished = call_finished


@dataclass
class WireStamps:
    sent: dict[str, float] = field(default_factory=dict)  # fake: before the toolCall send
    received: dict[str, float] = field(default_factory=dict)  # fake: toolResponse parsed
    rtt: list[float] = field(default_factory=list)


def instrument(agent: Agent, stamps: AgentStamps) -> None:
    """Timestamps at the agent's two edges; set before run() so _start binds them."""
    handle = agent.conversation.on_event

    def timed_handle(event: Any) -> None:
        now = clock()
        if isinstance(event, ToolCall):
            for c in event.calls:
                stamps.handled[c.id] = now
        handle(event)

    respond = agent._respond

    async def timed_respond(results: list[FunctionResult]) -> None:
        now = clock()
        for r in results:
            stamps.respond_in[r.id] = now
        await respond(results)
        done = clock()
        for r in results:
            stamps.respond_out[r.id] = done

    agent.conversation.on_event = timed_handle  # type: ignore[method-assign]
    agent._respond = timed_respond  # type: ignore[method-assign]


class Scenario:
    """Fake-server side (in the child process): hands the connection over, then runs commands."""

    def __init__(self) -> None:
        self.conn: Future[FakeConnection] = Future()

    async def __call__(self, conn: FakeConnection) -> None:
        self.conn.set_result(conn)
        await conn.closed.wait()

    async def run(self, conn: FakeConnection, command: tuple[Any, ...]) -> Any:
        kind = command[0]
        if kind == "calls":
            return await self.tool_calls(conn, command[1], command[2])
        if kind == "pings":
            return await self.pings(conn, command[1])
        if kind == "finish":
            await conn.turn_complete()
            return None
        raise ValueError(f"unknown command {kind!r}")

    async def tool_calls(self, conn: FakeConnection, name: str, ids: list[str]) -> WireStamps:
        wire = WireStamps()
        for call_id in ids:
            wire.sent[call_id] = clock()
            await conn.send_tool_call({"id": call_id, "name": name, "args": ARGS})
            msg = await conn.expect("tool_response", timeout=30)
            for r in msg.function_responses:
                if "output" not in r.get("response", {}):
                    raise RuntimeError(f"tool call {r.get('id')} failed: {r}")
                wire.received[r["id"]] = msg.at
            if call_id not in wire.received:
                raise RuntimeError(f"no answer for {call_id}")
        return wire

    async def pings(self, conn: FakeConnection, n: int) -> WireStamps:
        wire = WireStamps()
        for _ in range(n):
            t0 = clock()
            waiter = await conn.ws.ping()
            await waiter
            wire.rtt.append(clock() - t0)
        return wire


def fake_server_process(pipe: Any) -> None:
    """Child process: the fake Live server, driven over `pipe` one command at a time."""
    scenario = Scenario()
    with FakeLiveServer(scenario) as server:
        pipe.send(server.env())
        conn = None
        while conn is None:
            try:
                conn = scenario.conn.result(timeout=0.05)
            except TimeoutError:
                if pipe.poll() and pipe.recv()[0] == "stop":  # the agent failed before connecting
                    pipe.send(("stopped", [repr(e) for e in server.errors]))
                    return
        assert server._loop is not None
        while True:
            command = pipe.recv()
            if command[0] == "stop":
                break
            try:
                result = asyncio.run_coroutine_threadsafe(scenario.run(conn, command), server._loop).result(timeout=120)
                pipe.send(("ok", result))
            except Exception as e:  # noqa: BLE001 - reported to the parent
                pipe.send(("error", f"{type(e).__name__}: {e}"))
        with contextlib.suppress(Exception):  # the agent may leave without closing
            asyncio.run_coroutine_threadsafe(conn.wait_closed(5), server._loop).result(timeout=10)
    pipe.send(("stopped", [repr(e) for e in server.errors]))


def split_rows(stamps: AgentStamps, ids: list[str], origin: str) -> None:
    start = stamps.handled
    row(f"  {origin} -> call task runs", [stamps.started[i] - start[i] for i in ids], "submit, task spawn, first scheduling (up to observer.call_started)")
    row("  call task", [stamps.finished[i] - stamps.started[i] for i in ids], "call_started -> call_finished: lookup, validation, McpServer.call, queueing the result")
    row("  result -> respond()", [stamps.respond_in[i] - stamps.finished[i] for i in ids], "observer call_finished (console line, metrics) + hop to the sender task")


async def timed_calls(fn: Callable[[], Awaitable[Any]], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = clock()
        await fn()
        out.append(clock() - t0)
    return out


async def agent_section(label: str, command: tuple[str, list[str]], opts: argparse.Namespace, errors: list[str]) -> None:
    stamps = AgentStamps()
    wire = WireStamps()
    devnull = open(os.devnull, "w")  # noqa: SIM115 - real file writes, as a console costs
    state = tempfile.TemporaryDirectory(prefix="bench-bridge-")
    fake = FakeServerProcess(fake_server_process)
    status: list[int] = []
    raw: list[float] = []
    backend: list[float] = []
    try:
        os.environ.update(fake.env())
        os.environ["XDG_STATE_HOME"] = state.name
        os.environ["XDG_CONFIG_HOME"] = state.name
        cfg = McpServerConfig(name="bench", command=command[0], args=command[1], startup_timeout=60, required=True)
        config = Config(audio_input=False, audio_output=False, text_output=True, search=False, mcp_servers={"bench": cfg})
        stdin = HeldStdin()
        agent = Agent(config, stdin=stdin, console=Console(devnull, devnull))
        instrument(agent, stamps)

        async def run_agent() -> None:
            status.append(await agent.run())

        async with anyio.create_task_group() as tg:
            tg.start_soon(run_agent)
            with anyio.fail_after(90):
                while agent.session is None or agent.session._session is None or agent.router is None:
                    await anyio.sleep(0.005)
            watch_observer(agent.tool_activity, stamps)
            entry = next(e for e in agent.router._catalog if e.source == "bench" and e.name == TOOL)
            mcp_server: McpServer = entry.backend  # type: ignore[assignment]
            session = mcp_server._conn.session  # type: ignore[union-attr]

            async def raw_call() -> None:
                result = await session.call_tool(TOOL, ARGS)
                if result.is_error:
                    raise RuntimeError(f"raw call_tool failed: {result}")

            async def backend_call() -> None:
                result = await mcp_server.call(TOOL, ARGS)
                if "error" in result:
                    raise RuntimeError(f"McpServer.call failed: {result}")

            # warm-up: every path (mcp lists tools on its first call_tool, to check results)
            await timed_calls(raw_call, opts.warmup)
            await timed_calls(backend_call, opts.warmup)
            await fake.call("pings", opts.warmup)
            await fake.call("calls", entry.declared_name, [f"w{i}" for i in range(opts.warmup)])
            warm_reports = len(agent.metrics.tool_latency.get("bench", []))

            done = 0
            while done < opts.iterations:
                n = min(opts.round, opts.iterations - done)
                wire.rtt += (await fake.call("pings", n)).rtt
                raw += await timed_calls(raw_call, n)
                backend += await timed_calls(backend_call, n)
                got = await fake.call("calls", entry.declared_name, [f"c{done + i}" for i in range(n)])
                wire.sent.update(got.sent)
                wire.received.update(got.received)
                done += n

            await fake.call("finish")
            stdin.release()  # stdin at EOF and the turn complete: the agent exits on its own
            with anyio.move_on_after(15) as timeout:
                while not status:
                    await anyio.sleep(0.01)
            if timeout.cancel_called:
                errors.append(f"{label}: the agent did not exit within 15 s after its input closed")
                tg.cancel_scope.cancel()
    finally:
        errors += [f"fake Live server: {e}" for e in fake.stop()]
        devnull.close()
        state.cleanup()
    if status and status[0] != 0:
        errors.append(f"{label}: the agent exited with status {status[0]}")

    ids = list(wire.sent)
    bridge = [stamps.respond_in[i] - stamps.handled[i] for i in ids]
    e2e = [wire.received[i] - wire.sent[i] for i in ids]
    inbound = [stamps.handled[i] - wire.sent[i] for i in ids]
    outbound = [wire.received[i] - stamps.respond_in[i] for i in ids]
    send_call = [stamps.respond_out[i] - stamps.respond_in[i] for i in ids]
    reports = agent.metrics.tool_latency.get("bench", [])[warm_reports:]

    print(f"\n[A] whole agent in-process, fake Live server in a child process; MCP stdio server: {label}")
    header()
    row("raw call_tool (baseline)", raw, "ClientSession.call_tool on the agent's own connection to the server")
    row("McpServer.call", backend, "the agent's backend: raw JSON-RPC tools/call + result formatting")
    row("router CallReport.duration", reports, "inside the call's task: lookup, restore, validate, McpServer.call")
    row("bridge: handle -> respond", bridge, "toolCall parsed by SDK -> agent respond() entered (router, backend, observer, sender hop)")
    split_rows(stamps, ids, "handle")
    row("end-to-end over websocket", e2e, "fake: toolCall sent -> toolResponse parsed (2 TLS ws hops + SDK + bridge)")
    row("ws ping RTT", wire.rtt, "fake: ping -> pong (2 TLS ws hops, no SDK, no agent)")
    row("inbound", inbound, "fake sends toolCall -> Conversation.handle (ws hop + SDK receive/parse)")
    row("outbound", outbound, "respond() entered -> fake parsed toolResponse (SDK serialise + ws hop)")
    row("  of which SDK send", send_call, "respond() entered -> send_tool_response returned")
    raw50, bridge50 = pct(ms(raw), 50), pct(ms(bridge), 50)
    verdict("extra = bridge - raw call_tool", bridge50 - raw50, raw50)
    print(f"  bridge - McpServer.call: {bridge50 - pct(ms(backend), 50):+.3f} ms at p50 (the router and agent edges alone)")
    print(f"  end-to-end - ws ping RTT: {pct(ms(e2e), 50) - pct(ms(wire.rtt), 50):+.3f} ms at p50 "
          "(everything in the agent process: SDK parse/serialise + bridge)")


# ---- [B] the router alone, in-process MCP server ----------------------------------------------


async def memory_section(opts: argparse.Namespace) -> None:
    devnull = open(os.devnull, "w")  # noqa: SIM115
    cfg = McpServerConfig(name="mem", command="in-memory")  # the transport factory replaces the command
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    mcp_server = McpServer(cfg, transport=in_memory(build_server("basic")))
    root.setLevel(level)  # building an MCPServer configures INFO logging on the root logger
    root.handlers[:] = handlers
    respond_at: dict[str, float] = {}
    answered: dict[str, anyio.Event] = {}

    async def respond(results: list[FunctionResult]) -> None:
        now = clock()
        for r in results:
            if "error" in r.response:
                raise RuntimeError(f"router call failed: {r.response}")
            respond_at[r.id] = now
            answered[r.id].set()

    metrics = Metrics()
    observer = ToolActivity(Console(devnull, devnull), Recorder(None), metrics)
    stamps = AgentStamps()
    watch_observer(observer, stamps)
    raw: list[float] = []
    backend: list[float] = []
    bridge: list[float] = []
    async with anyio.create_task_group() as tg:
        with anyio.fail_after(30):
            await tg.start(mcp_server.run)
        if mcp_server.state != "ready":
            raise RuntimeError(f"in-memory MCP server did not start: {mcp_server.error}")
        catalog = build_catalog([mcp_source(mcp_server)])
        entry = next(e for e in catalog if e.name == TOOL)
        router = Router(catalog, respond=respond, observer=observer)
        await tg.start(router.run)
        session = mcp_server._conn.session  # type: ignore[union-attr]

        async def raw_call() -> None:
            await session.call_tool(TOOL, ARGS)

        async def backend_call() -> None:
            await mcp_server.call(TOOL, ARGS)

        counter = 0
        kept: list[str] = []

        async def routed(keep: bool) -> None:
            nonlocal counter
            call_id = f"m{counter}"
            counter += 1
            answered[call_id] = anyio.Event()
            t0 = clock()
            router.submit([FunctionCall(call_id, entry.declared_name, dict(ARGS))])
            await answered[call_id].wait()
            if keep:
                bridge.append(respond_at[call_id] - t0)
                stamps.handled[call_id], stamps.respond_in[call_id] = t0, respond_at[call_id]
                kept.append(call_id)

        await timed_calls(raw_call, opts.warmup)
        await timed_calls(backend_call, opts.warmup)
        for _ in range(opts.warmup):
            await routed(False)
        warm_reports = len(metrics.tool_latency.get("mem", []))
        done = 0
        while done < opts.iterations:
            n = min(opts.round, opts.iterations - done)
            raw += await timed_calls(raw_call, n)
            backend += await timed_calls(backend_call, n)
            for _ in range(n):
                await routed(True)
            done += n
        await router.idle()
        tg.cancel_scope.cancel()
    devnull.close()
    reports = metrics.tool_latency.get("mem", [])[warm_reports:]

    print("\n[B] Router alone; in-process MCP server (mcp 2.x 'basic', memory transport), no websocket")
    header()
    row("raw call_tool (baseline)", raw, "ClientSession.call_tool over the memory streams")
    row("McpServer.call", backend, "the agent's backend: raw JSON-RPC tools/call + result formatting")
    row("router CallReport.duration", reports, "inside the call's task: lookup, restore, validate, McpServer.call")
    row("bridge: submit -> respond", bridge, "Router.submit -> respond entered (task start, observer, sender hop)")
    split_rows(stamps, kept, "submit")
    raw50, bridge50 = pct(ms(raw), 50), pct(ms(bridge), 50)
    verdict("extra = bridge - raw call_tool", bridge50 - raw50, raw50)
    print(f"  bridge - McpServer.call: {bridge50 - pct(ms(backend), 50):+.3f} ms at p50 (the router alone)")


# ---- main ------------------------------------------------------------------------------------


async def main(opts: argparse.Namespace) -> list[str]:
    errors: list[str] = []
    servers = {
        "basic": ("'basic' (mcp 2.x MCPServer, tests/fakes/stdio_server.py)", stdio_command("basic")),
        "raw": ("'raw' (dependency-free JSON-RPC, tests/fakes/raw_stdio_server.py)", raw_stdio_command()),
    }
    chosen = ["basic", "raw"] if opts.server == "both" else [opts.server]
    for key in chosen:
        label, command = servers[key]
        try:
            await agent_section(label, command, opts, errors)
        except Exception as e:  # noqa: BLE001 - report and carry on: the benchmark always exits 0
            leaf = unwrap(e) if isinstance(e, BaseExceptionGroup) else e
            errors.append(f"[A] {key}: {type(leaf).__name__}: {leaf}")
    if not opts.no_memory:
        try:
            await memory_section(opts)
        except Exception as e:  # noqa: BLE001
            leaf = unwrap(e) if isinstance(e, BaseExceptionGroup) else e
            errors.append(f"[B]: {type(leaf).__name__}: {leaf}")
    return errors


def cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=300, help="measured calls per measurement (default 300)")
    parser.add_argument("--warmup", type=int, default=30, help="unmeasured calls per path first (default 30)")
    parser.add_argument("--round", type=int, default=50, help="measurements are interleaved in rounds of this many")
    parser.add_argument("--server", choices=["basic", "raw", "both"], default="basic", help="stdio MCP server for [A]")
    parser.add_argument("--no-memory", action="store_true", help="skip [B], the router with an in-process server")
    opts = parser.parse_args()

    same_clock = time.get_clock_info("monotonic").implementation == time.get_clock_info("perf_counter").implementation
    print(f"bridge overhead: toolCall -> toolResponse through the agent vs a raw MCP call_tool; tool {TOOL} {json.dumps(ARGS)}")
    print(f"cores: {os.cpu_count()}, load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}, "
          f"clock: {time.get_clock_info('monotonic').implementation}{'' if same_clock else ' (differs from perf_counter)'}")
    print(f"{opts.iterations} measured iterations per row after {opts.warmup} warm-up, interleaved in rounds of {opts.round}")
    started = time.perf_counter()
    errors = anyio.run(main, opts, backend="asyncio")
    print(f"\ntook {time.perf_counter() - started:.1f} s")
    for e in errors:
        print(f"problem: {e}")
    return 0


if __name__ == "__main__":
    sys.exit(cli())
