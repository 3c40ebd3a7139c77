"""A protocol-faithful fake of the Gemini Live BidiGenerateContent websocket, for tests.

It speaks the wire format google-genai 3.4 speaks (../shared/live-protocol.md): TLS websocket on
127.0.0.1 with a self-signed certificate made at start, the SDK's URL path, `x-goog-api-key`,
client keys in either casing, URL-safe or standard base64, camelCase replies, `turnComplete`
ending every model turn and errors as close frames.

Tests script it with a scenario: an async function that gets a `FakeConnection` per accepted
connection and says what to expect and what to reply. The server runs on its own event loop in
a thread, so the agent under test can run in-process or as a subprocess.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import ssl
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme
import websockets
from websockets.asyncio.server import ServerConnection, serve

API_KEY = "test-key-7f3a9c"  # a distinctive string so tests can look for leaks
PATH = re.compile(
    r"^/+ws/google\.ai\.generativelanguage\.(v1|v1beta|v1alpha)\.GenerativeService\."
    r"BidiGenerateContent(Constrained)?$"
)
# Keys whose values are free-form structs: their own keys must not be renamed.
_OPAQUE = {"args", "response", "parameters_json_schema", "response_json_schema", "labels"}
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def snake(key: str) -> str:
    return _CAMEL.sub("_", key).lower()


def normalize(obj: Any) -> Any:
    """Turn every key to snake_case, except inside free-form Struct values."""
    if isinstance(obj, list):
        return [normalize(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    out = {}
    for key, value in obj.items():
        k = snake(key)
        if k in _OPAQUE:
            out[k] = value
        elif k == "properties" and isinstance(value, dict):
            out[k] = {name: normalize(schema) for name, schema in value.items()}
        else:
            out[k] = normalize(value)
    return out


def b64decode(data: str) -> bytes:
    """Decode either base64 alphabet, as the real service does."""
    return base64.urlsafe_b64decode(data.replace("+", "-").replace("/", "_"))


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass
class ClientMessage:
    """One message from the client, normalised: `kind` is the top-level key in snake_case."""

    kind: str
    body: Any
    at: float = field(default_factory=time.monotonic)

    @property
    def text(self) -> str | None:
        """The user text of a client_content turn or realtime_input.text."""
        if self.kind == "realtime_input":
            return self.body.get("text")
        if self.kind == "client_content":
            parts = [p.get("text", "") for t in self.body.get("turns", []) for p in t.get("parts", [])]
            return "".join(parts) if parts else None
        return None

    @property
    def audio(self) -> bytes | None:
        if self.kind == "realtime_input" and "audio" in self.body:
            return b64decode(self.body["audio"]["data"])
        return None

    @property
    def video(self) -> tuple[bytes, str] | None:
        if self.kind == "realtime_input" and "video" in self.body:
            return b64decode(self.body["video"]["data"]), self.body["video"].get("mime_type", "")
        return None

    @property
    def function_responses(self) -> list[dict[str, Any]]:
        if self.kind != "tool_response":
            return []
        return list(self.body.get("function_responses", []))


class FakeConnection:
    """One accepted websocket: the scenario's handle for expecting and replying."""

    def __init__(self, server: FakeLiveServer, ws: ServerConnection, index: int) -> None:
        self.server, self.ws, self.index = server, ws, index
        self.setup: dict[str, Any] = {}
        self.headers = dict(ws.request.headers) if ws.request else {}
        self.path = ws.request.path if ws.request else ""
        self.received: list[ClientMessage] = []
        self._inbox: asyncio.Queue[ClientMessage | None] = asyncio.Queue()
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self.accepted_at = 0.0  # monotonic time setupComplete was sent

    # ---- reading ---------------------------------------------------------------------

    async def _pump(self) -> None:
        try:
            async for raw in self.ws:
                data = json.loads(raw)
                for key, body in data.items():
                    msg = ClientMessage(snake(key), normalize(body))
                    self.received.append(msg)
                    self.server._record(self, msg)
                    await self._inbox.put(msg)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self.closed.set()
            await self._inbox.put(None)

    async def recv(self, timeout: float = 10.0) -> ClientMessage:
        """The next client message of any kind."""
        msg = await asyncio.wait_for(self._inbox.get(), timeout)
        if msg is None:
            self._inbox.put_nowait(None)
            raise ConnectionError(f"client closed the connection (code {self.close_code})")
        return msg

    async def expect(
        self,
        kind: str | tuple[str, ...],
        where: Callable[[ClientMessage], bool] | None = None,
        timeout: float = 10.0,
    ) -> ClientMessage:
        """Wait for a message of `kind` (and matching `where`), passing over others."""
        kinds = (kind,) if isinstance(kind, str) else kind
        deadline = time.monotonic() + timeout
        while True:
            msg = await self.recv(max(0.01, deadline - time.monotonic()))
            if msg.kind in kinds and (where is None or where(msg)):
                return msg

    async def expect_text(self, timeout: float = 10.0) -> str:
        """Wait for the next user text turn, in either of the two forms."""
        msg = await self.expect(
            ("client_content", "realtime_input"), lambda m: m.text is not None, timeout
        )
        return msg.text or ""

    async def expect_tool_response(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        return (await self.expect("tool_response", timeout=timeout)).function_responses

    # ---- replying --------------------------------------------------------------------

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def send_text(self, text: str, *, chunks: int = 1, complete: bool = True) -> None:
        """A model text turn, streamed in `chunks` parts, ended by turnComplete."""
        step = max(1, -(-len(text) // chunks))
        for i in range(0, len(text), step):
            await self.send({"serverContent": {"modelTurn": {"role": "model", "parts": [{"text": text[i : i + step]}]}}})
        if complete:
            await self.turn_complete()

    async def send_audio(self, pcm: bytes, *, rate: int = 24_000, chunk_bytes: int = 9600) -> None:
        """Model audio as inlineData parts (about 200 ms each at 24 kHz)."""
        for i in range(0, len(pcm), chunk_bytes):
            part = {"inlineData": {"mimeType": f"audio/pcm;rate={rate}", "data": b64encode(pcm[i : i + chunk_bytes])}}
            await self.send({"serverContent": {"modelTurn": {"parts": [part]}}})

    async def send_transcript(self, text: str, *, output: bool = True, finished: bool = True) -> None:
        key = "outputTranscription" if output else "inputTranscription"
        await self.send({"serverContent": {key: {"text": text, "finished": finished}}})

    async def send_tool_call(self, *calls: dict[str, Any]) -> None:
        """calls: {"id", "name", "args"} dicts."""
        await self.send({"toolCall": {"functionCalls": list(calls)}})

    async def cancel_tool_calls(self, *ids: str) -> None:
        await self.send({"toolCallCancellation": {"ids": list(ids)}})

    async def interrupted(self) -> None:
        await self.send({"serverContent": {"interrupted": True}})

    async def turn_complete(self, **usage: int) -> None:
        msg: dict[str, Any] = {"serverContent": {"turnComplete": True}}
        if usage:
            msg["usageMetadata"] = usage
        await self.send(msg)

    async def go_away(self, time_left: str = "50s") -> None:
        await self.send({"goAway": {"timeLeft": time_left}})

    async def resumption_update(self, handle: str | None, resumable: bool = True) -> None:
        body: dict[str, Any] = {"resumable": resumable}
        if handle is not None:
            body["newHandle"] = handle
        await self.send({"sessionResumptionUpdate": body})

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """An error the real service reports: a close frame with a code and reason."""
        await self.ws.close(code, reason)

    def abort(self) -> None:
        """Cut the TCP connection without a close frame (the client sees 1006)."""
        self.ws.transport.abort()

    async def wait_closed(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self.closed.wait(), timeout)

    # ---- views -----------------------------------------------------------------------

    def texts(self) -> list[str]:
        return [m.text for m in self.received if m.text is not None]

    def audio_bytes(self) -> bytes:
        return b"".join(m.audio for m in self.received if m.audio is not None)


Scenario = Callable[[FakeConnection], Awaitable[None]]


async def echo_scenario(conn: FakeConnection) -> None:
    """Default model: answers every user text with `echo: <text>` until the client leaves."""
    while True:
        try:
            text = await conn.expect_text(timeout=3600)
        except ConnectionError:
            return
        await conn.send_text(f"echo: {text}")


class FakeLiveServer:
    """The fake service, on its own loop in a daemon thread. Use as a context manager."""

    def __init__(self, scenario: Scenario = echo_scenario, *, api_key: str = API_KEY, session_id: str | None = "fake-session") -> None:
        self.scenario = scenario
        self.api_key = api_key
        self.session_id = session_id
        self.connections: list[FakeConnection] = []
        self.errors: list[BaseException] = []
        self.log: list[tuple[int, ClientMessage]] = []
        self._dir = tempfile.TemporaryDirectory(prefix="fake-live-")
        self.ca_file = str(Path(self._dir.name) / "ca.pem")
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._changed = threading.Condition()

    # ---- lifecycle -------------------------------------------------------------------

    def __enter__(self) -> FakeLiveServer:
        ca = trustme.CA()
        ca.cert_pem.write_to_path(self.ca_file)
        cert = ca.issue_cert("127.0.0.1", "localhost")
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(ctx)
        ready: Future[int] = Future()
        self._thread = threading.Thread(target=self._serve_thread, args=(ctx, ready), daemon=True, name="fake-live")
        self._thread.start()
        self.port = ready.result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop and self._stop:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread:
            self._thread.join(timeout=10)
        self._dir.cleanup()

    def _serve_thread(self, ctx: ssl.SSLContext, ready: Future[int]) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            async with serve(self._handle, "127.0.0.1", 0, ssl=ctx, max_size=None) as server:
                ready.set_result(server.sockets[0].getsockname()[1])
                await self._stop.wait()

        try:
            asyncio.run(main())
        except BaseException as e:  # surface start-up failures to the test thread
            if not ready.done():
                ready.set_exception(e)

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """Environment that points the real SDK at this server."""
        return {
            "GOOGLE_GEMINI_BASE_URL": self.base_url,
            "SSL_CERT_FILE": self.ca_file,
            "GOOGLE_API_KEY": self.api_key,
        }

    # ---- connections -----------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        conn = FakeConnection(self, ws, len(self.connections))
        if not PATH.match(conn.path):
            await ws.close(1008, f"unknown method {conn.path}")
            return
        key = conn.headers.get("x-goog-api-key") or conn.headers.get("authorization", "").removeprefix("Token ")
        try:
            first = json.loads(await asyncio.wait_for(ws.recv(), 10))
        except (asyncio.TimeoutError, websockets.ConnectionClosed):
            return
        conn.setup = normalize(first.get("setup", {}))
        with self._changed:
            self.connections.append(conn)
            self._changed.notify_all()
        if key != self.api_key:
            await ws.close(1008, "API key not valid. Please pass a valid API key.")
            return
        if "setup" not in first:
            await ws.close(1007, "Request contains an invalid argument.")
            return
        body = {"sessionId": self.session_id} if self.session_id else {}
        await conn.send({"setupComplete": body})
        conn.accepted_at = time.monotonic()
        pump = asyncio.create_task(conn._pump())
        try:
            await self.scenario(conn)
        except (ConnectionError, websockets.ConnectionClosed):
            pass  # the client left; a test checks what it needs through the records
        except BaseException as e:
            self.errors.append(e)
            await ws.close(1011, f"fake server scenario failed: {e!r}"[:120])
            raise
        finally:
            if not pump.done():
                try:
                    await asyncio.wait_for(conn.closed.wait(), 15)
                except asyncio.TimeoutError:
                    await ws.close(1000)
            await pump

    def _record(self, conn: FakeConnection, msg: ClientMessage) -> None:
        with self._changed:
            self.log.append((conn.index, msg))
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Block the test thread until `predicate()` holds over the server's records."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("condition not met on the fake Live server")
                self._changed.wait(min(left, 0.1))

    def check(self) -> None:
        """Raise the first error a scenario hit, so a test fails on it."""
        if self.errors:
            raise self.errors[0]
