"""What ends a stdio server's processes when the agent cannot: the parent-death signal and the orphan guard.

tests/test_signals.py kills the real agent with SIGKILL; these check each mechanism on its own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.tools import parent_death, proc_tree
from agent.tools.orphan_guard import Guard
from tests.conftest import ROOT
from tests.test_mcp import alive

SLEEPER = [sys.executable, "-c", "import time; time.sleep(3600)"]


@pytest.fixture
def started() -> Iterator[list[int]]:
    """Pids of processes a test started; whatever is left of them is killed afterwards."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def wait_gone(pids: list[int], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while any(alive(pid) for pid in pids):
        assert time.monotonic() < deadline, f"still running: {[pid for pid in pids if alive(pid)]}"
        time.sleep(0.02)


@pytest.mark.skipif(not parent_death.available(), reason="no parent-death signal here")
def test_a_spawned_server_is_killed_with_its_parent(started: list[int]) -> None:
    """A process that spawned a server the agent's way is SIGKILLed: the server goes too (it ignores stdin)."""
    program = (
        "import os, sys, anyio\n"
        "from agent.tools import parent_death\n"
        "async def main():\n"
        f"    p = await parent_death.open_process({SLEEPER!r}, env=dict(os.environ))\n"
        "    print(p.pid, flush=True)\n"
        "    await anyio.sleep(3600)\n"
        "anyio.run(main)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    started.append(parent.pid)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    started.append(child)
    assert alive(child)
    parent.kill()
    parent.wait(timeout=30)
    wait_gone([child])


def sleeper(mark: str) -> subprocess.Popen[bytes]:
    """A marked process in a session of its own, as a server's daemonised grandchild would be."""
    return subprocess.Popen(SLEEPER, env={**os.environ, proc_tree.MARK_VAR: mark}, start_new_session=True)


def test_the_guard_ends_what_is_registered_when_the_pipe_ends(started: list[int]) -> None:
    guard = Guard(proc_tree.MARK_VAR)
    mark = proc_tree.new_mark()
    first, second = sleeper(mark), sleeper(mark)  # two processes with the one mark: both go
    started += [first.pid, second.pid]
    guard.watch(mark, first.pid)
    assert guard.pid is not None
    started.append(guard.pid)
    guard.close()  # as the agent's death would: the guard reads the end of its pipe
    wait_gone([first.pid, second.pid, guard.pid])
    first.wait(timeout=10)
    second.wait(timeout=10)


def test_the_guard_leaves_what_was_released(started: list[int]) -> None:
    guard = Guard(proc_tree.MARK_VAR)
    kept_mark, ended_mark = proc_tree.new_mark(), proc_tree.new_mark()
    kept, ended = sleeper(kept_mark), sleeper(ended_mark)
    started += [kept.pid, ended.pid]
    guard.watch(kept_mark, kept.pid)
    guard.watch(ended_mark, ended.pid)
    guard.release(kept_mark)  # stopped by the agent itself (it lives on here only because this test made it)
    guard_pid = guard.pid
    assert guard_pid is not None
    guard.close()
    wait_gone([ended.pid, guard_pid])
    ended.wait(timeout=10)
    assert alive(kept.pid)
    kept.kill()
    kept.wait(timeout=10)


def test_the_guard_is_its_own_program() -> None:
    """It runs with -I -S: nothing of the agent may be imported there."""
    source = Path(parent_death.__file__).with_name("orphan_guard.py").read_text()
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert all(line.split()[1].split(".")[0] in sys.stdlib_module_names | {"__future__"} for line in imports), imports
