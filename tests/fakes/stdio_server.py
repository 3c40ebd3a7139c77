"""Run one of the fake MCP servers over stdio.

    python tests/fakes/stdio_server.py --flavour basic [--ignore-sigterm] [--linger]
        [--spawn-child PIDFILE] [--start-delay SECONDS] [--stderr-lines N] [--exit-at-start CODE]
        [--exit-if-exists FILE]
    python tests/fakes/stdio_server.py --flavour basic --http streamable-http|sse --port-file FILE

--http serves over HTTP on 127.0.0.1 (a free port, written to FILE once listening) instead.
--modern-only speaks only the stateless 2026-07-28 protocol (see tests/fakes/modern_server.py).

--ignore-sigterm and --linger (keep running after stdin closes) make a server that only SIGKILL
stops; --spawn-child starts a grandchild (sleep) and writes its pid to PIDFILE.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for `tests.fakes`

from tests.fakes.mcp_servers import FLAVOURS, build_server  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flavour", choices=FLAVOURS, default="basic")
    parser.add_argument("--ignore-sigterm", action="store_true")
    parser.add_argument("--linger", action="store_true")
    parser.add_argument("--spawn-child", metavar="PIDFILE")
    parser.add_argument("--start-delay", type=float, default=0.0)
    parser.add_argument("--stderr-lines", type=int, default=0)
    parser.add_argument("--exit-at-start", type=int)
    parser.add_argument("--exit-if-exists", metavar="FILE", help="behave as --exit-at-start 5 if FILE exists")
    parser.add_argument("--http", choices=["streamable-http", "sse"])
    parser.add_argument("--modern-only", action="store_true")
    parser.add_argument("--port-file")
    opts = parser.parse_args()

    for i in range(opts.stderr_lines):
        print(f"fake server stderr line {i}", file=sys.stderr, flush=True)
    if opts.exit_if_exists and Path(opts.exit_if_exists).exists():
        opts.exit_at_start = 5
    if opts.exit_at_start is not None:
        print("fatal: refusing to start on purpose", file=sys.stderr, flush=True)
        sys.exit(opts.exit_at_start)
    if opts.ignore_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if opts.spawn_child:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"], stdin=subprocess.DEVNULL)
        Path(opts.spawn_child).write_text(str(child.pid))
    if opts.start_delay:
        time.sleep(opts.start_delay)

    server = build_server(opts.flavour)
    import anyio
    from mcp.server.stdio import stdio_server

    if opts.http:
        anyio.run(serve_http, server, opts.http, Path(opts.port_file))
        return

    async def serve() -> None:
        lowlevel = getattr(server, "_lowlevel_server", server)  # MCPServer wraps a lowlevel Server
        async with stdio_server() as (read, write):
            if opts.modern_only:
                from tests.fakes.modern_server import serve_modern_only

                await serve_modern_only(server, read, write)
                return
            await lowlevel.run(read, write, lowlevel.create_initialization_options())

    anyio.run(serve)
    if opts.linger:
        while True:
            time.sleep(3600)
    os._exit(0)  # skip interpreter teardown: a spawned child must not be waited for


async def serve_http(server: object, transport: str, port_file: Path) -> None:
    import anyio
    import uvicorn

    app = server.streamable_http_app() if transport == "streamable-http" else server.sse_app()
    web = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    async with anyio.create_task_group() as tg:
        tg.start_soon(web.serve)
        while not web.started:
            await anyio.sleep(0.01)
        port = web.servers[0].sockets[0].getsockname()[1]
        partial = port_file.with_suffix(".partial")
        partial.write_text(str(port))
        partial.rename(port_file)  # readers never see a half-written file


if __name__ == "__main__":
    main()
