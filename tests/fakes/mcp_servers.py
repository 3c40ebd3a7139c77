"""MCP servers for tests, built with mcp 2.x's own server API.

Use them in-process (`in_memory(build_server("basic"))` is a transport factory for
`McpServer(cfg, transport=...)`) or as stdio subprocesses (`stdio_command("basic")`, which runs
tests/fakes/stdio_server.py). Flavours:

- basic: echo, add, sleep (records start/cancellation in a marker file), fail (isError),
  raise (a Python exception), protocol_error (a JSON-RPC error), crash (os._exit mid-call),
  image, audio, resource, resource_link, big (huge text), structured, mixed, header (an HTTP
  request header, for the streamable HTTP and SSE transports)
- weird: tools whose input schemas use $defs/$ref, anyOf-with-null, oneOf, const, enums of
  numbers, boolean additionalProperties, an empty schema
- paginated: PAGINATED_TOOLS tools served PAGE_SIZE per tools/list page
- notype: every tool's inputSchema is only {"$schema": ...} on the wire, as zod 4 servers send
- people: tools that need a person or take long (issue 10): count (progress), progress_flood,
  delete_note (destructiveHint), book (a form elicitation), sign_in (a URL elicitation),
  ask_name (input_required, on the 2026-07-28 protocol),
  screenshot (an image), nothing (no content at all), pick_colour (an enum argument)
- chatty: say (a log message) and level (the level set with logging/setLevel); see logging_server
"""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
import mcp_types as types
from mcp.client._memory import InMemoryTransport
from mcp.server.lowlevel import Server
from mcp.server.mcpserver import Audio, Context, Image, MCPServer
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel, Field

from tests.fakes.logging_server import chatty_server

FLAVOURS = ("basic", "weird", "paginated", "notype", "people", "chatty")
PAGINATED_TOOLS = 25
PAGE_SIZE = 10
BIG_CHARS = 200_000
STDIO_SERVER = Path(__file__).with_name("stdio_server.py")
RAW_STDIO_SERVER = Path(__file__).with_name("raw_stdio_server.py")
HOSTILE_STDIO_SERVER = Path(__file__).with_name("hostile_stdio_server.py")

# 1x1 transparent PNG
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


class Weather(BaseModel):
    city: str
    celsius: float
    tags: list[str]


class Point(BaseModel):
    x: float
    y: float


class Shape(BaseModel):
    model_config = {"extra": "forbid"}
    kind: Literal["circle", "square"]
    centre: Point
    size: float | None = None
    tags: list[str] = Field(default_factory=list)


