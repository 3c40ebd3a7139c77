"""Remote MCP servers: failures in words that say what to do, and the streamable HTTP <-> SSE fallback.

Every server here is real and listens on 127.0.0.1: our test MCP server over streamable HTTP and
SSE, and small Starlette apps that answer as servers needing authorization or as no MCP endpoint.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import anyio
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from agent.config import McpServerConfig
from agent.tools.mcp import McpHub, McpServer
from tests.fakes.mcp_servers import build_server
from tests.test_mcp import running
from tests.web import WebServer, serving


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def refusing(status: int, www_authenticate: str | None) -> Starlette:
    """Answers every request to /mcp with `status` (and a WWW-Authenticate header)."""

    async def endpoint(request: Request) -> Response:
        headers = {"WWW-Authenticate": www_authenticate} if www_authenticate else {}
        return PlainTextResponse("no", status_code=status, headers=headers)

    return Starlette(routes=[Route("/mcp", endpoint, methods=["GET", "POST", "DELETE"])])


# ---- 401 and 403 ------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("transport", ["streamable-http", "sse"])
async def test_401_says_how_to_sign_in(transport: str) -> None:
    with serving(refusing(401, 'Bearer resource_metadata="http://127.0.0.1:9/.well-known/oauth-protected-resource"')) as web:
        hub = McpHub([McpServerConfig(name="linear", url=f"{web.origin}/mcp", transport=transport, oauth=False),
                      McpServerConfig(name="notion", url=f"{web.origin}/mcp", transport=transport,
                                      headers={"Authorization": "Bearer tok-5ecret"})])
        async with running(hub):
            failures = hub.failures
    for why in failures.values():
        assert f"{web.origin}/mcp answered HTTP 401 Unauthorized" in why
        assert "-32603" not in why and "Server returned an error response" not in why
    assert "give it credentials in `headers`" in failures["linear"]
    assert "Authorization header in its `headers` was refused" in failures["notion"]
    assert "tok-5ecret" not in failures["notion"]  # never the credential itself


@pytest.mark.anyio
async def test_403_insufficient_scope_names_the_scope() -> None:
    challenge = 'Bearer error="insufficient_scope", scope="repo:write", error_description="needs\x1b[31m write"'
    with serving(refusing(403, challenge)) as web:
        server = McpServer(McpServerConfig(name="gh", url=f"{web.origin}/mcp", headers={"Authorization": "Bearer t"}))
        async with running(server):
            assert server.state == "failed"
    assert "refused access" in server.error and "HTTP 403 Forbidden" in server.error
    assert "insufficient_scope" in server.error and "'repo:write'" in server.error


@pytest.mark.anyio
async def test_401_with_a_server_supplied_description_is_cleaned() -> None:
    challenge = 'Bearer error="invalid_token", error_description="token \x1b]0;pwned\x07expired"'
    with serving(refusing(401, challenge)) as web:
        server = McpServer(McpServerConfig(name="x", url=f"{web.origin}/mcp", oauth=False))
        async with running(server):
            pass
    assert "needs authorization" in server.error and "expired" in server.error
    assert "\x1b" not in server.error and "\x07" not in server.error


# ---- the other transport ----------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("served, configured", [("sse", "streamable-http"), ("streamable-http", "sse")])
async def test_an_endpoint_of_the_other_kind_falls_back_and_says_so(
    served: str, configured: str, caplog: pytest.LogCaptureFixture
) -> None:
    mcp = build_server("basic")
    app = mcp.sse_app() if served == "sse" else mcp.streamable_http_app()
    path = "/sse" if served == "sse" else "/mcp"
    caplog.set_level(logging.WARNING, logger="agent")
    with serving(app) as web:
        server = McpServer(McpServerConfig(name="web", url=f"{web.origin}{path}", transport=configured))
        async with running(server):
            assert server.state == "ready", server.error
            assert await server.call("add", {"a": 2, "b": 3}) == {"output": {"result": 5}}
            assert server.remote is not None and server.remote.kind == served
            assert server.remote.auth is None  # OAuth is attached only for a server that asks for it
    notices = [r.getMessage() for r in caplog.records if "answers as" in r.getMessage()]
    assert len(notices) == 1, caplog.text
    assert f'set transport = "{served}"' in notices[0] and "web" in notices[0]


@pytest.mark.anyio
@pytest.mark.parametrize("configured", ["streamable-http", "sse"])
async def test_a_url_that_is_no_mcp_endpoint_says_check_the_url(configured: str) -> None:
    with serving(Starlette(routes=[])) as web:  # 404 for everything
        server = McpServer(McpServerConfig(name="nothing", url=f"{web.origin}/mcp", transport=configured))
        async with running(server):
            assert server.state == "failed"
    assert "neither a streamable HTTP nor an SSE MCP endpoint" in server.error
    assert "HTTP 404 Not Found" in server.error and "check the URL" in server.error


@pytest.mark.anyio
async def test_connection_refused_names_the_url() -> None:
    server = McpServer(McpServerConfig(name="gone", url="http://127.0.0.1:9/mcp"))
    async with running(server):
        pass
    assert "cannot reach http://127.0.0.1:9/mcp" in server.error and "is the server running" in server.error


# ---- stdio: the first stderr lines as well as the last ---------------------------------------


FAILING_SERVER = r"""
import sys
print("Error: invalid configuration: no configuration has been provided, try setting KUBERNETES_MASTER", file=sys.stderr)
print("\x1b[31mred\x1b[0m second line", file=sys.stderr)
for i in range(40):
    print(f"  at frame {i}", file=sys.stderr)
