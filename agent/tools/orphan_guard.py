"""A helper process that ends the stdio servers' processes if the agent dies without stopping them.

The parent-death signal (agent/tools/parent_death.py) reaches each server process itself, but not
what the server started: npx's node, a shell's children, a daemon that left the group. The guard
is one small process per agent, in a session of its own, started with the first stdio server. The
agent tells it, over a pipe, each server's mark (proc_tree.MARK_VAR, inherited by every descendant)
and process group as it starts, and forgets it once the server is stopped. When the pipe ends
(the agent exited, or was killed: the kernel closes its end either way) the guard ends whatever is
still registered: SIGTERM, a short grace, SIGKILL, to every process carrying a registered mark and
to the groups they lead. Without /proc (macOS, BSD) marks cannot be read, and the registered
process groups are signalled as such.

This file is also the guard's program (`python -I -S orphan_guard.py MARK_VAR`): standard library only.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

logger = logging.getLogger(__name__)

GRACE = 1.0  # seconds between SIGTERM and SIGKILL, once the agent is gone
CLOSE_TIMEOUT = 2.0  # seconds for the guard to finish after a clean exit
PROC = Path("/proc")


# ---- the agent's side ---------------------------------------------------------------------------


class Guard:
    """The agent's handle on its guard process, started on first use."""

    def __init__(self, mark_var: str) -> None:
        self.mark_var = mark_var
        self._proc: subprocess.Popen[bytes] | None = None
        self._broken = False

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def watch(self, mark: str, pgid: int) -> None:
        """A server started: its descendants carry `mark`, and it leads group `pgid`."""
        if self._proc is None and not self._broken:
            self._start()
        self._send(f"+ {mark} {pgid}\n")

    def release(self, mark: str) -> None:
        """That server has been stopped: nothing of it is left to end."""
        if self._proc is not None:
            self._send(f"- {mark}\n")

    def close(self) -> None:
        """End the pipe (the guard ends what is still registered, normally nothing) and reap the guard."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with suppress(OSError):
            assert proc.stdin is not None
            proc.stdin.close()
        try:
            proc.wait(CLOSE_TIMEOUT)
        except subprocess.TimeoutExpired:
            logger.debug("the orphan guard (pid %d) did not exit in time; leaving it", proc.pid)

    def _start(self) -> None:
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-S", __file__, self.mark_var],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # no terminal signal (Ctrl-C, a closed terminal) reaches it
            )
        except OSError as e:
            self._broken = True
            logger.warning("cannot start the orphan guard (%s): if the agent is killed, what its MCP servers "
                           "started may keep running", e)
            return
        atexit.register(self.close)

    def _send(self, line: str) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None:
            return
        try:
            os.write(proc.stdin.fileno(), line.encode())  # a few bytes into a pipe the guard keeps reading
        except OSError as e:
            logger.warning("the orphan guard has gone (%s): if the agent is killed, what its MCP servers "
                           "started may keep running", e)
            self._proc, self._broken = None, True


_guard: Guard | None = None


def guard(mark_var: str) -> Guard:
    """The agent's one guard."""
    global _guard
    if _guard is None:
        _guard = Guard(mark_var)
    return _guard


# ---- the guard's side ---------------------------------------------------------------------------


def _stat(pid: str) -> tuple[str, int] | None:
    """(state, process group) of a process; None when it is gone."""
    try:
        stat = (PROC / pid / "stat").read_bytes()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()
    return (fields[0].decode(), int(fields[2])) if len(fields) > 2 else None


def _marked(mark_var: str, marks: set[str]) -> tuple[set[int], set[int]]:
    """Living processes carrying one of `marks`, and the process groups they are in."""
    wanted = {f"{mark_var}={mark}".encode() for mark in marks}
    pids: set[int] = set()
    groups: set[int] = set()
    me = str(os.getpid())
    try:
        names = [name for name in os.listdir(PROC) if name.isdigit() and name != me]
    except OSError:
        return pids, groups
    for name in names:
        try:
            environ = (PROC / name / "environ").read_bytes()
        except OSError:
            continue
        if wanted.isdisjoint(environ.split(b"\0")):
            continue
        stat = _stat(name)
        if stat is not None and stat[0] not in ("Z", "X"):
            pids.add(int(name))
            groups.add(stat[1])
    return pids, groups


def _signal(pids: set[int], groups: set[int], sig: int) -> None:
    for pgid in groups:
        with suppress(OSError):
            os.killpg(pgid, sig)
    for pid in pids:
        with suppress(OSError):
            os.kill(pid, sig)


def end_all(mark_var: str, watched: dict[str, int]) -> None:
    """SIGTERM, then SIGKILL after GRACE, what is left of the watched servers."""
    if not watched:
        return
    marks = set(watched)
    if PROC.is_dir():
        pids, groups = _marked(mark_var, marks)
        groups &= set(watched.values())  # a group is signalled only while a marked process is in it
        _signal(pids, groups, signal.SIGTERM)
        deadline = time.monotonic() + GRACE
        while (pids or groups) and time.monotonic() < deadline:
            time.sleep(0.02)
            pids, groups = _marked(mark_var, marks)
            groups &= set(watched.values())
        _signal(pids, groups, signal.SIGKILL)
    else:
        groups = set(watched.values())
        _signal(set(), groups, signal.SIGTERM)
        time.sleep(GRACE)
        _signal(set(), groups, signal.SIGKILL)


def main(argv: list[str]) -> None:
    mark_var = argv[1]
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    watched: dict[str, int] = {}
    for line in sys.stdin.buffer:
        parts = line.decode("ascii", "replace").split()
        if len(parts) == 3 and parts[0] == "+" and parts[2].isdigit():
            watched[parts[1]] = int(parts[2])
        elif len(parts) == 2 and parts[0] == "-":
            watched.pop(parts[1], None)
    end_all(mark_var, watched)  # the agent is gone


if __name__ == "__main__":
    main(sys.argv)
