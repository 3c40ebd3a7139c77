"""A misbehaving MCP server over stdio, standard library only: what a hostile or broken server sends.

    python tests/fakes/hostile_stdio_server.py [--deep-schema N] [--bomb] [--daemon PIDFILE]
        [--setsid-child PIDFILE]

Listing: `echo` always; --deep-schema adds `deep`, whose inputSchema nests N objects; --bomb adds
tools whose declarations are bombs (a 2 MB description, a 100,000-value enum, 5,000 properties, a
1 MB pattern, terminal escape sequences in names and descriptions) and writes escapes to stderr.
--daemon: a grandchild that leaves the process group (double fork + setsid) writes its pid to
PIDFILE and sleeps. --setsid-child: a child in a session of its own, with an empty environment,
while the server lives.

Calls (whatever the listing): echo {text}; nest {depth} (structuredContent nested `depth` deep);
big {mb} (one text block of that many MB); nan (NaN and Infinity in structuredContent);
flood {count} (count progress and count log notifications, then the answer); escape (an error
message full of terminal escapes).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # run with -I: its folder is not on the path
from raw_stdio_server import requests  # noqa: E402

ESC = "\x1b"
ESCAPES = f"{ESC}[2J{ESC}]0;pwned{chr(7)}{ESC}[31m\u009b1m\r"  # clear screen, set title, red, C1 CSI, CR


def nested_text(depth: int, leaf: str = '"leaf"') -> str:
    """`depth` nested objects as JSON text (json.dumps itself would hit Python's recursion limit)."""
    return '{"a":' * depth + leaf + "}" * depth


def deep_schema_text(depth: int) -> str:
    return '{"type":"object","properties":{"a":' * depth + '{"type":"string"}' + "}}" * depth


def bomb_tools() -> list[dict]:
    return [
        {"name": "long_description", "description": "d" * 2_000_000,
         "inputSchema": {"type": "object", "properties": {"x": {"type": "string", "description": "p" * 500_000}}}},
        {"name": "huge_enum", "description": "An enum bomb.",
         "inputSchema": {"type": "object", "properties": {"v": {"enum": [f"value{i}" for i in range(100_000)]}}}},
        {"name": "many_properties", "description": "A properties bomb.",
         "inputSchema": {"type": "object", "properties": {f"p{i}": {"type": "string"} for i in range(5_000)},
                         "required": ["p4999"]}},
        {"name": "long_pattern", "description": "A pattern bomb.",
         "inputSchema": {"type": "object", "properties": {"s": {"type": "string", "pattern": "a" * 1_000_000}}}},
        {"name": f"esc{ESCAPES}name", "description": f"Looks {ESCAPES} harmless.",
         "inputSchema": {"type": "object", "properties": {f"k{ESC}[31m": {"type": "string", "description": ESCAPES}}}},
        {"name": "escape", "description": "Fails with escape sequences in its message.", "inputSchema": {"type": "object"}},
    ]


def tools(opts: argparse.Namespace) -> list[dict]:
    listed = [{"name": "echo", "description": "Echo the text.",
               "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}}]
    if opts.bomb:
        listed += bomb_tools()
    return listed


def daemonize(pidfile: str) -> None:
    """Double fork with setsid, as daemons do: the grandchild is in a new session and group."""
    if os.fork() != 0:
        return
    os.setsid()
    if os.fork() != 0:
        os._exit(0)
    with open(pidfile + ".partial", "w") as f:
        f.write(str(os.getpid()))
    os.rename(pidfile + ".partial", pidfile)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    while True:
        time.sleep(3600)


def setsid_child(pidfile: str) -> None:
    """A child that leaves the group and drops the inherited environment; its parent stays."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"], env={},
                             start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    with open(pidfile + ".partial", "w") as f:
        f.write(str(child.pid))
    os.rename(pidfile + ".partial", pidfile)


def write(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def send(message: dict) -> None:
    write(json.dumps(message))


def answer(msg_id: object, result_text: str) -> None:
    write('{"jsonrpc":"2.0","id":' + json.dumps(msg_id) + ',"result":' + result_text + "}")


def call(msg: dict) -> None:
    msg_id = msg["id"]
    params = msg.get("params") or {}
    name, args = params.get("name"), params.get("arguments") or {}
    if name == "nest":
        answer(msg_id, '{"content":[],"structuredContent":' + nested_text(int(args["depth"])) + "}")
    elif name == "big":
        size = int(float(args["mb"]) * 1_000_000)
        head = '{"jsonrpc":"2.0","id":' + json.dumps(msg_id) + ',"result":{"content":[{"type":"text","text":"'
        sys.stdout.write(head)
        chunk = "x" * 1_000_000
        for _ in range(size // len(chunk)):
            sys.stdout.write(chunk)
        sys.stdout.write("x" * (size % len(chunk)) + '"}]}}\n')
        sys.stdout.flush()
    elif name == "nan":
        send({"jsonrpc": "2.0", "id": msg_id, "result": {"content": [], "structuredContent": {
            "nan": float("nan"), "inf": float("inf"), "list": [float("-inf"), 1.5]}}})  # json.dumps writes NaN
    elif name == "flood":
        token = ((params.get("_meta") or {}).get("progressToken")) or "no-token"
        for i in range(int(args["count"])):
            send({"jsonrpc": "2.0", "method": "notifications/progress",
                  "params": {"progressToken": token, "progress": i, "total": int(args["count"])}})
            send({"jsonrpc": "2.0", "method": "notifications/message",
                  "params": {"level": "info", "logger": "flood", "data": f"line {i}"}})
        send({"jsonrpc": "2.0", "id": msg_id, "result": {"content": [{"type": "text", "text": "flooded"}]}})
    elif name == "escape":
        send({"jsonrpc": "2.0", "id": msg_id, "result": {
            "isError": True, "content": [{"type": "text", "text": f"bad {ESCAPES} thing"}]}})
    else:
        send({"jsonrpc": "2.0", "id": msg_id, "result": {"content": [{"type": "text", "text": str(args.get("text", ""))}]}})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deep-schema", type=int, default=0)
    parser.add_argument("--bomb", action="store_true")
    parser.add_argument("--daemon", metavar="PIDFILE")
    parser.add_argument("--setsid-child", metavar="PIDFILE")
    opts = parser.parse_args()
    if opts.daemon:
        daemonize(opts.daemon)
    if opts.setsid_child:
        setsid_child(opts.setsid_child)
    if opts.bomb:
        print(f"starting {ESCAPES} up", file=sys.stderr, flush=True)
    for method, msg_id, msg in requests():
        if method == "initialize":
            send({"jsonrpc": "2.0", "id": msg_id, "result": {
                "protocolVersion": msg["params"]["protocolVersion"], "capabilities": {"tools": {}, "logging": {}},
                "serverInfo": {"name": "hostile", "version": "1"}}})
        elif method == "tools/list":
            listed = json.dumps(tools(opts))
            if opts.deep_schema:
                deep = '{"name":"deep","description":"Deep.","inputSchema":' + deep_schema_text(opts.deep_schema) + "}"
                listed = listed[:-1] + "," + deep + "]"
            answer(msg_id, '{"tools":' + listed + "}")
        elif method == "tools/call":
            call(msg)
        elif method == "ping":
            send({"jsonrpc": "2.0", "id": msg_id, "result": {}})
        else:
            send({"jsonrpc": "2.0", "id": msg_id, "error": {"code": -32601, "message": f"no method {method}"}})


if __name__ == "__main__":
    main()
