"""A hand-written JSON-RPC MCP server over stdio, importing nothing but the standard library.

Starts in ~30 ms, so start-up tests and the benchmark measure our client, not imports.

    python tests/fakes/raw_stdio_server.py [--start-delay S] [--barrier DIR --count N]
        [--notype] [--protocol VERSION] [--banner]

--barrier: on start, create DIR/<pid> and wait until DIR holds N entries before answering;
servers started one after another would never get there.
--notype: tools carry an inputSchema of only {"$schema": ...}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path


def tools(notype: bool) -> list[dict]:
    schema = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
    if notype:
        schema = {"$schema": "http://json-schema.org/draft-07/schema#"}
    return [
        {"name": "echo", "description": "Echo the text.", "inputSchema": schema,
         "annotations": {"readOnlyHint": True}},
        {"name": "ping_tool", "description": "Say pong.", "inputSchema": dict(schema)},
    ]


def requests() -> Iterator[tuple[str, object, dict]]:
    """(method, id, message) of each request read from stdin; notifications are skipped."""
    for line in sys.stdin:
        if not line.strip():
            continue
        msg = json.loads(line)
        if msg.get("id") is not None:
            yield msg.get("method"), msg["id"], msg


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--start-delay", type=float, default=0.0)
    parser.add_argument("--barrier")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--notype", action="store_true")
    parser.add_argument("--protocol", default=None, help="answer initialize with this version")
    parser.add_argument("--banner", action="store_true", help="print non-JSON lines to stdout first")
    opts = parser.parse_args()
    if opts.banner:
        print("Starting raw server...\n\nlistening on stdio", flush=True)

    if opts.barrier:
        barrier = Path(opts.barrier)
        (barrier / str(os.getpid())).touch()
        while len(list(barrier.iterdir())) < opts.count:
            time.sleep(0.01)
    if opts.start_delay:
        time.sleep(opts.start_delay)

    def send(message: dict) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    for method, msg_id, msg in requests():
        if method == "initialize":
            version = opts.protocol or msg["params"]["protocolVersion"]
            result = {"protocolVersion": version, "capabilities": {"tools": {}},
                      "serverInfo": {"name": "raw", "version": "1"}}
        elif method == "tools/list":
            result = {"tools": tools(opts.notype)}
        elif method == "tools/call":
            args = msg["params"].get("arguments") or {}
            if msg["params"]["name"] == "echo":
                text = str(args.get("text", ""))
            else:
                text = "pong"
            result = {"content": [{"type": "text", "text": text}]}
        elif method == "ping":
            result = {}
        else:
            send({"jsonrpc": "2.0", "id": msg_id, "error": {"code": -32601, "message": f"no method {method}"}})
            continue
        send({"jsonrpc": "2.0", "id": msg_id, "result": result})


if __name__ == "__main__":
    main()
