"""Remote MCP servers (streamable HTTP and SSE): transport fallback and failures that say what to do.

One `RemoteConnector` per configured server outlives its connections. Each connection is a pair
of streams handed to the session, pumped to the real transport by one task, so the transport
behind them can change during the handshake: a streamable-HTTP URL whose POST of `initialize`
gets a 4xx other than 401/403 is tried as an SSE endpoint (the MCP spec's backwards-compatibility
rule), and an SSE URL whose GET fails with a 4xx is tried as streamable HTTP. A fallback that
works is remembered for later connections and reported once, with the config change to make.

Every HTTP response of the connection's client is noted, so an `initialize` that failed with the
SDK's generic "-32603: Server returned an error response" can be explained: 401 (needs
authorization), 403 (refused; insufficient scope), or an endpoint of the other kind.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import anyio
import httpx2
import mcp_types as types
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.client._transport import TransportStreams
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import MCP_DEFAULT_SSE_READ_TIMEOUT, MCP_DEFAULT_TIMEOUT
from mcp.shared.message import SessionMessage

from agent.config import McpServerConfig
from agent.tools.oauth import AuthorizationNeeded, OAuthFlowError, make_provider, token_path
from agent.tools.printable import printable

logger = logging.getLogger(__name__)
# The SDK's transports log a dropped connection as an error with a traceback; we report it once,
# in words, ourselves. Their records show only when the agent logs verbosely (-v).
SDK_LOGGERS = ("mcp.client.sse", "mcp.client.streamable_http", "mcp.client.auth.oauth2")


def _verbose_only(record: logging.LogRecord) -> bool:
    return logging.getLogger("agent").isEnabledFor(logging.INFO)


for _name in SDK_LOGGERS:
    logging.getLogger(_name).addFilter(_verbose_only)

OTHER_KIND = {"streamable-http": "sse", "sse": "streamable-http"}
KIND_NAMES = {"streamable-http": "streamable HTTP", "sse": "SSE"}
NOTES_KEPT = 32
RECONNECT_CAP = 30.0  # seconds between attempts to reach a dropped server, at most
SESSION_GONE_TEXT = "the server no longer knows this session (did it restart?); the call did not run: reconnecting, try again"
# What mcp's streamable HTTP client answers a request with when the POST failed at the HTTP level.
STAND_IN_ERRORS = {(types.INTERNAL_ERROR, "Server returned an error response"), (types.METHOD_NOT_FOUND, "Not Found")}
SERVER_TEXT_LIMIT = 300  # characters of server-supplied text in a message


def clean(text: object, limit: int = SERVER_TEXT_LIMIT) -> str:
    """Server-supplied text made safe for a terminal, on one line, bounded in length."""
    out = printable(str(text), one_line=True)
    return out if len(out) <= limit else out[: limit - 1] + "…"


@dataclass(frozen=True)
class HttpNote:
    """One HTTP response the server's client received (never its body or any credential)."""

    method: str
    url: str  # without query or fragment
    status: int
    content_type: str
    www_authenticate: str

    @property
    def status_text(self) -> str:
        try:
            return f"HTTP {self.status} {HTTPStatus(self.status).phrase}"
        except ValueError:
            return f"HTTP {self.status}"

    def auth_param(self, name: str) -> str | None:
        match = re.search(rf'{name}=(?:"([^"]*)"|([^\s,]+))', self.www_authenticate)
        return None if match is None else clean(match.group(1) or match.group(2) or "", 200)


class RemoteConnectError(Exception):
    """A connection attempt failed for a reason already put in words (the connector's diagnosis)."""


class _AuthRetry(Exception):
    """Internal: the server answered 401 and OAuth was not attached yet; connect again with it."""


class _Fallback(Exception):
    """Internal: the endpoint answered like the other kind; try that one."""

    def __init__(self, note: HttpNote | None, why: str) -> None:
        super().__init__(why)
        self.note = note