def _mark(path: str, text: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(text + "\n")


def basic_server() -> MCPServer:
    server = MCPServer("basic")

    @server.tool()
    def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    async def sleep(seconds: float, marker: str = "") -> str:
        """Sleep; append 'started' and then 'done' or 'cancelled' to the marker file."""
        _mark(marker, "started")
        try:
            await anyio.sleep(seconds)
        except anyio.get_cancelled_exc_class():
            _mark(marker, "cancelled")
            raise
        _mark(marker, "done")
        return f"slept {seconds}"

    @server.tool()
    def fail(message: str = "it went wrong") -> types.CallToolResult:
        """Report a tool error (isError: true)."""
        return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)

    @server.tool(name="raise")
    def raise_(message: str = "boom") -> str:
        """Raise a Python exception inside the tool."""
        raise ValueError(message)

    @server.tool()
    def protocol_error() -> str:
        """Answer with a JSON-RPC error instead of a result."""
        raise MCPError(code=-32603, message="internal failure on purpose")

    @server.tool()
    async def crash(delay: float = 0.0, marker: str = "") -> str:
        """Exit the server process abruptly (stdio only!)."""
        _mark(marker, "started")
        await anyio.sleep(delay)
        os._exit(3)

    @server.tool()
    def image() -> Image:
        """Return a tiny PNG image."""
        return Image(data=PNG, format="png")

    @server.tool()
    def audio() -> Audio:
        """Return 1000 bytes of 'audio'."""
        return Audio(data=b"\0" * 1000, format="wav")

    @server.tool()
    def resource() -> types.CallToolResult:
        """Return an embedded text resource and an embedded blob."""
        return types.CallToolResult(
            content=[
                types.EmbeddedResource(
                    type="resource",
                    resource=types.TextResourceContents(uri="file:///notes.txt", mime_type="text/plain", text="a note"),
                ),
                types.EmbeddedResource(
                    type="resource",
                    resource=types.BlobResourceContents(
                        uri="file:///data.bin", mime_type="application/octet-stream",
                        blob=base64.b64encode(b"\1" * 300).decode(),
                    ),
                ),
            ]
        )

    @server.tool()
    def resource_link() -> types.CallToolResult:
        """Return a link to a resource."""
        return types.CallToolResult(
            content=[types.ResourceLink(type="resource_link", uri="file:///big.log", name="big.log", mime_type="text/plain")]
        )

    @server.tool()
    def big(chars: int = BIG_CHARS) -> str:
        """Return a huge text."""
        return "x" * chars

    @server.tool()
    def structured(city: str = "Paris") -> Weather:
        """Return structured content (with its JSON as text)."""
        return Weather(city=city, celsius=21.5, tags=["sunny", "mild"])

    @server.tool()
    def header(name: str, ctx: Context) -> str:
        """The value of an HTTP request header ("" over stdio or when absent)."""
        request = ctx.request_context.request
        return "" if request is None else request.headers.get(name, "")

    @server.tool()
    def mixed() -> types.CallToolResult:
        """Return text, an image and structured content that differs from the text."""
        return types.CallToolResult(
            content=[types.TextContent(type="text", text="see the picture"), Image(data=PNG, format="png").to_image_content()],
            structured_content={"count": 1},
        )

    return server


def weird_server() -> MCPServer:
    server = MCPServer("weird")

    @server.tool()
    def draw(shape: Shape, level: Annotated[int, Field(ge=1, le=3)] = 1, note: str | None = None) -> str:
        """Uses $defs/$ref, additionalProperties false, anyOf with null, const/enum."""
        return f"{shape.kind} at {shape.centre.x},{shape.centre.y} level {level}"

    @server.tool()
    def pick(choice: Literal[1, 2, 3], flag: bool | int = False) -> str:
        """A numeric enum and a two-type union."""
        return f"{choice} {flag}"

    @server.tool()
    def nothing() -> str:
        """No arguments at all."""
        return "nothing"

    return server


def paginated_server() -> Server[Any]:
    names = [f"tool_{i:02d}" for i in range(PAGINATED_TOOLS)]

    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        start = int(params.cursor) if params and params.cursor else 0
        page = names[start : start + PAGE_SIZE]
        end = start + PAGE_SIZE
        return types.ListToolsResult(
            tools=[
                types.Tool(name=n, description=f"Tool number {n[-2:]}", input_schema={"type": "object", "properties": {}})
                for n in page
            ],
            next_cursor=str(end) if end < len(names) else None,
        )

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        return types.CallToolResult(content=[types.TextContent(type="text", text=f"called {params.name}")])

    return Server("paginated", on_list_tools=list_tools, on_call_tool=call_tool)


def notype_server() -> MCPServer:
    """Rewrites tools/list on the way out (a middleware runs after mcp's own result validation)."""

    async def strip_type(ctx: Any, call_next: Callable[[Any], Any]) -> Any:
        result = await call_next(ctx)
        if ctx.method == "tools/list" and isinstance(result, dict):
            for tool in result.get("tools", []):
                tool["inputSchema"] = {"$schema": "http://json-schema.org/draft-07/schema#"}
        return result

    server = MCPServer("notype", middleware=[strip_type])

    @server.tool()
    def greet(name: str = "world") -> str:
        """Greet someone."""
        return f"hello {name}"

    @server.tool()
    def shout(text: str = "") -> str:
        """Upper-case the text."""
        return text.upper()

    return server


class Booking(BaseModel):
    name: str = Field(description="Who the table is for")
    guests: int = Field(default=2, description="How many people")
    window: bool = Field(default=False, description="A table by the window")


