"""A protocol-faithful fake of the Gemini Live BidiGenerateContent websocket, for tests.

It speaks the wire format google-genai 3.6 speaks (../shared/live-protocol.md): TLS websocket on
127.0.0.1 with a self-signed certificate made at start, the SDK's URL path, `x-goog-api-key`,
client keys in either casing, URL-safe or standard base64, camelCase replies, `turnComplete`
ending every model turn and errors as close frames.

It behaves per model, as the service does (live_models.py holds the rules table): the setup is
judged against the model's rules (refused with 1007/1008, or never completed), model output is
rendered in the connection's modality (text parts, or speech with its transcription), and the
session rules are enforced on what the client sends (clientContent after the first turn on 3.1,
realtime input during a pending call, new input cancelling a BLOCKING call on 3.8). Names that
start with `test-` get permissive rules; `FakeLiveServer(model_rules=...)` overrides the table.

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
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme
import websockets
from websockets.asyncio.server import ServerConnection, serve

from tests.fakes.live_models import (
    BLOCKING,
    INVALID_ARGUMENT,
    PERMISSIVE,
    TEXT,
    ModelRules,
    check_setup,
    check_tools,
    declarations_of,
    model_name,
    rules_for,
)

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
    """One accepted websocket: the scenario's handle for expecting and replying.

    Besides the raw records (`setup`, `received`), it keeps the service's view of the session:
    the model and its rules, what was refused and why, the function calls the model has open and
    those the service cancelled, and the responses that came too late to count.
    """

    speech = bytes(960)  # what send_text "says" per chunk on an audio connection: 20 ms of silence

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
        # The service's view of the session.
        self.model = ""  # the setup's model name without `models/` (or Vertex) prefix
        self.rules: ModelRules = PERMISSIVE
        self.modality = TEXT  # how the model answers: TEXT or AUDIO
        self.tool_declarations: list[dict[str, Any]] = []  # function declarations, normalised
        self.rejected: tuple[int, str] | None = None  # (code, reason) the setup was refused with
        self.stalled: str | None = None  # why setupComplete was never sent
        self.violation: tuple[int, str] | None = None  # (code, reason) a session rule closed with
        self.pending_calls: dict[str, dict[str, Any]] = {}  # id -> call (+ "behavior") awaiting an answer
        self.cancelled_calls: dict[str, str] = {}  # id -> "input" (new user input) | "server" (toolCallCancellation)
        self.late_responses: list[dict[str, Any]] = []  # function responses to cancelled calls
        self.model_has_spoken = False  # a model turn (output, tool call or turnComplete) was sent
        self.notify_cancellation = server.send_tool_cancellation  # send toolCallCancellation on input-cancel
        self._policing = False

    # ---- reading ---------------------------------------------------------------------

    async def _pump(self) -> None:
        try:
            async for raw in self.ws:
                data = json.loads(raw)
                for key, body in data.items():
                    msg = ClientMessage(snake(key), normalize(body))
                    self.received.append(msg)
                    self.server._record(self, msg)
                    deliver = await self._police(msg) if self._policing else msg
                    if self.violation:
                        return
                    if deliver is not None:
                        await self._inbox.put(deliver)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self.closed.set()
            self.server.notify()
            await self._inbox.put(None)

    async def _police(self, msg: ClientMessage) -> ClientMessage | None:
        """Apply the model's session rules to one client message; None withholds it."""
        rules, body = self.rules, msg.body
        if msg.kind == "client_content":
            if not rules.client_content_after_first_turn and self.model_has_spoken:
                await self._violate(1007, INVALID_ARGUMENT)
                return None
            if body.get("turn_complete") and _has_user_text(body):
                await self._new_input()
        elif msg.kind == "realtime_input":
            media = any(k in body for k in ("audio", "video", "text", "media_chunks"))
            if media and self.pending_calls and rules.realtime_input_during_call:
                await self._violate(rules.realtime_input_during_call, "realtime input while a function call is pending")
                return None
            if "text" in body or "activity_start" in body or _loud(body):
                await self._new_input()
        elif msg.kind == "tool_response":
            answered = self._answer(msg)
            self.server.notify()  # late_responses may have grown
            return answered
        elif msg.kind == "context_update":
            tools = (body.get("tools") or {}).get("tools")
            if tools is not None:
                if reason := check_tools(tools, self.model, rules):
                    await self._violate(1007, reason)
                    return None
                self.tool_declarations = declarations_of(tools)
        return msg

    def _answer(self, msg: ClientMessage) -> ClientMessage | None:
        """Close the calls a tool_response answers. Responses to cancelled calls are late: kept in
        `late_responses`; those to calls new input cancelled are withheld from the scenario (the
        model never sees them), those to calls it cancelled itself still reach it."""
        kept, withheld = [], False
        for response in msg.function_responses:
            call_id = str(response.get("id", ""))
            how = self.cancelled_calls.get(call_id)
            if how is not None:
                self.late_responses.append(response)
                if how == "input":
                    withheld = True
                    continue
            elif call_id in self.pending_calls and not response.get("will_continue"):
                del self.pending_calls[call_id]
            kept.append(response)
        if not withheld:
            return msg
        return ClientMessage(msg.kind, {**msg.body, "function_responses": kept}, msg.at) if kept else None

    async def _new_input(self) -> None:
        """New user input: on 3.8 it cancels every unanswered BLOCKING call."""
        if not self.rules.input_cancels_blocking:
            return
        ids = [i for i, call in self.pending_calls.items() if call["behavior"] == BLOCKING]
        for call_id in ids:
            del self.pending_calls[call_id]
            self.cancelled_calls[call_id] = "input"
        if ids and self.notify_cancellation:
            await self.send({"toolCallCancellation": {"ids": ids}})

    async def _violate(self, code: int, reason: str) -> None:
        """A session rule broken: the service closes with `code` and `reason`."""
        self.violation = (code, reason)
        await self.close(code, reason)

    def _track(self, message: dict[str, Any]) -> None:
        """Keep the session state the service keeps about what the model sent."""
        m = normalize(message)
        content = m.get("server_content") or {}
        if any(content.get(k) for k in ("model_turn", "output_transcription", "turn_complete")) or m.get("tool_call"):
            self.model_has_spoken = True
        for call in (m.get("tool_call") or {}).get("function_calls") or []:
            self.pending_calls[str(call.get("id", ""))] = {**call, "behavior": self.behavior(str(call.get("name", "")))}
        for call_id in (m.get("tool_call_cancellation") or {}).get("ids") or []:
            self.pending_calls.pop(call_id, None)
            self.cancelled_calls.setdefault(call_id, "server")

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
        msg = await self.expect(("client_content", "realtime_input"), lambda m: m.text is not None, timeout)
        return msg.text or ""

    async def expect_tool_response(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        return (await self.expect("tool_response", timeout=timeout)).function_responses

    # ---- replying --------------------------------------------------------------------

    async def send(self, message: dict[str, Any]) -> None:
        self._track(message)
        await self.ws.send(json.dumps(message))

    async def send_raw(self, frame: str | bytes) -> None:
        """Any frame, as is (text for str, binary for bytes), with no bookkeeping."""
        await self.ws.send(frame)

    async def send_text(self, text: str, *, chunks: int = 1, complete: bool = True) -> None:
        """The model says `text`, in `chunks` pieces, then ends its turn (`complete`).

        On a TEXT connection: modelTurn text parts. On an AUDIO connection: speech (`speech`
        as inlineData PCM16 24 kHz per piece) and, if the setup asked for output transcription,
        the text as outputTranscription pieces; 3.x models put both in one message."""
        step = max(1, -(-len(text) // chunks))
        for i in range(0, len(text), step):
            piece = text[i : i + step]
            if self.modality == TEXT:
                await self.send({"serverContent": {"modelTurn": {"role": "model", "parts": [{"text": piece}]}}})
                continue
            audio = {"modelTurn": {"role": "model", "parts": [{"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": b64encode(self.speech)}}]}}
            transcript = {"outputTranscription": {"text": piece}} if "output_audio_transcription" in self.setup else None
            if transcript and self.rules.combine_parts:
                await self.send({"serverContent": {**audio, **transcript}})
            else:
                await self.send({"serverContent": audio})
                if transcript:
                    await self.send({"serverContent": transcript})
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

    async def turn_complete(self, *, interaction: str | None = None, **usage: int) -> None:
        """turnComplete; on models that report it, with interactionStatus (`interaction`, IDLE
        by default: IN_PROGRESS says the model keeps working after this turn)."""
        content: dict[str, Any] = {"turnComplete": True}
        status = interaction or ("IDLE" if self.rules.interaction_status else None)
        if status:
            content["interactionStatus"] = status
        msg: dict[str, Any] = {"serverContent": content}
        if usage:
            msg["usageMetadata"] = usage
        await self.send(msg)

    async def interaction_idle(self, **usage: int) -> None:
        """The model's work is done (extended thinking), without a turnComplete."""
        msg: dict[str, Any] = {"serverContent": {"interactionStatus": "IDLE"}}
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
        await self.ws.close(code, close_reason(reason))

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

    def declaration(self, name: str) -> dict[str, Any] | None:
        """The function declaration named `name`, if the session has one."""
        return next((d for d in self.tool_declarations if d.get("name") == name), None)

    def behavior(self, name: str) -> str:
        """How the model runs a call to `name`: BLOCKING or NON_BLOCKING (its default applied)."""
        return self.rules.behavior(self.declaration(name))


def close_reason(reason: str) -> str:
    """A close reason fits in 123 bytes (the service's long messages are cut short too)."""
    return reason.encode()[:123].decode(errors="ignore")


def _has_user_text(body: dict[str, Any]) -> bool:
    return any(t.get("role", "user") == "user" and any("text" in p for p in t.get("parts") or []) for t in body.get("turns") or [])


def _loud(body: dict[str, Any], peak: int = 1000) -> bool:
    """Realtime audio the service would hear as speech: any PCM16 sample above `peak` (-30 dBFS)."""
    blobs = [body.get("audio")] + list(body.get("media_chunks") or [])
    for blob in blobs:
        if isinstance(blob, dict) and str(blob.get("mime_type", "audio")).startswith("audio"):
            pcm = b64decode(blob.get("data", ""))
            samples = memoryview(pcm[: len(pcm) // 2 * 2]).cast("h")
            if any(abs(x) > peak for x in samples):
                return True
    return False


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
    """The fake service, on its own loop in a daemon thread. Use as a context manager.

    model_rules: a `ModelRules` for every model, or {regex: ModelRules} tried before the table.
    setup_delay: seconds to wait before setupComplete. never_setup: do not send it (the scenario
    still runs). first_frame: send this raw frame instead of setupComplete (the scenario runs).
    send_tool_cancellation: whether a BLOCKING call cancelled by new input (3.8) is announced
    with toolCallCancellation (the service may not; per connection: `conn.notify_cancellation`).
    """

    def __init__(
        self,
        scenario: Scenario = echo_scenario,
        *,
        api_key: str = API_KEY,
        session_id: str | None = "fake-session",
        model_rules: ModelRules | Mapping[str, ModelRules] | None = None,
        setup_delay: float | None = None,
        never_setup: bool = False,
        first_frame: str | bytes | None = None,
        send_tool_cancellation: bool = False,
    ) -> None:
        self.scenario = scenario
        self.api_key = api_key
        self.session_id = session_id
        self.model_rules = model_rules
        self.setup_delay = setup_delay
        self.never_setup = never_setup
        self.first_frame = first_frame
        self.send_tool_cancellation = send_tool_cancellation
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
        except BaseException as e:  # noqa: BLE001 - handed to the test thread, which raises it
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
        route = PATH.match(conn.path)
        if not route:
            await ws.close(1008, f"unknown method {conn.path}")
            return
        key = conn.headers.get("x-goog-api-key") or conn.headers.get("authorization", "").removeprefix("Token ")
        try:
            first = json.loads(await asyncio.wait_for(ws.recv(), 10))
        except (TimeoutError, websockets.ConnectionClosed):
            return
        conn.setup = normalize(first.get("setup", {}))
        conn.model = model_name(str(conn.setup.get("model", "")))
        conn.rules = rules_for(conn.model, self.model_rules)
        with self._changed:
            self.connections.append(conn)
            self._changed.notify_all()
        if key != self.api_key:
            return await self._refuse(conn, 1008, "API key not valid. Please pass a valid API key.")
        if "setup" not in first:
            return await self._refuse(conn, 1007, INVALID_ARGUMENT)
        verdict = check_setup(conn.setup, conn.model, conn.rules, route.group(1))
        if verdict.close:
            return await self._refuse(conn, *verdict.close)
        conn.modality, conn.tool_declarations = verdict.modality, verdict.declarations
        pump = asyncio.create_task(conn._pump())
        try:
            if verdict.stall:  # the service hangs: no setupComplete, no model, until the client leaves
                conn.stalled = verdict.stall
                self.notify()
                await conn.closed.wait()
                return
            if self.setup_delay:
                await asyncio.sleep(self.setup_delay)
            if self.first_frame is not None:
                await conn.send_raw(self.first_frame)
            elif self.never_setup:
                conn.stalled = "never_setup"
                self.notify()
            else:
                await conn.send({"setupComplete": {"sessionId": self.session_id} if self.session_id else {}})
                conn.accepted_at = time.monotonic()
            conn._policing = True
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
                except TimeoutError:
                    await ws.close(1000)
            await pump

    async def _refuse(self, conn: FakeConnection, code: int, reason: str) -> None:
        conn.rejected = (code, reason)
        self.notify()
        await conn.ws.close(code, close_reason(reason))

    def notify(self) -> None:
        """Wake `wait_for` callers: the records changed."""
        with self._changed:
            self._changed.notify_all()

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