class Retry:
    """When to try a dropped server again: `start` seconds, doubling to `cap`; a call may bring it forward.

    `kick()` (a call that found the server down) makes the next attempt happen now, but never
    sooner than `min_interval` after the previous one, so a model that keeps calling cannot
    hammer a server that is down.
    """

    def __init__(self, start: float = 0.5, cap: float = 30.0, min_interval: float = 1.0) -> None:
        self.start, self.cap, self.min_interval = start, cap, min(min_interval, cap)
        self.delay = start
        self.last_attempt = -float("inf")
        self.attempts = 0
        self.next_attempt = 0.0
        self._kicked = anyio.Event()

    async def wait(self) -> None:
        """Sleep until the next attempt is due (or kicked), then count it as made."""
        self.next_attempt = max(anyio.current_time(), self.last_attempt + self.delay)
        with anyio.move_on_after(self.next_attempt - anyio.current_time()):
            await self._kicked.wait()
            await anyio.sleep(max(0.0, self.last_attempt + self.min_interval - anyio.current_time()))
        self._kicked = anyio.Event()
        self.last_attempt = anyio.current_time()
        self.attempts += 1

    def kick(self) -> None:
        self._kicked.set()

    def failed(self) -> None:
        self.delay = min(self.delay * 2, self.cap)

    def reset(self) -> None:
        self.delay = self.start

    def seconds_to_next(self) -> float:
        return max(0.0, self.next_attempt - anyio.current_time())