def people_server() -> MCPServer:
    server = MCPServer("people")

    @server.tool()
    async def count(ctx: Context, steps: int = 6, every: float = 0.5) -> str:
        """Count slowly, reporting progress at each step."""
        for i in range(1, steps + 1):
            await anyio.sleep(every)
            await ctx.report_progress(i, steps, f"step {i} of {steps}")
        return f"counted to {steps}"

    @server.tool()
    async def progress_flood(ctx: Context, count: int = 5000) -> str:
        """Send `count` progress notifications as fast as possible, then answer."""
        for i in range(count):
            await ctx.report_progress(i + 1, count)
        return "flooded"

    @server.tool(annotations=types.ToolAnnotations(destructive_hint=True))
    def delete_note(title: str, marker: str = "") -> str:
        """Delete a note for ever (appends 'deleted TITLE' to the marker file)."""
        _mark(marker, f"deleted {title}")
        return f"deleted {title}"

    @server.tool()
    async def book(ctx: Context, marker: str = "") -> str:
        """Book a table: asks the person for the details (a form)."""
        result = await ctx.elicit("Booking details, please", schema=Booking)
        data = result.data.model_dump() if result.action == "accept" else None
        _mark(marker, f"{result.action} {json.dumps(data, sort_keys=True)}")
        return f"{result.action}: {json.dumps(data, sort_keys=True)}"

    @server.tool()
    async def sign_in(ctx: Context, url: str = "https://example.com/sign-in") -> str:
        """Ask the person to sign in on a web page (a URL elicitation)."""
        result = await ctx.elicit_url("Sign in to continue", url, "sign-in-1")
        return f"{result.action}"

    @server.tool()
    def ask_name(ctx: Context) -> str | types.InputRequiredResult:
        """Ask the person's name the 2026-07-28 way: answer input_required, then read the response."""
        responses = ctx.input_responses
        if not responses:
            schema = {"type": "object", "properties": {"name": {"type": "string", "title": "Your name"}}, "required": ["name"]}
            form = types.ElicitRequestFormParams(message="Who is asking?", requested_schema=schema)
            return types.InputRequiredResult(input_requests={"who": types.ElicitRequest(params=form)}, request_state="asked")
        answer = responses["who"]
        content = answer.content if isinstance(answer, types.ElicitResult) else None
        return f"{getattr(answer, 'action', '?')}: {json.dumps(content, sort_keys=True)}"

    @server.tool()
    def screenshot() -> types.CallToolResult:
        """A picture of the screen, with a caption."""
        return types.CallToolResult(content=[types.TextContent(type="text", text="the screen"), Image(data=PNG, format="png").to_image_content()])

    @server.tool()
    def nothing() -> types.CallToolResult:
        """Succeed with no content at all."""
        return types.CallToolResult(content=[])

    @server.tool()
    def pick_colour(colour: Literal["red", "green", "blue"]) -> str:
        """Pick one of three colours."""
        return colour

    return server


def build_server(flavour: str) -> MCPServer | Server[Any]:
    builders: dict[str, Callable[[], MCPServer | Server[Any]]] = {
        "basic": basic_server,
        "weird": weird_server,
        "paginated": paginated_server,
        "notype": notype_server,
        "people": people_server,
        "chatty": chatty_server,  # tests/fakes/logging_server.py
    }
    return builders[flavour]()


def in_memory(server: MCPServer | Server[Any]) -> Callable[[], AbstractAsyncContextManager[Any]]:
    """A transport factory connecting to `server` in this process over memory streams."""
    return lambda: InMemoryTransport(server)


def stdio_command(flavour: str, *extra: str) -> tuple[str, list[str]]:
    """(command, args) that run the flavour as a stdio subprocess."""
    return sys.executable, [str(STDIO_SERVER), "--flavour", flavour, *extra]


def raw_stdio_command(*extra: str) -> tuple[str, list[str]]:
    """(command, args) for the hand-written, dependency-free JSON-RPC stdio server."""
    return sys.executable, ["-I", "-S", str(RAW_STDIO_SERVER), *extra]


def hostile_stdio_command(*extra: str) -> tuple[str, list[str]]:
    """(command, args) for the misbehaving stdio server (deep JSON, huge results, floods, bombs, daemons)."""
    return sys.executable, ["-I", "-S", str(HOSTILE_STDIO_SERVER), *extra]
