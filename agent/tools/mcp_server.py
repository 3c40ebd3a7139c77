"""One MCP server as a tool backend: one task owns its transport and session.

Each `McpServer.run` opens the transport and a `ClientSession` inside that one task (anyio's
cancel-scope rule), runs the 2024-11 .. 2025-11 `initialize` handshake (or, for a server that
speaks only the stateless 2026-07-28 protocol, `server/discover`: see mcp_era), lists tools and
then serves until cancelled. `tools/list` and `tools/call` go through the session's JSON-RPC
dispatcher as raw requests: mcp 2.3 validates typed results against the negotiated protocol
version, and one off-spec tool (an inputSchema without `type`, as zod 4 servers send) would
otherwise cost the whole server.

A server whose connection drops (a stdio process that died) answers in-flight calls at once with
an error and is restarted on its next use, after a backoff; after MAX_RESTARTS restarts in a row
without a successful call it is paused for a cool-down (see cool_down), answering calls at once as
unavailable, and then tried again on its next use. A remote server whose connection drops is never
given up: it is reconnected in the background with backoff (see mcp_remote.Retry), calls meanwhile
are answered at once as unavailable and retryable, and its tools are listed again once it is back.
"""

from __future__ import annotations

import logging
import math
import os
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
import anyio.abc
import mcp_types as types
from mcp import ClientSession
from mcp.client._transport import TransportStreams
from mcp.shared.dispatcher import CallOptions
from mcp.shared.exceptions import MCPError
from mcp.shared.jsonrpc_dispatcher import JSONRPCDispatcher
from mcp_types import CONNECTION_CLOSED, INVALID_PARAMS, METHOD_NOT_FOUND
from pydantic import ValidationError

from agent.config import McpServerConfig
from agent.tools.base import DiscoveredTool
from agent.tools.cool_down import COOL_DOWN_START, CoolDown, in_words
from agent.tools.input_required import fulfil
from agent.tools.mcp_era import negotiate, stamped
from agent.tools.mcp_log import ServerLog, ServerLogs
from agent.tools.mcp_remote import RemoteConnector, clean
from agent.tools.mcp_results import format_call_result, tools_from_raw
from agent.tools.mcp_stdio import ServerProcess, stdio_transport
from agent.tools.mcp_transports import WatchedReadStream, open_remote
from agent.tools.oauth import AUTHORIZE_TIMEOUT
from agent.tools.progress import request_options
from agent.tools.results import ERROR, INVALID_ARGUMENT, UNAVAILABLE, failure, unavailable

logger = logging.getLogger(__name__)

CLIENT_INFO = types.Implementation(name="gemini-live", version="0.1.0")
BACKOFF_START = 0.5  # seconds before the first restart; doubles per restart in a row
BACKOFF_MAX = 8.0
MAX_RESTARTS = 5  # restarts in a row without a successful call before a cool-down
MAX_TOOL_PAGES = 100  # tools/list pages followed before assuming the cursor loops
STDERR_LINES_IN_ERRORS = 10
WITHHELD_ENV = frozenset({"GOOGLE_API_KEY", "GEMINI_API_KEY"})  # not handed to every MCP server

ServerState = Literal["idle", "starting", "ready", "crashed", "restarting", "paused", "failed", "stopped"]
TransportFactory = Callable[[], AbstractAsyncContextManager[TransportStreams]]


class _StartFailed(Exception):
    """Internal: one connection attempt failed before the server was ready."""


@dataclass
class _Connection:
    dispatcher: JSONRPCDispatcher[Any]
    session: ClientSession
    lost: anyio.Event
    process: ServerProcess | None
    headers: dict[str, str] = field(default_factory=dict)
    stateless: bool = False  # the 2026-07-28 protocol: each request carries its envelope (see mcp_era)

    async def request(self, method: str, params: dict[str, Any] | None, opts: CallOptions | None = None) -> dict[str, Any]:
        options: CallOptions = {"headers": self.headers}
        options.update(opts or {})
        if self.stateless:
            params = stamped(self.session, method, params, options)
        return await self.dispatcher.send_raw_request(method, params, options)