class RemoteConnector:
    """Opens one remote server's connections; remembers the transport that worked; explains failures."""

    def __init__(self, cfg: McpServerConfig, *, auth: httpx2.Auth | None = None, backoff: float = 0.5,
                 authorize: bool | None = None) -> None:
        assert cfg.url is not None
        self.cfg = cfg
        # Called when a person is asked to sign in (the owner lifts its start-up deadline then).
        self.on_authorize: Callable[[], None] = lambda: None
        self.retry = Retry(start=backoff, cap=RECONNECT_CAP, min_interval=max(backoff, 0.05) * 2)
        self.url = cfg.url
        self.kind = cfg.kind  # switches after a fallback that worked
        self._authorize = authorize
        # OAuth is attached up front when it is configured or tokens are stored; otherwise only
        # once the server answers 401 (the SDK's provider holds a lock over each request).
        wanted = auth is not None or authorize or cfg.oauth is not None or token_path(cfg).exists()
        self.auth = auth if auth is not None else self._oauth() if wanted else None
        self.notes: deque[HttpNote] = deque(maxlen=NOTES_KEPT)
        self.diagnosis: str | None = None  # why the last connection attempt failed, in words
        self.dropped: str | None = None  # why the last working connection ended
        self.login_hint: Callable[[], str] = lambda: f"run `gemini-live login {cfg.name}`"
        self._reported_fallback = False
        self._session_gone = anyio.Event()  # set when the server answers 404 to our session id

    def _oauth(self) -> httpx2.Auth | None:
        return make_provider(self.cfg, authorize=self._authorize, on_authorize=lambda: self.on_authorize())

    # ---- the HTTP client -------------------------------------------------------------------

    def http_client(self, headers: dict[str, str] | None = None, timeout: httpx2.Timeout | None = None,
                    auth: httpx2.Auth | None = None) -> httpx2.AsyncClient:
        """A client with the configured headers and auth that notes every response (an SDK client factory)."""
        merged = {**dict(self.cfg.headers), **(headers or {})}
        return httpx2.AsyncClient(
            headers=merged or None,
            timeout=timeout or httpx2.Timeout(MCP_DEFAULT_TIMEOUT, read=MCP_DEFAULT_SSE_READ_TIMEOUT),
            auth=auth or self.auth,
            event_hooks={"response": [self._note]},
        )

    async def _note(self, response: httpx2.Response) -> None:
        request = response.request
        if response.status_code == 404 and "mcp-session-id" in request.headers:
            self._session_gone.set()
        url = str(request.url.copy_with(query=None, fragment=None))
        self.notes.append(HttpNote(
            method=request.method,
            url=url,
            status=response.status_code,
            content_type=response.headers.get("content-type", "").partition(";")[0].strip().lower(),
            www_authenticate=response.headers.get("www-authenticate", ""),
        ))

    def _last_endpoint_note(self, since: int, method: str | None = None) -> HttpNote | None:
        """The newest response from the MCP endpoint itself (not discovery or token requests)."""
        base = self.url.split("?", 1)[0].rstrip("/")
        notes = list(self.notes)[since:] if since <= len(self.notes) else list(self.notes)
        for note in reversed(notes):
            if note.url.rstrip("/") == base and (method is None or note.method == method):
                return note
        return None

    # ---- connections -----------------------------------------------------------------------

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[TransportStreams]:
        """Streams for one session; the transport behind them is chosen during the handshake."""
        self.diagnosis = None
        to_session, session_reads = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        session_writes, from_session = anyio.create_memory_object_stream[SessionMessage](0)
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._pump, to_session, from_session)
            try:
                yield session_reads, session_writes
            finally:
                session_writes.close()
                session_reads.close()
                tg.cancel_scope.cancel()

    def _open(self, kind: str) -> AbstractAsyncContextManager[TransportStreams]:
        if kind == "sse":
            return sse_client(self.url, httpx_client_factory=self.http_client)
        return _streamable(self)

    async def _pump(
        self,
        to_session: MemoryObjectSendStream[SessionMessage | Exception],
        from_session: MemoryObjectReceiveStream[SessionMessage],
    ) -> None:
        async with to_session, from_session:
            try:
                first = await from_session.receive()
            except (anyio.EndOfStream, anyio.ClosedResourceError):
                return
            first_failure: _Fallback | None = None
            kinds = [self.kind, OTHER_KIND[self.kind]]
            while kinds:
                kind = kinds[0]
                try:
                    await self._serve(kind, first, to_session, from_session)
                    return
                except _AuthRetry:
                    self.auth = self._oauth()  # the same transport again, now able to sign in
                    if self.auth is None:
                        raise RemoteConnectError(f"needs authorization: {self.url} answered HTTP 401") from None
                    continue
                except _Fallback as fallback:
                    kinds.pop(0)
                    if first_failure is not None:
                        self.diagnosis = self._neither(first_failure, fallback)
                        raise RemoteConnectError(self.diagnosis) from None
                    first_failure = fallback
                    logger.debug("MCP server %s: %s; trying %s", self.cfg.name, fallback, KIND_NAMES[OTHER_KIND[kind]])

    async def _serve(
        self,
        kind: str,
        first: SessionMessage,
        to_session: MemoryObjectSendStream[SessionMessage | Exception],
        from_session: MemoryObjectReceiveStream[SessionMessage],
    ) -> None:
        """One transport of `kind`: hand over `first` (the handshake), then pass messages until it ends."""
        since = len(self.notes)
        connected = False
        self._session_gone = anyio.Event()
        try:
            async with self._open(kind) as (read, write):
                await write.send(first)
                held = await self._await_reply(first, read, kind, since)
                if kind != self.kind:
                    self._switch_to(kind)
                connected = True
                for message in held:
                    await to_session.send(message)
                await _forward_both(read, write, to_session, from_session, self._session_gone)
        except Exception as group:  # noqa: BLE001 - sorted below; cancellation is not caught
            e = _leaf(group)
            if connected:
                # The server went away (or its HTTP requests fail): end the session's stream, so it
                # sees the connection lost, answers pending calls at once, and reconnects.
                self.dropped = clean(f"{type(e).__name__}: {e}")
                logger.debug("MCP server %s: the connection ended: %s", self.cfg.name, self.dropped)
                return
            if isinstance(e, _Fallback):
                raise e from None
            if isinstance(e, httpx2.HTTPStatusError):
                note = self._last_endpoint_note(since) or _note_of(e.response)
                if note.status == 401 and self._may_add_oauth():
                    raise _AuthRetry from None
                if kind == "sse" and _answers_like_other_kind(note):
                    raise _Fallback(note, f"GET {self.url} answered {note.status_text}") from e
                self.diagnosis = self._http_failure(note)
            elif isinstance(e, httpx2.SSEError) and kind == "sse":
                get = self._last_endpoint_note(since, "GET")
                raise _Fallback(get, f"GET {self.url} did not answer with an event stream") from e
            raise e from None

    async def _await_reply(
        self, first: SessionMessage, read: Any, kind: str, since: int
    ) -> list[SessionMessage | Exception]:
        """Messages up to the reply to `first`; raises _Fallback if the endpoint is of the other kind."""
        request_id = getattr(first.message, "id", None)
        held: list[SessionMessage | Exception] = []
        if request_id is None:
            return held
        async for message in read:
            held.append(message)
            reply = message.message if isinstance(message, SessionMessage) else None
            if isinstance(reply, types.JSONRPCResponse) and reply.id == request_id:
                return held
            if isinstance(reply, types.JSONRPCError) and reply.id == request_id:
                note = self._last_endpoint_note(since, "POST")
                if note is not None and note.status == 401 and self._may_add_oauth():
                    raise _AuthRetry
                if note is not None and note.status in (401, 403):
                    self.diagnosis = self._http_failure(note)
                elif kind == "streamable-http" and _answers_like_other_kind(note) and _stand_in(reply):
                    assert note is not None
                    raise _Fallback(note, f"POST {self.url} answered {note.status_text}")
                elif note is not None and note.status >= 400:
                    self.diagnosis = self._http_failure(note)
                return held
        return held

    def _may_add_oauth(self) -> bool:
        has_header = any(k.lower() == "authorization" for k in self.cfg.headers)
        return self.auth is None and self.cfg.oauth_enabled and not has_header

    def _switch_to(self, kind: str) -> None:
        configured = self.kind
        self.kind = kind
        if not self._reported_fallback:
            self._reported_fallback = True
            logger.warning(
                "MCP server %s: %s answers as %s, not %s; using %s (set transport = \"%s\" for it to skip the probe)",
                self.cfg.name, self.url, KIND_NAMES[kind], KIND_NAMES[configured], KIND_NAMES[kind], kind,
            )

    # ---- what went wrong, in words ---------------------------------------------------------

    def unavailable(self, reason: str | None) -> str:
        """A call's answer while the server is down: at once, retryable; it also brings the next attempt forward."""
        self.retry.kick()
        why = f": {reason}" if reason else ""
        return (f"MCP server {self.cfg.name!r} is unavailable right now (retryable){why}. It is being "
                f"reconnected in the background; try the call again in a few seconds")

    def explain(self, e: BaseException) -> str | None:
        """Why the last connection attempt failed, with what to do; None if there is nothing to add."""
        if self.diagnosis:
            return self.diagnosis
        if isinstance(e, httpx2.HTTPStatusError):
            return self._http_failure(_note_of(e.response))
        if isinstance(e, AuthorizationNeeded):
            note = self._last_endpoint_note(0)
            said = f"{self.url} answered {note.status_text}" if note else f"{self.url} asks for it"
            return f"needs authorization: {said}; {e}"
        if isinstance(e, OAuthFlowError):
            return f"signing in failed: {clean(e)}; try again with `gemini-live login {self.cfg.name}`"
        if isinstance(e, httpx2.ConnectError):
            return f"cannot reach {self.url}: {clean(e) or 'connection refused'} (is the server running, and the URL right?)"
        if isinstance(e, httpx2.TimeoutException):
            return f"cannot reach {self.url}: no answer in time ({type(e).__name__})"
        return None

    def _http_failure(self, note: HttpNote | None) -> str | None:
        if note is None:
            return None
        if note.status == 401:
            return self.unauthorized(note)
        if note.status == 403:
            return self.forbidden(note)
        return f"{note.method} {self.url} answered {note.status_text}"

    def unauthorized(self, note: HttpNote) -> str:
        has_header = any(k.lower() == "authorization" for k in self.cfg.headers)
        if has_header:
            fix = "the Authorization header in its `headers` was refused (an expired or wrong token?)"
        elif self.cfg.oauth_enabled:
            fix = self.login_hint()
        else:
            fix = 'give it credentials in `headers` (e.g. Authorization = "Bearer ${TOKEN}"), or remove `oauth = false`'
        detail = note.auth_param("error_description") or note.auth_param("error")
        why = f" ({detail})" if detail else ""
        return f"needs authorization: {self.url} answered {note.status_text}{why}; {fix}"

    def forbidden(self, note: HttpNote) -> str:
        error = note.auth_param("error")
        scope = note.auth_param("scope")
        if error == "insufficient_scope":
            wants = f" it asks for scope {scope!r};" if scope else ""
            return (f"refused access: {self.url} answered {note.status_text} (insufficient_scope):{wants} "
                    f"sign in again with that scope ({self.login_hint()})")
        return (f"refused access: {self.url} answered {note.status_text}: the account or token in use "
                f"may not use this server; check its permissions or {self.login_hint()}")

    def _neither(self, first: _Fallback, second: _Fallback) -> str:
        a = first.note.status_text if first.note else "an error"
        b = second.note.status_text if second.note else "an error"
        first_kind = KIND_NAMES[self.kind]
        return (f"{self.url} is neither a streamable HTTP nor an SSE MCP endpoint "
                f"(as {first_kind} it answered {a}, as {KIND_NAMES[OTHER_KIND[self.kind]]} {b}): check the URL")


