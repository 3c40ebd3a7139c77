"""Start-up of 10 stdio MCP servers at once through McpHub, against the slowest of them alone.

    .venv/bin/python benchmarks/bench_mcp_startup.py [--repeat 3] [--delay 1.0]

Start-up = spawn + initialize + tools/list, until McpHub reports started. Each set is timed
server by server (each alone), then all ten together; ratio = together / slowest alone (goal
<= 1.2). Sets: our dependency-free JSON-RPC server with an artificial start-up delay (start-up
spent waiting, like a server that connects somewhere first), our mcp 2.x server (start-up spent
importing Python: CPU-bound), and the published servers if .ci/install-test-servers ran. On a
machine with fewer cores than servers a CPU-bound set cannot reach 1.2: that measures the
cores, not the hub. Medians over --repeat runs. Always exits 0.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import anyio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.config import McpServerConfig  # noqa: E402
from agent.tools.mcp import McpHub  # noqa: E402
from tests.fakes.mcp_servers import raw_stdio_command, stdio_command  # noqa: E402


async def start_all(cfgs: list[McpServerConfig]) -> float:
    hub = McpHub(cfgs)
    began = time.perf_counter()
    async with anyio.create_task_group() as tg:
        await tg.start(hub.run)
        took = time.perf_counter() - began
        failures = hub.failures
        tg.cancel_scope.cancel()
    if failures:
        raise RuntimeError(f"servers failed to start: {failures}")
    return took


def published(directory: Path) -> list[tuple[str, list[str]]] | None:
    time_python = directory / "time-venv" / "bin" / "python"
    everything = directory / "node_modules/@modelcontextprotocol/server-everything/dist/index.js"
    filesystem = directory / "node_modules/@modelcontextprotocol/server-filesystem/dist/index.js"
    if not (time_python.exists() and everything.exists() and filesystem.exists()):
        return None
    return [
        (str(time_python), ["-m", "mcp_server_time"]),
        ("node", [str(everything)]),
        ("node", [str(filesystem), str(ROOT)]),
    ]


async def bench(label: str, commands: list[tuple[str, list[str]]], repeat: int) -> None:
    cfgs = [McpServerConfig(name=f"s{i}", command=c, args=a, startup_timeout=120) for i, (c, a) in enumerate(commands)]
    alone_runs, together_runs = [], []
    try:
        for _ in range(repeat):
            alone_runs.append(max([await start_all([cfg]) for cfg in cfgs]))
            together_runs.append(await start_all(cfgs))
    except RuntimeError as e:
        print(f"{label:<44} failed: {e}")
        return
    alone, together = statistics.median(alone_runs), statistics.median(together_runs)
    print(f"{label:<44} {len(cfgs):>3}  {alone:>9.3f} s  {together:>9.3f} s  {together / alone:>6.2f}x")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--delay", type=float, default=1.0, help="start-up delay of the raw server, seconds")
    opts = parser.parse_args()

    print(f"cores: {os.cpu_count()}, load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'set':<44} {'n':>3}  {'slowest alone':>11}  {'all at once':>11}  {'ratio':>7}")
    raw = raw_stdio_command("--start-delay", str(opts.delay))
    await bench(f"raw JSON-RPC server, {opts.delay:g} s start delay", [raw] * 10, opts.repeat)
    await bench("raw JSON-RPC server, no delay", [raw_stdio_command()] * 10, opts.repeat)
    await bench("mcp 2.x MCPServer (Python imports, CPU)", [stdio_command("basic")] * 10, max(1, opts.repeat - 2))
    configured = Path(os.environ.get("GEMINI_LIVE_TEST_SERVERS", ".tmp/test-servers"))
    servers = published(configured if configured.is_absolute() else ROOT / configured)
    if servers is None:
        print("published servers: not installed (run .ci/install-test-servers)")
    else:
        mix = [servers[i % 3] for i in range(10)]  # 4 time, 3 everything, 3 filesystem
        await bench("published: time, everything, filesystem", mix, max(1, opts.repeat - 2))


if __name__ == "__main__":
    anyio.run(main)
    sys.exit(0)
