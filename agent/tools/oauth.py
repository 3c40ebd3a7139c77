"""OAuth 2.1 for remote MCP servers, through the mcp SDK's `OAuthClientProvider`.

The SDK does what the MCP authorization spec asks of a client: discovery from `WWW-Authenticate`
`resource_metadata` or the RFC 9728 well-known URIs, authorization-server metadata (RFC 8414 and
OpenID, with the path variants and the 2025-03-26 fallbacks), a Client ID Metadata Document URL
when the server supports it else dynamic registration, PKCE S256, the RFC 8707 `resource`, scope
selection and step-up, the token endpoint auth methods, refresh. This module supplies what is
ours: where tokens live (a 0600 file per server under $XDG_STATE_HOME/gemini-live/oauth/), the
browser step (the authorization URL is printed and opened with `webbrowser`, so $BROWSER is
honoured) with a one-shot listener on 127.0.0.1 for the redirect, pre-registered credentials and
configured scopes, and whether a flow may start at all (`gemini-live login`, an interactive
session, or a server configured with an `oauth` table).

Tokens and secrets are never printed or logged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import socket
import sys
import threading
import time
import webbrowser
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import anyio.abc
import httpx2
from mcp.client.auth import OAuthClientProvider, OAuthFlowError
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from pydantic import ValidationError

from agent.config import McpServerConfig, OAuthSettings
from agent.tools.printable import printable

logger = logging.getLogger(__name__)

AUTHORIZE_TIMEOUT = 300.0  # seconds a person has to finish signing in
CALLBACK_PATH = "/callback"
CLIENT_NAME = "gemini-live"
MAX_CALLBACK_REQUEST = 16_384


__all__ = ["AuthorizationNeeded", "OAuthFlowError", "make_provider", "token_path"]


class AuthorizationNeeded(OAuthFlowError):
    """The server wants a person to sign in, and this run may not start that on its own."""


# ---- where tokens live ----------------------------------------------------------------------


def state_dir() -> Path:
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "gemini-live" / "oauth"


def token_path(cfg: McpServerConfig) -> Path:
    """One file per server name and URL (the issuer is recorded inside, by the SDK)."""
    assert cfg.url is not None
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", cfg.name)[:60] or "server"
    digest = hashlib.sha256(cfg.url.encode()).hexdigest()[:12]
    return state_dir() / f"{safe}-{digest}.json"


class FileTokenStorage:
    """The SDK's TokenStorage in a JSON file only the user can read (0600, in a 0700 folder)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            logger.warning("cannot read the stored OAuth tokens in %s (%s); signing in again", self.path, type(e).__name__)
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, **values: Any) -> None:
        data = {**self._read(), **values}
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".partial")
        with suppress(FileNotFoundError):
            partial.unlink()
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
        partial.replace(self.path)

    async def get_tokens(self) -> OAuthToken | None:
        raw = self._read().get("tokens")
        try:
            return OAuthToken.model_validate(raw) if raw else None
        except ValidationError:
            return None

    async def set_tokens(self, tokens: OAuthToken) -> None:
        expires_at = time.time() + tokens.expires_in if tokens.expires_in is not None else None
        self._write(tokens=tokens.model_dump(mode="json", exclude_none=True), expires_at=expires_at)

    def expires_at(self) -> float | None:
        """When the stored access token expires (so a restarted agent refreshes it in time)."""
        value = self._read().get("expires_at")
        return float(value) if isinstance(value, (int, float)) else None

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        raw = self._read().get("client_info")
        try:
            return OAuthClientInformationFull.model_validate(raw) if raw else None
        except ValidationError:
            return None

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self._write(client_info=client_info.model_dump(mode="json", exclude_none=True))

    def stored_redirect_port(self) -> int | None:
        raw = self._read().get("client_info") or {}
        for uri in raw.get("redirect_uris") or []:
            parts = urlsplit(str(uri))
            if parts.hostname == "127.0.0.1" and parts.port:
                return parts.port
        return None

    def forget(self) -> bool:
        """Delete what is stored for this server (`gemini-live logout`); False if nothing was."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True


# ---- the browser step --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LoopbackRedirect:
    """Prints and opens the authorization URL, then takes the one redirect on 127.0.0.1:port."""

    def __init__(self, name: str, port: int, notify: Callable[[str], None]) -> None:
        self.name = name
        self.port = port
        self.notify = notify
        self._listener: anyio.abc.Listener[anyio.abc.SocketStream] | None = None

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}{CALLBACK_PATH}"

    async def open_browser(self, url: str) -> None:
        # Listen before the browser can answer: a fast (or headless) browser may redirect at once.
        if self._listener is None:
            self._listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=self.port)
        self.notify(f"MCP server {self.name} needs you to sign in; opening this URL in your browser:\n  {printable(url, one_line=True)}")

        def open_it() -> None:
            # webbrowser.open may wait for the browser command to exit, which may wait for our
            # answer to the redirect: so it runs on its own, while we listen.
            if not webbrowser.open(url):
                self.notify("(no browser could be started: open the URL above yourself)")

        threading.Thread(target=open_it, name="browser", daemon=True).start()

    async def wait_for_redirect(self) -> AuthorizationCodeResult:
        """The code, state and iss of the first request to the callback path; bounded by AUTHORIZE_TIMEOUT."""
        if self._listener is None:
            raise OAuthFlowError("the redirect listener was not started")
        listener, self._listener = self._listener, None
        try:
            with anyio.fail_after(AUTHORIZE_TIMEOUT):
                while True:
                    result = await self._one_request(await _accept(listener))
                    if result is not None:
                        return result
        except TimeoutError:
            raise OAuthFlowError(f"nobody finished signing in within {AUTHORIZE_TIMEOUT:g} s") from None
        finally:
            await listener.aclose()

    async def _one_request(self, stream: anyio.abc.SocketStream) -> AuthorizationCodeResult | None:
        async with stream:
            with anyio.move_on_after(10):
                head = b""
                while b"\r\n\r\n" not in head and len(head) < MAX_CALLBACK_REQUEST:
                    try:
                        head += await stream.receive()
                    except (anyio.EndOfStream, anyio.BrokenResourceError):
                        break
                line = head.split(b"\r\n", 1)[0].decode("latin-1")
                parts = line.split(" ")
                target = urlsplit(parts[1]) if len(parts) == 3 and parts[0] == "GET" else None
                if target is None or target.path != CALLBACK_PATH:
                    await _respond(stream, 404, "Not found.")
                    return None
                query = {k: v[0] for k, v in parse_qs(target.query).items()}
                if "error" in query:
                    await _respond(stream, 400, "Sign-in was refused. You can close this tab.")
                    why = printable(query.get("error_description") or query["error"], one_line=True)[:300]
                    raise OAuthFlowError(f"the authorization server refused: {why}")
                if not query.get("code"):
                    await _respond(stream, 400, "No authorization code in this request.")
                    return None
                await _respond(stream, 200, f"gemini-live is signed in to {self.name}. You can close this tab.")
                return AuthorizationCodeResult(code=query["code"], state=query.get("state"), iss=query.get("iss"))
        return None


async def _accept(listener: anyio.abc.Listener[anyio.abc.SocketStream]) -> anyio.abc.SocketStream:
    """One connection from the listener (anyio listeners only `serve`; take the first and stop)."""
    send, receive = anyio.create_memory_object_stream[anyio.abc.SocketStream](1)
    async with anyio.create_task_group() as tg:

        async def handle(stream: anyio.abc.SocketStream) -> None:
            await send.send(stream)
            tg.cancel_scope.cancel()

        tg.start_soon(listener.serve, handle)
        stream = await receive.receive()
    return stream


async def _respond(stream: anyio.abc.SocketStream, status: int, text: str) -> None:
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
    body = f"<!doctype html><title>gemini-live</title><p>{text}</p>".encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n").encode()
    with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
        await stream.send(head + body)


# ---- the provider ------------------------------------------------------------------------------


class Provider(OAuthClientProvider):
    """The SDK's provider plus configured scopes and pre-registered credentials, and a gate on the flow."""

    def __init__(self, cfg: McpServerConfig, storage: FileTokenStorage, redirect: LoopbackRedirect,
                 may_authorize: Callable[[], bool], on_authorize: Callable[[], None]) -> None:
        settings = cfg.oauth_settings
        self.settings = settings
        self.server_name = cfg.name
        self.storage = storage
        self.redirect = redirect
        self.may_authorize = may_authorize
        self.on_authorize = on_authorize
        self.authorized = anyio.Event()  # set once a token was obtained through the browser
        metadata = OAuthClientMetadata(
            client_name=CLIENT_NAME,
            redirect_uris=[redirect.redirect_uri],  # type: ignore[list-item]
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="client_secret_basic" if settings.client_secret else "none",
            scope=_scope_text(settings.scopes),
        )
        super().__init__(
            server_url=cfg.url or "",
            client_metadata=metadata,
            storage=storage,
            redirect_handler=self._open,
            callback_handler=redirect.wait_for_redirect,
            client_metadata_url=settings.client_metadata_url,
        )

    async def _initialize(self) -> None:
        await super()._initialize()
        if self.context.current_tokens is not None:
            self.context.token_expiry_time = self.storage.expires_at()
        settings = self.settings
        if settings.client_id and (self.context.client_info is None or self.context.client_info.client_id != settings.client_id):
            # Pre-registered credentials come first, before a metadata document or registration.
            self.context.client_info = OAuthClientInformationFull(
                client_id=settings.client_id,
                client_secret=settings.client_secret,
                token_endpoint_auth_method="client_secret_basic" if settings.client_secret else "none",
                redirect_uris=[self.redirect.redirect_uri],  # type: ignore[list-item]
            )

    async def _perform_authorization(self) -> httpx2.Request:
        # Configured scopes join what the server asked for (discovery has just chosen those).
        configured = _scope_text(self.settings.scopes)
        if configured:
            asked = (self.context.client_metadata.scope or "").split()
            merged = [*configured.split(), *(s for s in asked if s not in configured.split())]
            self.context.client_metadata.scope = " ".join(merged)
        info, asm = self.context.client_info, self.context.oauth_metadata
        if info is not None and info.client_secret and asm is not None and asm.token_endpoint_auth_methods_supported:
            supported = asm.token_endpoint_auth_methods_supported
            if info.token_endpoint_auth_method not in supported:
                for method in ("client_secret_basic", "client_secret_post"):
                    if method in supported:
                        info.token_endpoint_auth_method = method
                        break
        return await super()._perform_authorization()

    async def _open(self, url: str) -> None:
        if not self.may_authorize():
            raise AuthorizationNeeded(f"run `gemini-live login {self.server_name}` to sign in")
        self.on_authorize()
        await self.redirect.open_browser(url)

    async def _handle_token_response(self, response: httpx2.Response) -> None:
        await super()._handle_token_response(response)
        self.authorized.set()