@asynccontextmanager
async def _streamable(connector: RemoteConnector) -> AsyncIterator[TransportStreams]:
    async with connector.http_client() as client, streamable_http_client(connector.url, http_client=client) as streams:
        yield streams


def _note_of(response: httpx2.Response) -> HttpNote:
    return HttpNote(response.request.method, str(response.request.url.copy_with(query=None)), response.status_code,
                    response.headers.get("content-type", "").partition(";")[0].strip().lower(),
                    response.headers.get("www-authenticate", ""))


def _answers_like_other_kind(note: HttpNote | None) -> bool:
    """A 4xx that is not about credentials or rate: the spec's cue to try the other transport."""
    return note is not None and 400 <= note.status < 500 and note.status not in (401, 403, 408, 429)


def _stand_in(reply: types.JSONRPCError) -> bool:
    """The SDK's own error for an HTTP failure, not a JSON-RPC error the server sent."""
    return (reply.error.code, reply.error.message) in STAND_IN_ERRORS


def _leaf(e: BaseException) -> BaseException:
    """The exception that matters inside the groups transports' task groups raise (a fallback first)."""
    leaves: list[BaseException] = []

    def walk(x: BaseException) -> None:
        if isinstance(x, BaseExceptionGroup):
            for inner in x.exceptions:
                walk(inner)
        elif not isinstance(x, anyio.get_cancelled_exc_class()):
            leaves.append(x)

    walk(e)
    return next((x for x in leaves if isinstance(x, _Fallback)), leaves[0] if leaves else e)


