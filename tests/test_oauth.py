"""OAuth 2.1 against a real authorization server and protected MCP server on 127.0.0.1.

The browser step is a headless stand-in set as $BROWSER (tests/fakes/headless_browser.py): it
follows the authorization URL, the server approves at once and redirects to the agent's one-shot
listener on 127.0.0.1.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import anyio
import pytest

from agent.config import McpServerConfig
from agent.tools.mcp import McpServer
from agent.tools.oauth import FileTokenStorage, free_port, token_path
from tests.fakes.oauth_server import MemoryAuthorizationServer, browser_env, protected_server
from tests.test_mcp import running
from tests.web import WebServer


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Protected:
    url: str
    authority: MemoryAuthorizationServer
    browser_log: Path

    def visits(self) -> list[str]:
        return self.browser_log.read_text().splitlines() if self.browser_log.exists() else []


@pytest.fixture
def state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    for key, value in browser_env(tmp_path / "browser.log").items():
        monkeypatch.setenv(key, value)
    return tmp_path / "state"


def serve_protected(tmp_path: Path, **kwargs: object) -> Iterator[Protected]:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    authority = MemoryAuthorizationServer(**{k: v for k, v in kwargs.items() if k == "token_lifetime"})  # type: ignore[arg-type]
    server = protected_server(origin, authority, **{k: v for k, v in kwargs.items() if k != "token_lifetime"})  # type: ignore[arg-type]
    web = WebServer(server.streamable_http_app(), port=port).start()
    try:
        yield Protected(f"{origin}/mcp", authority, tmp_path / "browser.log")
    finally:
        web.stop()


@pytest.fixture
def protected(tmp_path: Path, state_home: Path) -> Iterator[Protected]:
    yield from serve_protected(tmp_path)


def stored(cfg: McpServerConfig) -> dict:
    return json.loads(token_path(cfg).read_text())


@pytest.mark.anyio
async def test_sign_in_with_dynamic_registration_pkce_and_resource(protected: Protected, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = McpServerConfig(name="prot", url=protected.url, oauth={})  # an oauth table: may sign in unattended
    async with running(McpServer(cfg)) as server:
        assert server.state == "ready", server.error
        assert {t.name for t in server.tools} == {"echo", "whoami"}
        assert await server.call("echo", {"text": "hi"}) == {"output": {"result": "hi"}}
        client_id = (await server.call("whoami", {}))["output"]["result"]

    authority = protected.authority
    assert [r.client_id for r in authority.registrations] == [client_id]  # dynamic registration
    assert authority.registrations[0].token_endpoint_auth_method == "none"  # a public client
    [params] = authority.authorizations
    assert params.resource == protected.url  # RFC 8707
    assert params.scopes == ["mcp:tools"]  # from the protected resource metadata
    assert str(params.redirect_uri).startswith("http://127.0.0.1:") and str(params.redirect_uri).endswith("/callback")
    [visit] = protected.visits()
    query = parse_qs(urlsplit(visit).query)
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43

    path = token_path(cfg)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stored(cfg)["tokens"]["access_token"] in authority.access

    out, err = capsys.readouterr()
    assert visit.split("?")[0] in err  # the URL is printed as well as opened
    for token in authority.issued():
        assert token not in out and token not in err


@pytest.mark.anyio
async def test_stored_tokens_are_used_without_a_browser(protected: Protected) -> None:
    cfg = McpServerConfig(name="prot", url=protected.url, oauth={})
    async with running(McpServer(cfg)) as server:
        assert server.state == "ready", server.error
    # Next run: nobody at the terminal and no oauth table, yet the stored token serves.
    plain = McpServerConfig(name="prot", url=protected.url)
    async with running(McpServer(plain)) as server:
        assert server.state == "ready", server.error
        assert await server.call("echo", {"text": "again"}) == {"output": {"result": "again"}}
    assert len(protected.visits()) == 1 and len(protected.authority.registrations) == 1


@pytest.mark.anyio
async def test_without_a_person_or_an_oauth_table_it_says_how_to_sign_in(protected: Protected) -> None:
    cfg = McpServerConfig(name="prot", url=protected.url)  # stdin is not a terminal under pytest
    async with running(McpServer(cfg)) as server:
        assert server.state == "failed"
    assert "needs authorization" in server.error and "HTTP 401 Unauthorized" in server.error
    assert "gemini-live login prot" in server.error
    assert protected.visits() == []


@pytest.mark.anyio
async def test_an_expired_token_is_refreshed_without_a_browser(tmp_path: Path, state_home: Path) -> None:
    # Long enough that start-up on a loaded machine ends well before it, short enough to wait out.
    for protected in serve_protected(tmp_path, token_lifetime=5):
        cfg = McpServerConfig(name="short", url=protected.url, oauth={})
        async with running(McpServer(cfg)) as server:
            assert server.state == "ready", server.error
            with anyio.fail_after(30):
                while stored(cfg)["expires_at"] > __import__("time").time():
                    await anyio.sleep(0.1)  # let the token expire
            assert await server.call("echo", {"text": "later"}) == {"output": {"result": "later"}}
        assert protected.authority.grants == ["authorization_code", "refresh_token"]
        assert len(protected.visits()) == 1
        assert stored(cfg)["tokens"]["access_token"] in protected.authority.access  # the refreshed one is kept


@pytest.mark.anyio
async def test_pre_registered_client_and_configured_scopes(tmp_path: Path, state_home: Path) -> None:
    port = free_port()
    for protected in serve_protected(tmp_path, registration=False, scopes=["mcp:tools"]):
        protected.authority.pre_register("my-client", "s3cret-value", f"http://127.0.0.1:{port}/callback", "mcp:tools extra")
        cfg = McpServerConfig(name="pre", url=protected.url, oauth={
            "client_id": "my-client", "client_secret": "s3cret-value", "redirect_port": port, "scopes": ["mcp:tools", "extra"],
        })
        async with running(McpServer(cfg)) as server:
            assert server.state == "ready", server.error
            assert (await server.call("whoami", {}))["output"]["result"] == "my-client"
        assert protected.authority.registrations == []
        [params] = protected.authority.authorizations
        assert params.scopes is not None and params.scopes[:2] == ["mcp:tools", "extra"]
        assert "s3cret-value" not in token_path(cfg).read_text()  # the configured secret stays in the config


def test_logout_forgets_the_stored_tokens(tmp_path: Path, state_home: Path) -> None:
    cfg = McpServerConfig(name="x", url="http://127.0.0.1:9/mcp")
    storage = FileTokenStorage(token_path(cfg))
    assert storage.forget() is False
    anyio.run(storage.set_tokens, __import__("mcp.shared.auth", fromlist=["OAuthToken"]).OAuthToken(access_token="a", token_type="Bearer"))
    assert token_path(cfg).exists() and storage.forget() is True and not token_path(cfg).exists()


def test_login_tools_and_logout_through_the_cli(protected: Protected, tmp_path: Path) -> None:
    from tests.conftest import run_agent

    (tmp_path / "gemini-live.toml").write_text(f'[mcp_servers.prot]\nurl = "{protected.url}"\n')
    first = run_agent("tools", cwd=tmp_path)  # headless, no token yet: says how to sign in
    assert "needs authorization" in first.stderr and "gemini-live login prot" in first.stderr, first.stderr

    login = run_agent("login", "prot", cwd=tmp_path)
    assert login.status == 0, login.stderr
    assert "prot: signed in; 2 tools" in login.stderr
    assert len(protected.visits()) == 1

    listed = run_agent("tools", cwd=tmp_path)
    assert listed.status == 0 and "prot__echo" in listed.stdout, listed.stderr
    again = run_agent("login", "prot", cwd=tmp_path)
    assert "already signed in" in again.stderr and len(protected.visits()) == 1

    for result in (first, login, listed, again):
        for token in protected.authority.issued():
            assert token not in result.stdout and token not in result.stderr

    out = run_agent("logout", "prot", cwd=tmp_path)
    assert out.status == 0 and "signed out" in out.stderr
    assert "needs authorization" in run_agent("tools", cwd=tmp_path).stderr
    unknown = run_agent("login", "nope", cwd=tmp_path)
    assert unknown.status == 2 and "no MCP server named 'nope'" in unknown.stderr and "prot" in unknown.stderr


def test_oauth_settings_in_toml_tables_and_mcp_servers_json(tmp_path: Path) -> None:
    from agent.config import load_config
    from agent.errors import ConfigError

    (tmp_path / "servers.json").write_text(json.dumps({"mcpServers": {
        "linear": {"type": "http", "url": "https://example.test/mcp", "oauth": {"client_id": "abc", "scopes": ["read"]}},
    }}))
    (tmp_path / "gemini-live.toml").write_text(
        'mcp_config = "servers.json"\n[mcp_servers.gh]\nurl = "https://example.test/gh"\noauth = false\n'
    )
    config = load_config(None, {}, cwd=tmp_path)
    linear, gh = config.mcp_servers["linear"], config.mcp_servers["gh"]
    assert linear.oauth_settings.client_id == "abc" and linear.oauth_settings.scopes == ["read"] and linear.oauth_enabled
    assert gh.oauth is False and not gh.oauth_enabled
    (tmp_path / "gemini-live.toml").write_text('[mcp_servers.x]\nurl = "https://e.test"\noauth = { client_secret = "s" }\n')
    with pytest.raises(ConfigError, match=r"mcp_servers\.x\.oauth: `client_secret` needs `client_id`"):
        load_config(None, {}, cwd=tmp_path)
    (tmp_path / "gemini-live.toml").write_text('[mcp_servers.x]\ncommand = "srv"\noauth = {}\n')
    with pytest.raises(ConfigError, match="applies to remote servers"):
        load_config(None, {}, cwd=tmp_path)