def _scope_text(scopes: list[str] | str | None) -> str | None:
    if scopes is None:
        return None
    text = " ".join(scopes) if isinstance(scopes, list) else scopes
    return " ".join(text.split()) or None


def default_notify(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def interactive() -> bool:
    """A person is at the terminal: an interactive session may start a sign-in by itself."""
    try:
        return sys.stdin.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def make_provider(cfg: McpServerConfig, *, authorize: bool | None = None,
                  notify: Callable[[str], None] = default_notify,
                  on_authorize: Callable[[], None] = lambda: None) -> Provider | None:
    """The OAuth provider for a remote server, or None when OAuth is off for it.

    `authorize`: may a browser sign-in start (True for `gemini-live login`); None decides per
    run: yes when the server has an `oauth` table (or `oauth = true`) or a person is at the terminal.
    """
    if not cfg.oauth_enabled:
        return None
    if cfg.oauth is None and any(k.lower() == "authorization" for k in cfg.headers):
        return None  # the user brings their own token
    storage = FileTokenStorage(token_path(cfg))
    settings: OAuthSettings = cfg.oauth_settings
    port = settings.redirect_port or storage.stored_redirect_port() or free_port()
    redirect = LoopbackRedirect(cfg.name, port, notify)
    explicit = cfg.oauth is not None

    def may_authorize() -> bool:
        return authorize if authorize is not None else (explicit or interactive())

    return Provider(cfg, storage, redirect, may_authorize, on_authorize)
