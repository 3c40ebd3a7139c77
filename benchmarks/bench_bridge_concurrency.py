"""Concurrency: one toolCall of 8 calls to a 200 ms tool, against one call, through the whole agent.

    .venv/bin/python benchmarks/bench_bridge_concurrency.py [--repeat 5] [--calls 8] [--seconds 0.2]
        [--sources mcp,thread,async]

The real agent (`python -m agent`, text only, as a user runs it) is a subprocess connected to the
fake Live server (tests/fakes/live_server.py: TLS websocket on 127.0.0.1, in this process). The
fake server sends one toolCall carrying N functionCalls (ids all different) of a sleep tool and
times toolCall sent -> the toolResponse carrying the last of those ids parsed by the fake; the
router answers in batches of whatever has finished, so answers are counted by id, however many
toolResponse messages they came in. The same is timed for a toolCall of one call, in the same
run, alternating which goes first. Each figure is the median over --repeat, after one unmeasured
round of each. ratio = N calls / 1 call (goal <= 1.1x: the calls really run at once).

Sleep tools, each through its own path in the agent:
  mcp     `sleep` of the mcp 2.x stdio test server (tests/fakes/stdio_server.py --flavour basic),
          which awaits anyio.sleep: the MCP server must also run the requests concurrently
  thread  a plain `def` using time.sleep, from a module given to --import-functions: each call
          runs in a worker thread
  async   an `async def` using asyncio.sleep, from the same module: runs on the agent's loop

Always exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.live_server import FakeConnection, FakeLiveServer  # noqa: E402
from tests.fakes.mcp_servers import stdio_command  # noqa: E402

GOAL = 1.1
clock = time.monotonic  # ClientMessage.at uses this clock

MODULE = '''"""Sleep tools for bench_bridge_concurrency."""

import asyncio
import time


def nap(seconds: float) -> str:
    """Sleep in a worker thread for the given number of seconds."""
    time.sleep(seconds)
    return f"slept {seconds}"


async def anap(seconds: float) -> str:
    """Sleep on the event loop for the given number of seconds."""
    await asyncio.sleep(seconds)
    return f"slept {seconds}"
'''

SOURCES = {
    # key: (label, server or module name, tool name)
    "mcp": ("MCP stdio server, async sleep tool", "bench", "sleep"),
    "thread": ("--import-functions, def + time.sleep (worker thread)", "benchtools", "nap"),
    "async": ("--import-functions, async def + asyncio.sleep", "benchtools", "anap"),
}


@dataclass
class Batch:
    took: float  # toolCall sent -> last answer parsed, seconds
    messages: int  # toolResponse messages the answers came in
    spread: float  # first answer -> last answer, seconds


@dataclass
class Results:
    single: dict[str, list[Batch]] = field(default_factory=dict)
    many: dict[str, list[Batch]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)


def declared_names(setup: dict[str, Any]) -> list[str]:
    names = []
    for tool in setup.get("tools", []) or []:
        for decl in tool.get("function_declarations", []) or []:
            names.append(decl.get("name", ""))
    return names


class Scenario:
    """Runs the whole measurement on the fake server once the agent connects."""

    def __init__(self, sources: list[str], calls: int, seconds: float, repeat: int) -> None:
        self.sources, self.calls, self.seconds, self.repeat = sources, calls, seconds, repeat
        self.done: Future[Results] = Future()
        self._next = 0

    async def batch(self, conn: FakeConnection, name: str, n: int) -> Batch:
        ids = [f"b{self._next}-{k}" for k in range(n)]
        self._next += 1
        calls = [{"id": i, "name": name, "args": {"seconds": self.seconds}} for i in ids]
        pending = set(ids)
        arrivals: list[float] = []
        messages = 0
        sent = clock()
        await conn.send_tool_call(*calls)
        while pending:
            msg = await conn.expect("tool_response", timeout=30 + n * self.seconds)
            messages += 1
            for r in msg.function_responses:
                if r.get("id") not in pending:
                    raise RuntimeError(f"unexpected or repeated answer {r.get('id')}")
                if "output" not in r.get("response", {}):
                    raise RuntimeError(f"{name} failed: {r.get('response')}")
                pending.discard(r["id"])
                arrivals.append(msg.at)
        return Batch(max(arrivals) - sent, messages, max(arrivals) - min(arrivals))

    async def __call__(self, conn: FakeConnection) -> None:
        results = Results()
        try:
            names = declared_names(conn.setup)
            for key in self.sources:
                _, source, tool = SOURCES[key]
                name = next((n for n in names if n.startswith(source) and n.endswith(f"__{tool}")), None)
                if name is None:
                    raise RuntimeError(f"no declared function for {source}/{tool} in {names}")
                results.names[key] = name
                await self.batch(conn, name, 1)  # warm-up: first use of each path
                await self.batch(conn, name, self.calls)
                single, many = results.single.setdefault(key, []), results.many.setdefault(key, [])
                for i in range(self.repeat):
                    if i % 2 == 0:
                        single.append(await self.batch(conn, name, 1))
                        many.append(await self.batch(conn, name, self.calls))
                    else:
                        many.append(await self.batch(conn, name, self.calls))
                        single.append(await self.batch(conn, name, 1))
            await conn.turn_complete()
        except BaseException as e:
            self.done.set_exception(e)
            raise
        self.done.set_result(results)
        await conn.closed.wait()


def start_agent(workdir: Path, server: FakeLiveServer, sources: list[str]) -> subprocess.Popen[bytes]:
    command, args = stdio_command("basic")
    config = workdir / "bench.toml"
    config.write_text(
        "[mcp_servers.bench]\n"
        f"command = {json.dumps(command)}\n"
        f"args = {json.dumps(args)}\n"
        "startup_timeout = 60\n"
        "required = true\n"
        f"enabled = {'true' if 'mcp' in sources else 'false'}\n"
    )
    module = workdir / "benchtools.py"
    module.write_text(MODULE)
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI")}
    env.update(server.env())
    env.update(
        XDG_CONFIG_HOME=str(workdir / "xdg"),
        XDG_STATE_HOME=str(workdir / "state"),
        PYTHONPATH=os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
    )
    argv = [
        sys.executable, "-m", "agent", "--config", str(config),
        "--no-audio-input", "--no-audio-output", "--text-output", "--no-search",
    ]
    if {"thread", "async"} & set(sources):
        argv += ["--import-functions", str(module)]
    return subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,  # held open (no input) until the measurement is over
        stdout=open(workdir / "stdout.txt", "wb"),  # noqa: SIM115
        stderr=open(workdir / "stderr.txt", "wb"),  # noqa: SIM115
        env=env,
        cwd=workdir,
    )


def run(opts: argparse.Namespace, sources: list[str]) -> tuple[Results | None, list[str]]:
    problems: list[str] = []
    results: Results | None = None
    scenario = Scenario(sources, opts.calls, opts.seconds, opts.repeat)
    with tempfile.TemporaryDirectory(prefix="bench-concurrency-") as tmp, FakeLiveServer(scenario) as server:
        workdir = Path(tmp)
        proc = start_agent(workdir, server, sources)
        deadline = clock() + 60 + len(sources) * (opts.repeat + 1) * (opts.calls + 1) * opts.seconds * 3
        try:
            while results is None:
                if proc.poll() is not None and not scenario.done.done():
                    problems.append(f"the agent exited early with status {proc.returncode}")
                    break
                if clock() > deadline:
                    problems.append("timed out waiting for the measurement")
                    break
                try:
                    results = scenario.done.result(timeout=0.2)
                except TimeoutError:
                    continue
        except Exception as e:  # noqa: BLE001 - a failed scenario is reported, not raised
            problems.append(f"scenario failed: {type(e).__name__}: {e}")
        finally:
            try:
                assert proc.stdin is not None
                proc.stdin.close()  # end of input: with the turn complete, the agent exits on its own
            except OSError:
                pass
            try:
                status = proc.wait(timeout=20)
                if status != 0 and not any("exited early" in p for p in problems):
                    problems.append(f"the agent exited with status {status}")
            except subprocess.TimeoutExpired:
                problems.append("the agent did not exit within 20 s after its input closed; killed")
                proc.kill()
                proc.wait()
            if problems:
                tail = (workdir / "stderr.txt").read_text(errors="replace").strip().splitlines()[-15:]
                problems += [f"  agent stderr: {line}" for line in tail]
    return results, problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="measured rounds per source (median; default 5)")
    parser.add_argument("--calls", type=int, default=8, help="function calls in the concurrent toolCall (default 8)")
    parser.add_argument("--seconds", type=float, default=0.2, help="how long each call sleeps (default 0.2)")
    parser.add_argument("--sources", default="mcp,thread,async", help="comma-separated: mcp, thread, async")
    opts = parser.parse_args()
    sources = [s for s in opts.sources.split(",") if s]
    unknown = [s for s in sources if s not in SOURCES]
    if unknown or not sources:
        parser.error(f"unknown source(s) {unknown}; choose from {', '.join(SOURCES)}")

    print(f"concurrency: one toolCall of {opts.calls} calls to a {opts.seconds * 1000:g} ms tool vs one call, "
          "through the whole agent (python -m agent) and the fake Live server")
    print(f"cores: {os.cpu_count()}, load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"median of {opts.repeat} rounds each, after 1 warm-up round")
    print("time = fake server: toolCall sent -> toolResponse carrying the last id parsed "
          "(2 websocket hops, the agent, the tool)")
    started = time.perf_counter()
    results, problems = run(opts, sources)
    if results is not None:
        n = opts.calls
        print(f"\n  {'tool':<54} {'1 call':>9} {f'{n} calls':>9} {'ratio':>7}  {'goal':<8} {'msgs':>5} {'spread':>8}")
        for key in sources:
            label = SOURCES[key][0]
            single = statistics.median(b.took for b in results.single[key])
            many = statistics.median(b.took for b in results.many[key])
            messages = statistics.median(b.messages for b in results.many[key])
            spread = statistics.median(b.spread for b in results.many[key])
            ratio = many / single
            ok = "met" if ratio <= GOAL else "NOT met"
            print(f"  {label:<54} {single * 1000:>6.1f} ms {many * 1000:>6.1f} ms {ratio:>6.3f}x  "
                  f"{ok:<8} {messages:>5g} {spread * 1000:>5.1f} ms")
        print(f"\n  ratio = {n} calls / 1 call (goal <= {GOAL:g}x); msgs = toolResponse messages the {n} answers "
              f"came in (median); spread = first -> last of the {n} answers (median)")
        print(f"  tools as declared: {', '.join(results.names[k] for k in sources)}")
    print(f"\ntook {time.perf_counter() - started:.1f} s")
    for p in problems:
        print(f"problem: {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