class McpServer:
    """One configured MCP server: a ToolBackend whose `run` task owns the connection."""

    def __init__(
        self,
        cfg: McpServerConfig,
        *,
        transport: TransportFactory | None = None,
        backoff: float = BACKOFF_START,
        max_restarts: int = MAX_RESTARTS,
        cool_down: float = COOL_DOWN_START,
        logs: ServerLogs | None = None,
    ) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.log = ServerLog(cfg.name, cfg.log_level, logs)  # its notifications/message: -v and the record
        self.tools: list[DiscoveredTool] = []
        self.error: str | None = None  # why it failed to start (or gave up restarting)
        self.state: ServerState = "idle"
        self.server_info: types.Implementation | None = None
        self.protocol_version: str | None = None
        self.processes: list[ServerProcess] = []  # every process spawned for it, oldest first
        self._transport = transport
        self._backoff = backoff
        self._max_restarts = max_restarts
        self.cool_down = CoolDown(cool_down)  # rests after bursts of crashes (stdio)
        self._conn: _Connection | None = None
        self._changed = anyio.Event()
        self._started = anyio.Event()
        self.elicit: Any = None  # answers elicitation/create: agent.tools.elicitation.Elicitation, set by the app
        self._restart_wanted = anyio.Event()
        self._list_changed = anyio.Event()  # the server sent notifications/tools/list_changed
        # Called after every tools/list (first start, list_changed, restart, reconnect): the catalog re-reads `tools`.
        self.on_tools_listed: Callable[[], None] = lambda: None
        self._restarts = 0
        self._lost_at = 0.0
        self._last_process: ServerProcess | None = None
        # Remote servers: one connector for every connection (transport fallback, auth, diagnostics).
        self.remote = RemoteConnector(cfg, backoff=backoff) if cfg.url is not None and transport is None else None

    # ---- the owning task ------------------------------------------------------------------

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Start, report started (up or failed), serve until cancelled; restart after a crash."""

        def on_first_ready() -> None:
            self._started.set()
            task_status.started()

        try:
            self._set_state("starting")
            try:
                await self._connect_and_serve(on_first_ready, list_tools=True)
            except _StartFailed as e:
                self.error = str(e)
                self._set_state("failed")
                self._started.set()
                task_status.started()
                return
            while await self._restart_when_wanted():
                pass
        finally:
            if self.state != "failed":
                self._set_state("stopped")
            self._started.set()

    async def _restart_when_wanted(self) -> bool:
        """After a lost connection: wait for a caller, back off, reconnect. False: gave up."""
        if self.remote is not None:
            return await self._reconnect_remote(self.remote)
        self._set_state("crashed")
        self._restart_wanted = anyio.Event()
        await self._restart_wanted.wait()
        self._set_state("restarting")
        while True:
            if self._restarts >= self._max_restarts:
                await self._rest()
                return True  # then restarted on its next use, as after any crash
            delay = min(self._backoff * 2**self._restarts, BACKOFF_MAX)
            await anyio.sleep(max(0.0, self._lost_at + delay - anyio.current_time()))
            self._restarts += 1
            logger.info("restarting MCP server %s (attempt %d)", self.name, self._restarts)
            try:
                await self._connect_and_serve(lambda: None, list_tools=True)  # a new version may list other tools
                return True
            except _StartFailed as e:
                logger.warning("MCP server %s failed to restart: %s", self.name, e)
                self._lost_at = anyio.current_time()

    async def _reconnect_remote(self, remote: RemoteConnector) -> bool:
        """A remote server that dropped: try again in the background, with backoff, for as long as we run.

        Calls meanwhile are answered at once as unavailable (and bring the next attempt forward);
        once it is back, its tools are listed again.
        """
        self._set_state("restarting")
        remote.retry.reset()
        self.error = remote.dropped

        def back() -> None:
            remote.retry.reset()
            self.error = None

        while True:
            await remote.retry.wait()
            try:
                await self._connect_and_serve(back, list_tools=True)
                return True
            except _StartFailed as e:
                if str(e) != self.error:
                    logger.warning("MCP server %s is unavailable, retrying in the background: %s", self.name, e)
                self.error = str(e)
                remote.retry.failed()

    async def _connect_and_serve(self, on_ready: Callable[[], None], *, list_tools: bool) -> None:
        """One connection: open, handshake, (list tools), serve until it is lost."""
        lost = anyio.Event()
        ready = False
        self._last_process = None
        startup = anyio.CancelScope(deadline=anyio.current_time() + self.cfg.startup_timeout)
        if self.remote is not None:  # a person signing in in a browser is not a slow start
            self.remote.on_authorize = lambda: setattr(startup, "deadline", anyio.current_time() + AUTHORIZE_TIMEOUT + 30)
        try:
            with startup:
                async with self._open_transport() as ((read, write), process):
                    self._last_process = process
                    dispatcher = JSONRPCDispatcher(WatchedReadStream(read, lost), write)
                    async with ClientSession(
                        dispatcher=dispatcher,
                        client_info=CLIENT_INFO,
                        logging_callback=self._on_log,
                        elicitation_callback=self._on_elicit,  # advertises elicitation, form and URL
                        message_handler=self._on_message,
                        log_level=self.cfg.log_level or "info",  # 2026-07-28: log messages are asked for per request
                    ) as session:
                        init = await negotiate(session, self.name)  # the 2025 handshake, or 2026-07-28 (see mcp_era)
                        conn = _Connection(dispatcher, session, lost, process, stateless=init.stateless)
                        if init.protocol_version and not init.stateless:
                            conn.headers = {"mcp-protocol-version": init.protocol_version}
                        await self._send_log_level(conn, init.capabilities)
                        if list_tools:
                            self.tools = await self._list_tools(conn)
                        startup.deadline = math.inf
                        self.server_info, self.protocol_version = init.server_info, init.protocol_version
                        self._conn, ready = conn, True
                        self._set_state("ready")
                        logger.info("MCP server %s ready: %d tools", self.name, len(self.tools))
                        if list_tools:
                            self.on_tools_listed()
                        on_ready()
                        await self._serve(conn)
        except Exception as e:  # noqa: BLE001 - any failure to connect is reported as data
            if not ready:
                raise _StartFailed(self._describe_failure(_leaf(e))) from None
            logger.warning("MCP server %s connection ended: %s", self.name, _leaf(e))
        finally:
            self._conn = None
            if ready:
                self._lost_at = anyio.current_time()
        if ready:
            logger.warning("MCP server %s closed the connection%s", self.name, self._exit_note())
            return
        if startup.cancelled_caught:
            raise _StartFailed(f"did not start within {self.cfg.startup_timeout:g} s{self._stderr_note()}")
        raise _StartFailed(f"closed the connection during start-up{self._exit_note()}{self._stderr_note()}")

    @asynccontextmanager
    async def _open_transport(self) -> AsyncIterator[tuple[TransportStreams, ServerProcess | None]]:
        if self._transport is not None:
            async with self._transport() as streams:
                yield streams, None
            return
        cfg = self.cfg
        if cfg.kind == "stdio" and sys.platform != "win32":
            assert cfg.command is not None
            cwd = os.path.expanduser(cfg.cwd) if cfg.cwd else None
            env = server_environment(cfg.env)
            async with stdio_transport(cfg.command, cfg.args, env=env, cwd=cwd, label=self.name,
                                       on_log=self.log.raw) as (streams, proc):
                self.processes.append(proc)
                yield streams, proc
            return
        if self.remote is not None:
            async with self.remote.connect() as streams:
                yield streams, None
            return
        async with open_remote(cfg) as streams:
            yield streams, None

    async def _serve(self, conn: _Connection) -> None:
        """Until the connection is lost: list the tools again whenever the server says they changed."""
        async with anyio.create_task_group() as tg:

            async def relist() -> None:
                while True:
                    await self._list_changed.wait()
                    self._list_changed = anyio.Event()
                    try:
                        self.tools = await self._list_tools(conn)
                    except Exception as e:  # noqa: BLE001 - a failed re-list keeps the old tools; the connection may be going
                        logger.warning("MCP server %s: listing its changed tools failed: %s", self.name, clean(_leaf(e)))
                        continue
                    logger.info("MCP server %s changed its tools: %d now", self.name, len(self.tools))
                    self.on_tools_listed()

            tg.start_soon(relist)
            await conn.lost.wait()
            tg.cancel_scope.cancel()

    async def _list_tools(self, conn: _Connection) -> list[DiscoveredTool]:
        raw_tools: list[Any] = []
        cursor: str | None = None
        seen: set[str] = set()
        for _ in range(MAX_TOOL_PAGES):
            try:
                result = await conn.request("tools/list", {"cursor": cursor} if cursor else None)
            except MCPError as e:
                if e.code == METHOD_NOT_FOUND and not raw_tools:
                    return []  # a server with no tools capability
                raise
            page = result.get("tools")
            raw_tools.extend(page if isinstance(page, list) else [])
            next_cursor = result.get("nextCursor")
            if not isinstance(next_cursor, str) or not next_cursor or next_cursor in seen:
                break
            seen.add(next_cursor)
            cursor = next_cursor
        return tools_from_raw(self.name, raw_tools)

    # ---- ToolBackend ----------------------------------------------------------------------

    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """Run `tool` on the server: {"output": ...} or {"error": ...}; raises only when cancelled."""
        conn = await self._connection_for_call()
        if isinstance(conn, str):  # trying again helps only while it is being restarted or reconnected
            return failure(UNAVAILABLE, conn, retryable=self.state not in ("failed", "idle", "stopped"))
        try:
            # Every call carries a progress token; the progress reaches the router (agent/tools/progress.py).
            params = {"name": tool, "arguments": arguments or {}}
            raw = await conn.request("tools/call", params, request_options())
            # A 2026-07-28 server may ask the person something first (input_required): answered, then called again.
            raw = await fulfil(conn.session, raw, lambda extra: conn.request("tools/call", {**params, **extra}, request_options()))
        except MCPError as e:
            if e.code == CONNECTION_CLOSED or conn.lost.is_set():
                with anyio.move_on_after(1.0):  # let the owning task reap the process, for its exit code
                    while self.state == "ready":
                        await self._changed.wait()
                if self.remote is not None:
                    return unavailable(f"MCP server {self.name!r} lost the connection while running {tool!r} "
                                       "(it may or may not have run); " + self.remote.unavailable(None))
                return unavailable(f"MCP server {self.name!r} stopped while running {tool!r}{self._exit_note()}; "
                                   "it will be restarted on the next call")
            detail = f" ({e.data})" if e.data not in (None, "", {}) else ""
            status = INVALID_ARGUMENT if e.code == INVALID_PARAMS else ERROR
            return failure(status, f"MCP server {self.name!r} returned error {e.code}: {e.message}{detail}")
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as e:
            return unavailable(f"MCP server {self.name!r} connection failed: {e!r}")
        except Exception as e:  # noqa: BLE001 - transports raise many kinds; a failed call is data
            logger.exception("tools/call %s on MCP server %s failed", tool, self.name)
            return {"error": f"calling {tool!r} on MCP server {self.name!r} failed: {type(e).__name__}: {e}"}
        self._restarts = 0  # the server answered: it works
        self.cool_down.succeeded()
        return format_call_result(raw)

    async def _connection_for_call(self) -> _Connection | str:
        while True:
            if self.state == "ready" and self._conn is not None and not self._conn.lost.is_set():
                return self._conn
            if self.state == "failed":
                return f"MCP server {self.name!r} is unavailable: {self.error}"
            if self.state in ("idle", "stopped"):
                return f"MCP server {self.name!r} is not running"
            if self.remote is not None and self.state in ("crashed", "restarting"):
                return self.remote.unavailable(self.error)
            if self.state == "paused":
                return (f"MCP server {self.name!r} is paused (retryable): it will be tried again on the first call "
                        f"{in_words(self.cool_down.seconds_left())} or later; it {self.error}")
            if self.state == "crashed":
                self._restart_wanted.set()
            await self._changed.wait()

    async def wait_started(self) -> None:
        """Return once the first start-up has finished, either way."""
        await self._started.wait()

    async def _rest(self) -> None:
        """A stdio server that stopped MAX_RESTARTS times in a row rests for a cool-down, then is tried again."""
        rest = in_words(self.cool_down.next_seconds())
        self.error = f"stopped {self._restarts} times in a row{self._stderr_note()}"
        logger.warning("MCP server %s stopped %d times in a row; pausing it, it is tried again on its first use %s or later%s",
                       self.name, self._restarts, rest, self._stderr_note())
        self._set_state("paused")
        await self.cool_down.rest()
        self._restarts = 0

    # ---- helpers --------------------------------------------------------------------------

    def _set_state(self, state: ServerState) -> None:
        self.state = state
        changed, self._changed = self._changed, anyio.Event()
        changed.set()

    async def _on_elicit(self, context: Any, params: types.ElicitRequestParams) -> types.ElicitResult | types.ErrorData:
        """elicitation/create: the person answers (agent/tools/elicitation.py), if anyone can."""
        if self.elicit is None:
            return types.ErrorData(code=types.INVALID_REQUEST, message="nobody can answer questions here")
        result: types.ElicitResult | types.ErrorData = await self.elicit(context, params)
        return result

    async def _on_log(self, params: types.LoggingMessageNotificationParams) -> None:
        self.log.message(params.level, params.logger, params.data)  # stdio servers' come from the reader instead

    async def _send_log_level(self, conn: _Connection, capabilities: types.ServerCapabilities) -> None:
        """The configured log_level, to a server that declares the logging capability (2025: 2026-07-28 has none)."""
        if self.cfg.log_level is None or capabilities.logging is None or conn.stateless:
            return
        try:
            await conn.request("logging/setLevel", {"level": self.cfg.log_level})
        except MCPError as e:
            logger.warning("MCP server %s refused log level %r: %s", self.name, self.cfg.log_level, clean(e.message))

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, Exception):
            logger.debug("MCP server %s transport error: %r", self.name, message)
        else:
            logger.debug("MCP server %s notification: %s", self.name, type(message).__name__)
            if isinstance(message, types.ToolListChangedNotification):
                self._list_changed.set()  # listed by _serve: no request may wait inside this handler

    def _exit_note(self) -> str:
        proc = self._last_process
        if proc is None or proc.returncode is None:
            return ""
        return f" (the process exited with code {proc.returncode})"

    def _stderr_note(self) -> str:
        proc = self._last_process
        if proc is None or not proc.stderr_tail:
            return ""
        return stderr_excerpt(proc)

    def _describe_failure(self, e: BaseException) -> str:
        cfg = self.cfg
        if self.remote is not None and (why := self.remote.explain(e)):
            return why
        if isinstance(e, FileNotFoundError) and cfg.kind == "stdio":
            return f"cannot run {cfg.command!r}: command not found (is it installed and on PATH?)"
        if isinstance(e, PermissionError) and cfg.kind == "stdio":
            return f"cannot run {cfg.command!r}: permission denied"
        if isinstance(e, MCPError) and e.code == CONNECTION_CLOSED:
            return f"closed the connection during start-up{self._exit_note()}{self._stderr_note()}"
        if isinstance(e, MCPError):
            return f"start-up request failed with error {e.code}: {e.message}{self._stderr_note()}"
        if isinstance(e, ValidationError):
            return f"sent an invalid initialize result: {e.errors()[0].get('msg')}{self._stderr_note()}"
        if cfg.kind != "stdio" and self._transport is None:
            return f"cannot reach {cfg.url}: {type(e).__name__}: {e}"
        return f"{type(e).__name__}: {e}{self._exit_note()}{self._stderr_note()}"


def stderr_excerpt(proc: ServerProcess) -> str:
    """The first and the last lines of a server's stderr (its reason is often the first), made safe to print."""
    tail = list(proc.stderr_tail)[-STDERR_LINES_IN_ERRORS:]
    head = proc.stderr_head[: max(0, proc.stderr_count - len(tail))]  # head lines the tail does not repeat
    skipped = proc.stderr_count - len(head) - len(tail)
    lines = [clean(line) for line in head]
    if skipped > 0:
        lines.append(f"… ({skipped} more lines)")
    lines += [clean(line) for line in tail]
    label = "first and last stderr lines" if skipped > 0 else "stderr"
    return f"; {label}:\n  " + "\n  ".join(lines)


def server_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """The parent's environment (PATH, HOME, proxies ...) without our Gemini credentials, plus `extra`.

    A server that needs one of those keys gets it by naming it in its `env` table.
    """
    env = {k: v for k, v in os.environ.items() if k not in WITHHELD_ENV}
    return {**env, **extra}


def _leaf(e: BaseException) -> BaseException:
    """The first real exception inside (nested) exception groups from task groups."""
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        e = next((x for x in e.exceptions if not isinstance(x, anyio.get_cancelled_exc_class())), e.exceptions[0])
    return e
