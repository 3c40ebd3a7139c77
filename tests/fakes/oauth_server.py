"""An MCP server protected by OAuth 2.1 with its own authorization server, built from mcp's server-side helpers.

`protected_server(origin)` returns an `MCPServer` (streamable HTTP at /mcp) whose app also serves
RFC 8414 metadata, RFC 9728 protected-resource metadata, dynamic registration, /authorize and
/token, backed by `MemoryAuthorizationServer`: it approves every authorization at once (the
consent screen a headless browser would click through) and records what it was asked, so tests
can check PKCE, `resource`, scopes, registration, refresh and client authentication.
"""

from __future__ import annotations

import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    RefreshToken,
    TokenError,
    construct_redirect_uri,
)
from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

HEADLESS_BROWSER = Path(__file__).with_name("headless_browser.py")


def browser_env(log: Path) -> dict[str, str]:
    """$BROWSER for a browser that follows the authorization URL with an HTTP client, logging it to `log`.

    Python's webbrowser reads $BROWSER once per process, so the log file travels in its own variable.
    """
    return {"BROWSER": f"{sys.executable} {HEADLESS_BROWSER} %s", "HEADLESS_BROWSER_LOG": str(log)}


@dataclass
class MemoryAuthorizationServer:
    """OAuthAuthorizationServerProvider in memory; approves every authorization request."""

    token_lifetime: int | None = 3600
    clients: dict[str, OAuthClientInformationFull] = field(default_factory=dict)
    codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    access: dict[str, AccessToken] = field(default_factory=dict)
    refresh: dict[str, RefreshToken] = field(default_factory=dict)
    authorizations: list[AuthorizationParams] = field(default_factory=list)
    registrations: list[OAuthClientInformationFull] = field(default_factory=list)
    grants: list[str] = field(default_factory=list)  # "authorization_code" / "refresh_token", in order

    def pre_register(self, client_id: str, client_secret: str, redirect_uri: str, scope: str,
                     method: str = "client_secret_basic") -> None:
        self.clients[client_id] = OAuthClientInformationFull(
            client_id=client_id, client_secret=client_secret, redirect_uris=[redirect_uri],  # type: ignore[list-item]
            token_endpoint_auth_method=method, grant_types=["authorization_code", "refresh_token"], scope=scope,
        )

    def issued(self) -> list[str]:
        """Every access and refresh token handed out (tests check none of them is ever printed)."""
        return [*self.access, *self.refresh]

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        return self.clients.get(client_id)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        self.clients[client_info.client_id] = client_info
        self.registrations.append(client_info)

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        self.authorizations.append(params)
        code = secrets.token_urlsafe(16)
        self.codes[code] = AuthorizationCode(
            code=code, scopes=params.scopes or [], expires_at=time.time() + 300, client_id=client.client_id,
            code_challenge=params.code_challenge, redirect_uri=params.redirect_uri,
            redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly, resource=params.resource,
        )
        return construct_redirect_uri(str(params.redirect_uri), code=code, state=params.state)

    async def load_authorization_code(self, client: OAuthClientInformationFull, authorization_code: str) -> AuthorizationCode | None:
        return self.codes.get(authorization_code)

    async def exchange_authorization_code(self, client: OAuthClientInformationFull, authorization_code: AuthorizationCode) -> OAuthToken:
        self.codes.pop(authorization_code.code, None)
        self.grants.append("authorization_code")
        return self._issue(client.client_id, authorization_code.scopes, authorization_code.resource)

    async def load_refresh_token(self, client: OAuthClientInformationFull, refresh_token: str) -> RefreshToken | None:
        return self.refresh.get(refresh_token)

    async def exchange_refresh_token(self, client: OAuthClientInformationFull, refresh_token: RefreshToken, scopes: list[str]) -> OAuthToken:
        if self.refresh.pop(refresh_token.token, None) is None:
            raise TokenError("invalid_grant", "unknown refresh token")
        self.grants.append("refresh_token")
        return self._issue(client.client_id, scopes or refresh_token.scopes, refresh_token.resource)

    async def load_access_token(self, token: str) -> AccessToken | None:
        found = self.access.get(token)
        if found is None or (found.expires_at is not None and found.expires_at < time.time()):
            return None
        return found

    async def revoke_token(self, token: Any) -> None:
        self.access.pop(getattr(token, "token", ""), None)
        self.refresh.pop(getattr(token, "token", ""), None)

    def _issue(self, client_id: str, scopes: list[str], resource: str | None) -> OAuthToken:
        access, refresh = f"at-{secrets.token_urlsafe(24)}", f"rt-{secrets.token_urlsafe(24)}"
        expires = int(time.time()) + self.token_lifetime if self.token_lifetime else None
        self.access[access] = AccessToken(token=access, client_id=client_id, scopes=scopes, expires_at=expires, resource=resource)
        self.refresh[refresh] = RefreshToken(token=refresh, client_id=client_id, scopes=scopes, resource=resource)
        return OAuthToken(access_token=access, token_type="Bearer", expires_in=self.token_lifetime,
                          refresh_token=refresh, scope=" ".join(scopes) or None)


def protected_server(origin: str, authority: MemoryAuthorizationServer, *, scopes: list[str] | None = None,
                     registration: bool = True) -> MCPServer:
    """An MCP server at {origin}/mcp that only answers with a token from `authority` (which it also serves)."""
    scopes = scopes if scopes is not None else ["mcp:tools"]
    server = MCPServer(
        "protected",
        auth_server_provider=authority,
        auth=AuthSettings(
            issuer_url=origin,  # type: ignore[arg-type]
            resource_server_url=f"{origin}/mcp",  # type: ignore[arg-type]
            client_registration_options=ClientRegistrationOptions(enabled=registration, valid_scopes=scopes, default_scopes=scopes),
            required_scopes=scopes,
            validate_token_resource=True,
        ),
    )

    @server.tool()
    def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    @server.tool()
    def whoami(ctx: Context) -> str:
        """The OAuth client the call was authorized for."""
        request = ctx.request_context.request
        user = getattr(request, "user", None) if request is not None else None
        token = getattr(user, "access_token", None)
        return getattr(token, "client_id", "") or ""

    return server