print("exiting", file=sys.stderr)
sys.exit(1)
"""


@pytest.mark.anyio
async def test_a_failed_start_shows_the_first_and_the_last_stderr_lines() -> None:
    server = McpServer(McpServerConfig(name="k8s", command=sys.executable, args=["-c", FAILING_SERVER]))
    async with running(server):
        assert server.state == "failed"
    why = server.error
    assert "exited with code 1" in why
    assert "no configuration has been provided, try setting KUBERNETES_MASTER" in why  # the first line
    assert "exiting" in why and "at frame 39" in why  # the last ones
    assert "at frame 5" not in why and "more lines" in why  # the middle is cut
    assert "\x1b" not in why and "second line" in why


@pytest.mark.anyio
async def test_a_short_stderr_is_shown_whole_and_once() -> None:
    script = "import sys; print('one', file=sys.stderr); print('two', file=sys.stderr); sys.exit(2)"
    server = McpServer(McpServerConfig(name="short", command=sys.executable, args=["-c", script]))
    async with running(server):
        pass
    assert server.error.count("one") == 1 and server.error.count("two") == 1
    assert "more lines" not in server.error


# ---- a remote server that goes away and comes back ------------------------------------------


def mcp_app(kind: str, *, extra_tool: bool = False) -> Any:
    """A fresh basic MCP server app (an app's session manager runs once), optionally with one more tool."""
    mcp = build_server("basic")
    if extra_tool:

        @mcp.tool()
        def added() -> str:
            """A tool the server gained while it was down."""
            return "new"

    return mcp.sse_app() if kind == "sse" else mcp.streamable_http_app()


async def call_until_it_works(server: McpServer, tool: str, args: dict[str, Any]) -> list[dict[str, Any]]:
    """Call every 0.1 s until the answer is not an error; every error must say it is retryable."""
    errors: list[dict[str, Any]] = []
    with anyio.fail_after(60):
        while "error" in (result := await server.call(tool, args)):
            assert "retryable" in result["error"] or "try again" in result["error"], result
            errors.append(result)
            await anyio.sleep(0.1)
    return errors


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["streamable-http", "sse"])
async def test_a_server_that_was_down_for_a_while_works_again(kind: str) -> None:
    path = "/sse" if kind == "sse" else "/mcp"
    web = WebServer(mcp_app(kind)).start()
    try:
        server = McpServer(McpServerConfig(name="web", url=f"{web.origin}{path}", transport=kind), backoff=0.05)
        async with running(server):
            assert server.remote is not None
            assert await server.call("add", {"a": 1, "b": 2}) == {"output": {"result": 3}}
            await anyio.to_thread.run_sync(web.stop)

            # While it is down every call is answered, as retryable, and it keeps being retried
            # well past the five attempts after which it used to be given up for the session.
            with anyio.fail_after(60):
                first = await server.call("add", {"a": 1, "b": 2})
                assert "error" in first and "retryable" in first["error"]
                while server.remote.retry.attempts < 8:
                    result = await server.call("echo", {"text": "x"})
                    assert "unavailable right now (retryable)" in result["error"]
                    await anyio.sleep(0.05)
                assert "cannot reach" in (await server.call("echo", {"text": "x"}))["error"]
            assert server.state != "failed"

            web.app = mcp_app(kind, extra_tool=True)
            await anyio.to_thread.run_sync(web.start)
            await call_until_it_works(server, "add", {"a": 20, "b": 22})
            assert await server.call("add", {"a": 20, "b": 22}) == {"output": {"result": 42}}
            assert server.state == "ready"
            assert "added" in {t.name for t in server.tools}  # listed again once back
    finally:
        web.stop()


@pytest.mark.anyio
async def test_a_server_restarted_while_idle_gets_a_new_session() -> None:
    """The new process does not know our session id (HTTP 404): the client starts a new session."""
    web = WebServer(mcp_app("streamable-http")).start()
    try:
        server = McpServer(McpServerConfig(name="web", url=f"{web.origin}/mcp"), backoff=0.05)
        async with running(server):
            assert await server.call("echo", {"text": "a"}) == {"output": {"result": "a"}}
            await anyio.to_thread.run_sync(web.stop)
            web.app = mcp_app("streamable-http")
            await anyio.to_thread.run_sync(web.start)
            errors = await call_until_it_works(server, "echo", {"text": "b"})
            assert len(errors) <= 2, errors  # at most the call that met the old session, and one while reconnecting
            if errors:
                assert "no longer knows this session" in errors[0]["error"] and "did not run" in errors[0]["error"]
    finally:
        web.stop()
