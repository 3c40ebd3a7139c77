"""A server's tools change mid-session: notifications/tools/list_changed -> the model has the new list.

    .venv/bin/python benchmarks/bench_catalog_update.py [--repeat 10]

The real agent (`python -m agent`, text only) is a subprocess connected to the fake Live server
(tests/fakes/live_server.py, in this process) with one stdio MCP server (tests/fakes/
changing_server.py). Each round the fake model calls its `toggle` tool, which adds or removes a
tool and sends list_changed (writing the time.monotonic() of the notification to a file; the
clock is system-wide, so it compares with the fake's), then ends its turn at once, so the
interaction boundary is not what is measured. Timed: list_changed sent -> the contextUpdate
carrying the new list received by the fake (gemini-3.8-live). Baseline in the same run: the same
change on a model without contextUpdate (gemini-2.5-flash-native-audio), where the agent hands
off to a resumed connection whose setup carries the new list: list_changed -> that setup
completed. Medians over --repeat rounds after one unmeasured round. Always exits 0.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes import changing_server  # noqa: E402
from tests.fakes.live_server import FakeConnection, FakeLiveServer  # noqa: E402

MODEL_25 = "gemini-2.5-flash-native-audio-preview-12-2025"


def run(model: str, rounds: int, tmp: Path) -> list[float]:
    """Seconds from list_changed to the new list at the fake, per round (the first dropped)."""
    mark = tmp / f"mark-{model}"
    mark.unlink(missing_ok=True)
    arrived: list[float] = []  # time.monotonic() the fake had the new list, per round
    context_update = model != MODEL_25

    async def scenario(conn: FakeConnection) -> None:
        if conn.index == 0:
            await conn.expect_text()
        else:
            arrived.append(conn.accepted_at)  # the resumed connection's setup carries the new list
        while len(arrived) < rounds:
            await conn.send_tool_call({"id": f"t{len(arrived)}-{conn.index}", "name": "ch__toggle", "args": {}})
            await conn.expect_tool_response()
            await conn.resumption_update(f"h{len(arrived)}")
            await conn.send_text("ok")
            if not context_update:
                break  # the handoff to the next connection follows at this boundary
            update = await conn.expect("context_update", timeout=30)
            arrived.append(update.at)
        await conn.wait_closed(timeout=60)

    servers = tmp / "servers.json"
    servers.write_text(json.dumps({"mcpServers": {"ch": {"command": sys.executable, "args": changing_server.command("--mark", str(mark))[1]}}}))
    with FakeLiveServer(scenario) as server:
        env = server.env()  # its endpoint, CA and key
        args = ["--no-audio-input", "--no-audio-output", "--text-output", "--no-search", "--mcp-config", str(servers), "--model", model]
        proc = subprocess.Popen([sys.executable, "-m", "agent", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env={**os.environ, **env}, cwd=tmp)
        assert proc.stdin is not None
        proc.stdin.write("hi\n")
        proc.stdin.flush()
        try:
            server.wait_for(lambda: len(arrived) >= rounds or proc.poll() is not None, timeout=30 + 10 * rounds)
        finally:
            proc.stdin.close()
            proc.stdin = None
            _, err = proc.communicate(timeout=60)
        if len(arrived) < rounds:
            raise RuntimeError(f"{model}: only {len(arrived)} of {rounds} updates arrived; agent stderr:\n{err[-2000:]}")
    sent = [float(line) for line in mark.read_text().split()]
    return [a - s for s, a in zip(sent, arrived, strict=False)][1:]


def describe(label: str, took: list[float]) -> str:
    ms = sorted(t * 1000 for t in took)
    return f"{label:<58} p50 {statistics.median(ms):7.1f} ms   max {ms[-1]:7.1f} ms   ({len(ms)} rounds)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-catalog-") as d:
        tmp = Path(d)
        began = time.perf_counter()
        update = run("gemini-3.8-live", opts.repeat + 1, tmp)
        baseline = run(MODEL_25, opts.repeat + 1, tmp)
    print("list_changed sent -> the model has the new tool list (whole agent, fake Live server)")
    print(describe("gemini-3.8-live: contextUpdate received", update))
    print(describe(f"baseline, {MODEL_25.split('-preview')[0]}: resumed setup done", baseline))
    print(f"contextUpdate / reconnect: {statistics.median(update) / statistics.median(baseline):.2f}x  "
          f"({time.perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    main()
