"""gemini-live's MCP client as the official conformance suite's client under test.

    conformance client --command "python tests/conformance/client.py" --scenario NAME

The suite appends the server URL and sets MCP_CONFORMANCE_SCENARIO (and MCP_CONFORMANCE_CONTEXT,
JSON, for scenarios that bring credentials). This connects one remote server through the agent's
own McpServer (OAuth, transports and all), lists its tools, calls each one that needs no
arguments or whose arguments can be filled in, and exits 0 if it connected.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import anyio  # noqa: E402

from agent.config import McpServerConfig  # noqa: E402
from agent.console import Console  # noqa: E402
from agent.questions import Questions  # noqa: E402
from agent.tools.elicitation import Elicitation  # noqa: E402
from agent.tools.mcp_remote import RemoteConnector  # noqa: E402
from agent.tools.mcp_server import McpServer  # noqa: E402

CIMD_URL = "https://conformance-test.local/client-metadata.json"


def sample(schema: dict[str, Any]) -> dict[str, Any]:
    """Arguments that satisfy a simple object schema: required numbers, strings and booleans."""
    values = {"number": 1, "integer": 1, "string": "test", "boolean": True}
    props = schema.get("properties") or {}
    return {k: values.get((props.get(k) or {}).get("type", "string"), "test") for k in schema.get("required") or []}


async def press_enter(questions: Questions) -> None:
    """A person who takes every default an elicitation offers (an empty line each time)."""
    while True:
        await questions.wait_asked()
        questions.answer("")


async def main(url: str) -> int:
    context = json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}")
    oauth = {k: context[k] for k in ("client_id", "client_secret") if context.get(k)}
    if context.get("client_metadata_url"):
        oauth["client_metadata_url"] = context["client_metadata_url"]
    elif os.environ.get("MCP_CONFORMANCE_SCENARIO") == "auth/basic-cimd":
        # As a user would configure it: this client's metadata document, published at an https URL.
        oauth["client_metadata_url"] = CIMD_URL
    cfg = McpServerConfig(name="conformance", url=url, oauth=oauth, startup_timeout=60)
    server = McpServer(cfg)
    server.remote = RemoteConnector(cfg, authorize=True)
    questions = Questions(Console(sys.stderr, sys.stderr), timeout=30)
    server.elicit = Elicitation(questions, "conformance")
    async with anyio.create_task_group() as tg:
        tg.start_soon(press_enter, questions)
        await tg.start(server.run)
        if server.state == "failed":
            print(f"failed: {server.error}", file=sys.stderr)
            tg.cancel_scope.cancel()
            return 1
        for tool in server.tools:
            result = await server.call(tool.name, sample(tool.input_schema))
            print(f"{tool.name}: {json.dumps(result)[:200]}", file=sys.stderr)
        tg.cancel_scope.cancel()
    return 0


if __name__ == "__main__":
    raise SystemExit(anyio.run(main, sys.argv[-1]))
