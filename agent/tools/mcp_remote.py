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

logger = logging.getLogger(__name__)

OTHER_KIND = {"streamable-http": "sse", "sse": "streamable-http"}
KIND_NAMES = {"streamable-http": "streamable HTTP", "sse": "SSE"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")
NOTES_KEPT = 32
# What mcp's streamable HTTP client answers a request with when the POST failed at the HTTP level.
STAND_IN_ERRORS = {(types.INTERNAL_ERROR, "Server returned an error response"), (types.METHOD_NOT_FOUND, "Not Found")}
SERVER_TEXT_LIMIT = 300  # characters of server-supplied text in a message


def clean(text: object, limit: int = SERVER_TEXT_LIMIT) -> str:
    """Server-supplied text made safe for a terminal: no control or bidi characters, bounded length."""
    out = _CONTROL.sub("?", str(text)).replace("\n", " ")
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


class _Fallback(Exception):
    """Internal: the endpoint answered like the other kind; try that one."""

    def __init__(self, note: HttpNote | None, why: str) -> None:
        super().__init__(why)
        self.note = note


class RemoteConnector:
    """Opens one remote server's connections; remembers the transport that worked; explains failures."""

    def __init__(self, cfg: McpServerConfig, *, auth: httpx2.Auth | None = None) -> None:
        assert cfg.url is not None
        self.cfg = cfg
        self.url = cfg.url
        self.kind = cfg.kind  # switches after a fallback that worked
        self.auth = auth
        self.notes: deque[HttpNote] = deque(maxlen=NOTES_KEPT)
        self.diagnosis: str | None = None  # why the last connection attempt failed, in words
        self.login_hint: Callable[[], str] = lambda: f"run `gemini-live login {cfg.name}`"
        self._reported_fallback = False

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
            for kind in (self.kind, OTHER_KIND[self.kind]):
                try:
                    try:
                        await self._serve(kind, first, to_session, from_session)
                        return
                    except BaseExceptionGroup as group:  # raised through the transport's task group
                        raise _fallback_in(group) or group from None
                except _Fallback as fallback:
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
        since = len(self.notes)
        try:
            async with self._open(kind) as (read, write):
                await write.send(first)
                held = await self._await_reply(first, read, kind, since)
                if kind != self.kind:
                    self._switch_to(kind)
                for message in held:
                    await to_session.send(message)
                await _forward_both(read, write, to_session, from_session)
        except httpx2.HTTPStatusError as e:
            note = self._last_endpoint_note(since) or _note_of(e.response)
            if kind == "sse" and _answers_like_other_kind(note):
                raise _Fallback(note, f"GET {self.url} answered {note.status_text}") from e
            self.diagnosis = self._http_failure(note)
            raise
        except httpx2.SSEError as e:
            if kind == "sse":
                get = self._last_endpoint_note(since, "GET")
                raise _Fallback(get, f"GET {self.url} did not answer with an event stream") from e
            raise

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
                if note is not None and note.status in (401, 403):
                    self.diagnosis = self._http_failure(note)
                elif kind == "streamable-http" and _answers_like_other_kind(note) and _stand_in(reply):
                    assert note is not None
                    raise _Fallback(note, f"POST {self.url} answered {note.status_text}")
                elif note is not None and note.status >= 400:
                    self.diagnosis = self._http_failure(note)
                return held
        return held

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

    def explain(self, e: BaseException) -> str | None:
        """Why the last connection attempt failed, with what to do; None if there is nothing to add."""
        if self.diagnosis:
            return self.diagnosis
        if isinstance(e, httpx2.HTTPStatusError):
            return self._http_failure(_note_of(e.response))
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


def _fallback_in(group: BaseExceptionGroup) -> _Fallback | None:
    for leaf in group.exceptions:
        found = _fallback_in(leaf) if isinstance(leaf, BaseExceptionGroup) else leaf
        if isinstance(found, _Fallback):
            return found
    return None


async def _forward_both(
    read: Any, write: Any,
    to_session: MemoryObjectSendStream[SessionMessage | Exception],
    from_session: MemoryObjectReceiveStream[SessionMessage],
) -> None:
    """Pass messages both ways until either side ends."""
    async with anyio.create_task_group() as tg:

        async def forward(source: Any, sink: Any) -> None:
            try:
                async for message in source:
                    await sink.send(message)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                pass
            tg.cancel_scope.cancel()

        tg.start_soon(forward, read, to_session)
        tg.start_soon(forward, from_session, write)
