"""A stdio transport for MCP servers with our own process policy.

mcp 2.3's `stdio_client` is sound but its shutdown waits 2 s after closing stdin and 2 s more
after SIGTERM, hands the child our terminal's stderr, and never tells us the pid. Here the child
gets its own session (so `killpg` reaches grandchildren such as npx -> node), its stderr goes to
a logger and a tail kept for error messages, and shutdown takes at most ~1.5 s:
close stdin, 0.5 s grace, SIGTERM the group, 0.5 s, SIGKILL the group. Should the agent be
killed instead (SIGKILL), the server gets SIGKILL from the kernel (parent_death) and what it
started is ended by the orphan guard.
"""

from __future__ import annotations

import logging
import os
import signal
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.abc
from mcp.client._transport import TransportStreams
from mcp.shared.message import SessionMessage

from agent.tools import orphan_guard, parent_death, proc_tree
from agent.tools.mcp_lines import pump_stderr, pump_stdout

logger = logging.getLogger(__name__)

STDIN_CLOSE_GRACE = 0.5  # seconds for the server to exit on its own once stdin closes
SIGTERM_GRACE = 0.5  # seconds between SIGTERM and SIGKILL to the process group
KILL_REAP_TIMEOUT = 0.5  # seconds for the event loop to see the SIGKILLed leader go
STDERR_DRAIN_TIMEOUT = 0.2  # seconds to read what a dead server left in its stderr pipe
STDERR_TAIL_LINES = 20
STDERR_HEAD_LINES = 3  # a failed start's reason is often the first line, before a long traceback
_POLL = 0.01


@dataclass
class ServerProcess:
    """What the caller may know about the child: its pid (= process group id) and stderr tail."""

    pid: int
    stderr_tail: deque[str] = field(default_factory=lambda: deque(maxlen=STDERR_TAIL_LINES))
    stderr_head: list[str] = field(default_factory=list)
    stderr_count: int = 0  # lines seen, so head and tail can be told apart
    returncode: int | None = None


@asynccontextmanager
async def stdio_transport(
    command: str,
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str | None = None,
    label: str = "",
    on_log: Callable[[Any], None] | None = None,
) -> AsyncIterator[tuple[TransportStreams, ServerProcess]]:
    """Spawn `command args` and yield the (read, write) SessionMessage streams and the process.

    The server's log messages (their params) go to `on_log`, rate-limited, not through the session."""
    mark = proc_tree.new_mark()  # inherited by its descendants: finds those that leave the group
    # Its own session (see above) and, on Linux, SIGKILL when we die (see parent_death).
    process = await parent_death.open_process([command, *args], cwd=cwd, env={**env, proc_tree.MARK_VAR: mark})
    guard = orphan_guard.guard(proc_tree.MARK_VAR)
    guard.watch(mark, process.pid)  # should we be killed, the guard ends what it started
    info = ServerProcess(pid=process.pid)
    label = label or command
    # No awaits between the spawn and the try below, or a cancellation would leak the child.
    read_send, read_recv = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_send, write_recv = anyio.create_memory_object_stream[SessionMessage](0)

    async def read_stdout() -> None:
        assert process.stdout is not None
        try:
            async with read_send:
                await pump_stdout(process.stdout, read_send, label, on_log)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            pass  # our side closed during shutdown; the session sees EOF either way

    async def write_stdin() -> None:
        assert process.stdin is not None
        try:
            async with write_recv:
                async for message in write_recv:
                    data = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                    await process.stdin.send(data.encode() + b"\n")
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            # The server stopped reading (it died): end the session's read side so pending
            # requests fail now instead of waiting for a timeout.
            await read_send.aclose()

    stderr_done = anyio.Event()

    async def read_stderr() -> None:
        assert process.stderr is not None
        try:
            with suppress(anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
                await pump_stderr(process.stderr, lambda line: _stderr_line(line, info, label))
        finally:
            stderr_done.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(read_stdout)
        tg.start_soon(write_stdin)
        tg.start_soon(read_stderr)
        try:
            yield (read_recv, write_send), info
        finally:
            with anyio.CancelScope(shield=True):
                write_send.close()
                read_recv.close()
                await stop_process(process, label, mark)
                guard.release(mark)
                info.returncode = process.returncode
                if info.returncode is not None:
                    with anyio.move_on_after(STDERR_DRAIN_TIMEOUT):
                        await stderr_done.wait()  # its last words explain a failed start
                    with anyio.move_on_after(KILL_REAP_TIMEOUT):
                        await process.aclose()  # closes the pipes and the asyncio transport
            tg.cancel_scope.cancel()


def _stderr_line(line: str, info: ServerProcess, label: str) -> None:
    """One stderr line (already cut and made printable by pump_stderr)."""
    if line:
        info.stderr_count += 1
        if len(info.stderr_head) < STDERR_HEAD_LINES:
            info.stderr_head.append(line)
        info.stderr_tail.append(line)
        logger.debug("[%s stderr] %s", label, line)


async def stop_process(process: anyio.abc.Process, label: str = "", mark: str = "") -> None:
    """Close stdin, then SIGTERM and SIGKILL the child's process group, each step bounded; then
    the same for its descendants that left the group (see proc_tree)."""
    pgid = process.pid  # start_new_session: the leader's pid is the group id
    known = proc_tree.descendants(pgid)  # before the group goes and the parent links with it
    if process.stdin is not None:
        with suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
            await process.stdin.aclose()
    await _wait_gone(process, pgid, STDIN_CLOSE_GRACE)
    if _group_alive(pgid):
        logger.debug("MCP server %s still running after stdin closed; sending SIGTERM", label)
        _killpg(pgid, signal.SIGTERM)
        await _wait_gone(process, pgid, SIGTERM_GRACE)
    if _group_alive(pgid):
        logger.warning("MCP server %s ignored SIGTERM; sending SIGKILL", label)
        _killpg(pgid, signal.SIGKILL)
        await _wait_gone(process, pgid, KILL_REAP_TIMEOUT)
    if process.returncode is None:
        logger.warning("MCP server %s (pid %d) is still alive after SIGKILL; abandoning it", label, pgid)
    await proc_tree.end_escaped(known, mark, pgid, label, SIGTERM_GRACE)


async def _wait_gone(process: anyio.abc.Process, pgid: int, timeout: float) -> None:
    """Wait until the leader has exited and no other member of its group is left."""
    with anyio.move_on_after(timeout):
        while process.returncode is None or _group_alive(pgid):
            await anyio.sleep(_POLL)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # a zombie or a member we may not signal: not proof that it is gone
    return True


def _killpg(pgid: int, sig: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