def _session_expired(message: SessionMessage | Exception, gone: anyio.Event) -> SessionMessage | None:
    """An error answered after the server said 404 to our session id, reworded; None for any other message.

    The server restarted or dropped the session: per the spec the client starts a new one.
    """
    reply = message.message if isinstance(message, SessionMessage) else None
    if not isinstance(reply, types.JSONRPCError) or not gone.is_set():
        return None
    error = types.ErrorData(code=types.INVALID_REQUEST, message=SESSION_GONE_TEXT)
    return SessionMessage(types.JSONRPCError(jsonrpc="2.0", id=reply.id, error=error))


async def _forward_both(
    read: Any, write: Any,
    to_session: MemoryObjectSendStream[SessionMessage | Exception],
    from_session: MemoryObjectReceiveStream[SessionMessage],
    session_gone: anyio.Event,
) -> None:
    """Pass messages both ways until either side ends (or the server forgot our session)."""
    async with anyio.create_task_group() as tg:

        async def forward(source: Any, sink: Any) -> None:
            try:
                async for message in source:
                    expired = _session_expired(message, session_gone) if sink is to_session else None
                    await sink.send(expired or message)
                    if expired is not None:
                        break  # a new session needs a new handshake: end this connection
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                pass
            tg.cancel_scope.cancel()

        tg.start_soon(forward, read, to_session)
        tg.start_soon(forward, from_session, write)
