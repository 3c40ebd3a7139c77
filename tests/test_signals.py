"""SIGTERM and SIGHUP end the real agent as Ctrl-C does: clean-up runs, status 128+signum, nothing left.

`timeout`, `systemctl stop`, `docker stop` send SIGTERM; a closed terminal sends SIGHUP. Each test
runs gemini-live as a subprocess with stdio MCP servers that start grandchildren (one of them
ignores SIGTERM and keeps running after its stdin closes), signals it, and checks that every
process it started, and every process those started, is gone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import TEXT_ONLY, start_agent
from tests.fakes.live_server import FakeConnection
from tests.test_mcp import alive
from tests.test_tool_bridge_e2e import ToolModel, basic_stdio, call

SIGNALS = [pytest.param(signal.SIGTERM, id="SIGTERM"), pytest.param(signal.SIGHUP, id="SIGHUP")]


def wait_until(condition, what: str, proc: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"the agent exited ({proc.returncode}) before {what}: {proc.stderr.read()}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def living_members(pgid: int) -> list[int]:
    """Processes of the group that are not zombies (PID 1 here may be slow to reap orphans)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(stat.parent.name))
    return members


def servers_config(tmp: Path, *extra_flags: str) -> tuple[str, list[Path]]:
    """Two stdio servers, each with a grandchild: one polite, one that only SIGKILL stops."""
    pidfiles = [tmp / "polite.pid", tmp / "stubborn.pid"]
    toml = basic_stdio("polite", "--spawn-child", str(pidfiles[0]), *extra_flags)
    toml += basic_stdio("stubborn", "--spawn-child", str(pidfiles[1]), "--ignore-sigterm", "--linger", *extra_flags)
    return toml, pidfiles


def signal_and_check(proc: subprocess.Popen[str], signum: int, pidfiles: list[Path]) -> str:
    """Send `signum`; the agent must exit 128+signum and leave no process (group) behind."""
    grandchildren = [int(p.read_text()) for p in pidfiles]
    servers = [parent_of(pid) for pid in grandchildren]
    assert all(alive(pid) for pid in servers + grandchildren)
    proc.send_signal(signum)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signum, err
    assert "Traceback" not in err
    assert signal.Signals(signum).name in err
    groups = [proc.pid, *servers]  # each server leads its own process group

    def left() -> list[int]:
        return [pid for pid in servers + grandchildren if alive(pid)] + [m for g in groups for m in living_members(g)]

    deadline = time.monotonic() + 10  # bounded: SIGKILL is asynchronous
    while left():
        assert time.monotonic() < deadline, f"processes left behind after {signal.Signals(signum).name}: {left()}"
        time.sleep(0.05)
    return err


@pytest.mark.parametrize("signum", SIGNALS)
def test_signal_while_a_tool_call_runs(live, clean_env: Path, signum: int) -> None:
    toml, pidfiles = servers_config(clean_env)
    marker = clean_env / "marks.txt"
    (clean_env / "gemini-live.toml").write_text(toml)
    live(ToolModel([call("slow", "stubborn__sleep", seconds=60, marker=str(marker))]))
    proc = start_agent(*TEXT_ONLY, cwd=clean_env)
    proc.stdin.write("go\n")
    proc.stdin.flush()
    wait_until(lambda: marker.exists() and "started" in marker.read_text(), "the tool call started", proc)
    signal_and_check(proc, signum, pidfiles)


@pytest.mark.parametrize("signum", SIGNALS)
def test_signal_while_idle(live, clean_env: Path, signum: int) -> None:
    toml, pidfiles = servers_config(clean_env)
    (clean_env / "gemini-live.toml").write_text(toml)

    async def quiet(conn: FakeConnection) -> None:
        await conn.expect_text()
        await conn.send_text("hello")

    server = live(quiet)
    proc = start_agent(*TEXT_ONLY, cwd=clean_env)
    proc.stdin.write("hi\n")
    proc.stdin.flush()
    wait_until(lambda: bool(server.connections) and server.connections[0].texts() == ["hi"], "the first turn", proc)
    signal_and_check(proc, signum, pidfiles)


@pytest.mark.parametrize("signum", SIGNALS)
def test_signal_while_servers_start(live, clean_env: Path, signum: int) -> None:
    """Signalled before the MCP servers have answered `initialize` (each sleeps first)."""
    toml, pidfiles = servers_config(clean_env, "--start-delay", "60")
    (clean_env / "gemini-live.toml").write_text(toml.replace("[mcp_servers.polite]", "[mcp_servers.polite]\nstartup_timeout = 120")
                                                .replace("[mcp_servers.stubborn]", "[mcp_servers.stubborn]\nstartup_timeout = 120"))
    server = live()
    proc = start_agent(*TEXT_ONLY, cwd=clean_env)
    wait_until(lambda: all(p.exists() and p.read_text() for p in pidfiles), "the servers were spawned", proc)
    signal_and_check(proc, signum, pidfiles)
    assert not server.connections  # it never got as far as the Live session


def test_a_signal_ignored_at_start_stays_ignored(live, clean_env: Path) -> None:
    """Under `nohup` SIGHUP is ignored when we start: it must not end the agent."""
    live()
    proc = subprocess.Popen(
        ["nohup", *start_agent_command()], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, cwd=clean_env, start_new_session=True,
    )
    try:
        proc.stdin.write("hello\n")
        proc.stdin.flush()
        # Wait for the answer before the signal, so the agent is surely running its loop.
        line = proc.stdout.readline()
        assert line == "echo: hello\n", proc.stderr.read() if proc.poll() is not None else line
        proc.send_signal(signal.SIGHUP)
        out, err = proc.communicate("again\n", timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out == "echo: again\n"


def start_agent_command() -> list[str]:
    from tests.conftest import agent_command

    return agent_command(*TEXT_ONLY)


def children_running(parent: int, program: str) -> list[int]:
    """Processes whose parent is `parent` and whose command line names `program`."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if program.encode() in cmdline.read_bytes() and parent_of(int(cmdline.parent.name)) == parent:
                found.append(int(cmdline.parent.name))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def test_sigkill_leaves_nothing_running(live, clean_env: Path) -> None:
    """SIGKILL gives the agent no chance to clean up: the kernel's parent-death signal ends each stdio
    server, the orphan guard what they started (here a grandchild that ignores its stdin closing), and
    then the guard exits too."""
    toml, pidfiles = servers_config(clean_env)
    (clean_env / "gemini-live.toml").write_text(toml)
    live()
    proc = start_agent(*TEXT_ONLY, cwd=clean_env)
    servers: list[int] = []
    grandchildren: list[int] = []
    guards: list[int] = []
    try:
        proc.stdin.write("hi\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == "echo: hi\n", proc.stderr.read() if proc.poll() is not None else ""
        grandchildren = [int(p.read_text()) for p in pidfiles]
        servers = [parent_of(pid) for pid in grandchildren]
        guards = children_running(proc.pid, "orphan_guard.py")
        assert len(guards) == 1 and all(alive(pid) for pid in servers + grandchildren)
    finally:
        proc.kill()
        proc.communicate(timeout=30)

    def left() -> list[int]:
        return [pid for pid in servers + grandchildren + guards if alive(pid)]

    try:
        deadline = time.monotonic() + 10  # bounded: the kernel signals at once, the guard's SIGTERM grace is 1 s
        while left():
            assert time.monotonic() < deadline, f"processes left running after the agent was killed: {left()}"
            time.sleep(0.05)
    finally:
        for pid in left():  # a failed run must not leave them to the next test
            os.kill(pid, signal.SIGKILL)
