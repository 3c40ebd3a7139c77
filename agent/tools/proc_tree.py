"""Find the processes a stdio server started that left its process group, so shutdown ends them too.

Killing the server's process group reaches its ordinary children, but a daemonising grandchild
(`setsid()`, often after a double fork) has a group of its own and would outlive the agent. Two
traces lead to it on Linux: the parent links in /proc, while its parent still lives, and a mark in
its environment, which it inherits from the server and keeps when it is re-parented to init. Each
candidate is checked again (same start time, or the mark still there) right before it is signalled,
so a recycled pid is never hit. Without /proc (macOS, BSD) nothing is found: the limit is documented.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import anyio

logger = logging.getLogger(__name__)

MARK_VAR = "GEMINI_LIVE_MCP_MARK"  # set in every stdio server's environment; its value is unique per start
PROC = Path("/proc")


@dataclass(frozen=True)
class Proc:
    """One process as /proc shows it."""

    pid: int
    ppid: int
    pgid: int
    start: int  # clock ticks after boot: tells a recycled pid apart


def new_mark() -> str:
    """A value for MARK_VAR that no other server start shares."""
    return secrets.token_hex(12)


def read_proc(pid: int) -> Proc | None:
    """The process's parent, group and start time; None when it is gone, a zombie or unreadable."""
    try:
        stat = (PROC / str(pid) / "stat").read_bytes()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()  # the command name may hold spaces and parentheses
    if len(fields) < 20 or fields[0] in (b"Z", b"X"):
        return None
    return Proc(pid, int(fields[1]), int(fields[2]), int(fields[19]))


def all_processes() -> list[Proc]:
    """Every process /proc lists (empty without /proc)."""
    try:
        pids = [int(name) for name in os.listdir(PROC) if name.isdigit()]
    except OSError:
        return []
    return [p for p in map(read_proc, pids) if p is not None]


def descendants(root: int, processes: list[Proc] | None = None) -> list[Proc]:
    """The processes below `root` by parent links (not `root` itself)."""
    processes = all_processes() if processes is None else processes
    children: dict[int, list[Proc]] = {}
    for p in processes:
        children.setdefault(p.ppid, []).append(p)
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child.pid)
    return found


def has_mark(pid: int, mark: str) -> bool:
    """Whether the process's environment carries MARK_VAR=mark (only our own processes are readable)."""
    try:
        environ = (PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return False
    return f"{MARK_VAR}={mark}".encode() in environ.split(b"\0")


def marked(mark: str, processes: list[Proc] | None = None) -> list[Proc]:
    """Every process whose environment carries the mark."""
    processes = all_processes() if processes is None else processes
    me = os.getpid()
    return [p for p in processes if p.pid != me and has_mark(p.pid, mark)]


def escaped(known: list[Proc], mark: str, pgid: int) -> list[Proc]:
    """Processes still alive, from `known` (a snapshot of the tree) or carrying the mark, outside group `pgid`."""
    processes = all_processes()
    alive = {p.pid: p for p in processes}
    out: dict[int, Proc] = {}
    for p in known:
        now = alive.get(p.pid)
        if now is not None and now.start == p.start and now.pgid != pgid:
            out[p.pid] = now
    for p in marked(mark, processes) if mark else []:
        if p.pgid != pgid:
            out.setdefault(p.pid, p)
    out.pop(os.getpid(), None)
    return list(out.values())


def signal_each(processes: list[Proc], mark: str, sig: int) -> int:
    """Send `sig` to each process still the same one (start time, or mark); the number signalled."""
    sent = 0
    for p in processes:
        now = read_proc(p.pid)
        if now is None or (now.start != p.start and not has_mark(p.pid, mark)):
            continue
        with suppress(ProcessLookupError, PermissionError):
            os.kill(p.pid, sig)
            sent += 1
    return sent


def alive(processes: list[Proc]) -> list[Proc]:
    """Those of `processes` that still run (same start time)."""
    out = []
    for p in processes:
        now = read_proc(p.pid)
        if now is not None and now.start == p.start:
            out.append(p)
    return out


async def end_escaped(known: list[Proc], mark: str, pgid: int, label: str, grace: float = 0.5) -> None:
    """SIGTERM the server's processes outside its group, then SIGKILL those still there after `grace`."""
    strays = escaped(known, mark, pgid)
    if not strays:
        return
    logger.info("MCP server %s left %d process(es) outside its process group (pids %s); ending them",
                label, len(strays), ", ".join(str(p.pid) for p in strays))
    signal_each(strays, mark, signal.SIGTERM)
    with anyio.move_on_after(grace):
        while alive(strays):
            await anyio.sleep(0.01)
    rest = alive(strays)
    if rest:
        logger.warning("MCP server %s: %d process(es) outside its group ignored SIGTERM; sending SIGKILL", label, len(rest))
        signal_each(rest, mark, signal.SIGKILL)
