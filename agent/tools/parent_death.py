"""Stdio servers die with the agent even when it is killed outright (SIGKILL, the OOM killer).

A clean exit stops every server itself (see mcp_stdio.stop_process); a SIGKILL leaves no chance to.
On Linux each server is therefore spawned with a parent-death signal (prctl PR_SET_PDEATHSIG):
the kernel sends it SIGKILL when the thread that forked it ends. Servers are spawned from the
event loop's thread, which lives as long as the agent does, so that is when the agent dies. The
signal reaches the server process only; what it started is ended by agent/tools/orphan_guard.py.
Elsewhere (macOS, BSD) there is no such signal and servers are spawned as before.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import anyio.abc
from anyio.lowlevel import get_async_backend

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _load_prctl() -> Any:
    """libc's prctl, looked up once here: nothing may be loaded between fork and exec."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


_PRCTL = _load_prctl()


def available() -> bool:
    """Whether processes spawned here get a parent-death signal."""
    return _PRCTL is not None


def preexec(sig: int = signal.SIGKILL) -> Callable[[], None] | None:
    """A preexec_fn giving the child `sig` when we die (None where that cannot be done)."""
    prctl = _PRCTL
    if prctl is None:
        return None
    parent = os.getpid()

    def set_parent_death_signal() -> None:  # runs in the child, between fork and exec
        prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # we died before the signal was set: it will never come
            os._exit(1)

    return set_parent_death_signal


async def open_process(
    command: Sequence[str], *, env: Mapping[str, str], cwd: str | None = None, start_new_session: bool = True
) -> anyio.abc.Process:
    """`anyio.open_process` with pipes for stdin, stdout and stderr, and the parent-death signal where there is one."""
    extra: dict[str, Any] = {}
    if (fn := preexec()) is not None:
        extra["preexec_fn"] = fn  # anyio's open_process does not take it; its backend hands it to subprocess
    return await get_async_backend().open_process(
        list(command),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=env,
        start_new_session=start_new_session,
        **extra,
    )
