"""The fake Live server behaves per model, as the service does: driven by the real google-genai SDK.

One test (or parametrised group) per rule of tests/fakes/live_models.py: what each model accepts
in its setup, how each refuses (close code and reason), how the model's output is rendered, and
the session rules (3.8 cancelling a BLOCKING call on new input, 3.1's 1008 and 1007, extended
thinking's interactionStatus).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from google import genai
from google.genai import errors, types

from tests.fakes.live_models import (
    BLOCKING,
    GEMINI_31,
    GEMINI_38,
    GEMINI_38_EXTENDED_THINKING,
    HALF_CASCADE,
    NATIVE_AUDIO_25,
    NON_BLOCKING,
    NOT_FOUND,
    PERMISSIVE,
    model_name,
    rules_for,
)
from tests.fakes.live_server import FakeConnection, FakeLiveServer, close_reason

G38, G38ET, G31, G25 = (
    "gemini-3.8-live",
    "gemini-3.8-live-extended-thinking",
    "gemini-3.1-flash-live-preview",
    "gemini-2.5-flash-native-audio-preview-12-2025",
)
HALF = "gemini-live-2.5-flash-preview"
TRANSCRIBED = {"output_audio_transcription": types.AudioTranscriptionConfig()}


def declare(*functions: str | tuple[str, types.Behavior]) -> dict[str, Any]:
    """LiveConnectConfig kwargs declaring functions, each a name or (name, behavior)."""
    decls = [types.FunctionDeclaration(name=f) if isinstance(f, str) else types.FunctionDeclaration(name=f[0], behavior=f[1]) for f in functions]
    return {"tools": [types.Tool(function_declarations=decls)]}


@asynccontextmanager
async def connect(model: str, **config: Any) -> AsyncIterator[genai.live.AsyncSession]:
    client = genai.Client()  # the `live` fixture points the environment at the fake
    async with client.aio.live.connect(model=model, config=types.LiveConnectConfig(**config)) as session:
        yield session


async def refused(model: str, **config: Any) -> errors.APIError:
    with anyio.fail_after(10), pytest.raises(errors.APIError) as info:
        async with connect(model, **config):
            pass
    return info.value


async def accepted(server: FakeLiveServer, model: str, **config: Any) -> FakeConnection:
    with anyio.fail_after(10):
        async with connect(model, **config) as session:
            assert session.session_id == "fake-session"
    conn = server.connections[-1]
    assert conn.rejected is None and conn.stalled is None and conn.accepted_at
    return conn


async def turn(session: genai.live.AsyncSession, timeout: float = 10) -> list[types.LiveServerMessage]:
    """One `receive()`: the messages up to the one that completes the interaction."""
    with anyio.fail_after(timeout):
        return [m async for m in session.receive()]


async def next_message(session: genai.live.AsyncSession, where: Callable[[types.LiveServerMessage], bool]) -> types.LiveServerMessage:
    with anyio.fail_after(10):
        while True:
            async for message in session.receive():
                if where(message):
                    return message


async def until(server: FakeLiveServer, predicate: Callable[[], bool]) -> None:
    await anyio.to_thread.run_sync(lambda: server.wait_for(predicate, timeout=10))


def said(messages: list[types.LiveServerMessage]) -> str:
    """What the model said: text parts, else the output transcription."""
    out = []
    for m in messages:
        content = m.server_content
        if content and content.model_turn:
            out += [p.text for p in content.model_turn.parts or [] if p.text]
        if content and content.output_transcription:
            out.append(content.output_transcription.text or "")
    return "".join(out)


def audio_of(messages: list[types.LiveServerMessage]) -> bytes:
    return b"".join(m.data for m in messages if m.data)


def assert_refusal(server: FakeLiveServer, error: errors.APIError, code: int, *words: str) -> None:
    conn = server.connections[-1]
    assert conn.rejected is not None and conn.rejected[0] == code == error.code
    assert error.details == close_reason(conn.rejected[1])
    for word in words:
        assert word in error.details


# ---- the rules table -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "rules"),
    [
        ("models/gemini-3.8-live", GEMINI_38),
        ("gemini-3.8-live-preview-11-2026", GEMINI_38),
        ("gemini-3.8-flash-live", GEMINI_38),  # any other 3.8 name
        ("gemini-4.0-flash-live", GEMINI_38),  # newer live names
        ("gemini-3.10-live", GEMINI_38),
        ("models/gemini-3.8-live-extended-thinking", GEMINI_38_EXTENDED_THINKING),
        ("models/gemini-3.1-flash-live-preview", GEMINI_31),
        ("gemini-3.1-flash-live-001", GEMINI_31),
        ("models/gemini-2.5-flash-native-audio-preview-12-2025", NATIVE_AUDIO_25),
        ("gemini-2.5-flash-native-audio-preview-09-2025", NATIVE_AUDIO_25),
        ("gemini-live-2.5-flash-native-audio", NATIVE_AUDIO_25),  # Vertex
        ("publishers/google/models/gemini-live-2.5-flash-native-audio", NATIVE_AUDIO_25),
        ("projects/p/locations/us-central1/publishers/google/models/gemini-live-2.5-flash-native-audio", NATIVE_AUDIO_25),
        ("models/publishers/google/models/gemini-live-2.5-flash-native-audio", NATIVE_AUDIO_25),
        ("gemini-2.5-flash-preview-native-audio-dialog", NATIVE_AUDIO_25),
        ("models/gemini-live-2.5-flash-preview", HALF_CASCADE),
        ("gemini-2.0-flash-live-001", HALF_CASCADE),
        ("test-anything", PERMISSIVE),
        ("gemini-2.5-flash", NOT_FOUND),
        ("gemini-3.1-pro", NOT_FOUND),
        ("gemini-1.5-flash-live", NOT_FOUND),
        ("", NOT_FOUND),
    ],
)
def test_model_names_map_to_families(name: str, rules: object) -> None:
    assert rules_for(model_name(name)) is rules


def test_rules_override() -> None:
    assert rules_for("anything", GEMINI_31) is GEMINI_31
    assert rules_for("my-model", {r"my-.*": HALF_CASCADE}) is HALF_CASCADE
    assert rules_for(G38, {r"my-.*": HALF_CASCADE}) is GEMINI_38


# ---- gemini-3.8-live -----------------------------------------------------------------


@pytest.mark.anyio
async def test_38_accepts_audio_setup_and_speaks_with_transcription(live) -> None:
    server = live()
    config = {**TRANSCRIBED, **declare("quick", ("slow", types.Behavior.BLOCKING))}
    config["proactivity"] = types.ProactivityConfig(proactive_audio=True)
    with anyio.fail_after(10):
        async with connect(G38, **config) as session:
            await session.send_realtime_input(text="hi")
            messages = await turn(session)
            await session.send_client_content(turns=types.Content(role="user", parts=[types.Part(text="again")]))
            again = await turn(session)
    conn = server.connections[0]
    assert (conn.model, conn.rules, conn.modality) == (G38, GEMINI_38, "AUDIO")
    assert [d["name"] for d in conn.tool_declarations] == ["quick", "slow"]
    assert (conn.behavior("quick"), conn.behavior("slow")) == (NON_BLOCKING, BLOCKING)
    assert said(messages) == "echo: hi" and said(again) == "echo: again"
    assert len(audio_of(messages)) > 0
    # 3.x puts the audio and its transcript in one message; the turn ends on turnComplete alone.
    first = messages[0].server_content
    assert first.model_turn.parts[0].inline_data.mime_type == "audio/pcm;rate=24000" and first.output_transcription
    last = messages[-1].server_content
    assert last.turn_complete and last.interaction_status is None


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"response_modalities": ["TEXT"]}, "generation_config.response_modalities: TEXT"),
        ({"tools": [types.Tool(code_execution=types.ToolCodeExecution())]}, "tools.code_execution"),
        ({"thinking_config": types.ThinkingConfig(thinking_level=types.ThinkingLevel.LOW)}, "generation_config.thinking_config"),
        ({"thinking_config": types.ThinkingConfig()}, "generation_config.thinking_config"),
        ({"enable_affective_dialog": True}, "enable_affective_dialog"),
        ({"proactivity": types.ProactivityConfig(proactive_audio=False)}, "proactivity.proactive_audio"),
    ],
)
async def test_38_refusals(live, config: dict[str, Any], field: str) -> None:
    server = live()
    error = await refused(G38, **config)
    assert_refusal(server, error, 1007, field, "models/gemini-3.8-live")


@pytest.mark.anyio
@pytest.mark.parametrize("notify", [False, True])
async def test_38_new_input_cancels_a_blocking_call(live, notify: bool) -> None:
    """A BLOCKING call is cancelled by new user input; the late answer is ignored (recorded)."""
    seen: list[Any] = []

    async def scenario(conn: FakeConnection) -> None:
        conn.notify_cancellation = notify
        await conn.expect_text()
        await conn.send_tool_call({"id": "c1", "name": "slow", "args": {}}, {"id": "c2", "name": "quick", "args": {}})
        seen.append(await conn.expect_text())  # the new input
        await conn.send_text("never mind then")
        seen.append(await conn.expect_tool_response())  # only the NON_BLOCKING call's answer arrives
        seen.append(await conn.expect_text())

    server = live(scenario)
    config = {**declare(("slow", types.Behavior.BLOCKING), "quick"), **TRANSCRIBED}
    with anyio.fail_after(10):
        async with connect(G38, **config) as session:
            await session.send_realtime_input(text="do it")
            await next_message(session, lambda m: m.tool_call is not None)
            await session.send_realtime_input(text="stop")
            messages = await turn(session)
            await session.send_tool_response(
                function_responses=[
                    types.FunctionResponse(id="c1", name="slow", response={"result": "late"}),
                    types.FunctionResponse(id="c2", name="quick", response={"result": "fine"}),
                ]
            )
            await session.send_realtime_input(text="bye")
            conn = server.connections[0]
            await until(server, lambda: len(seen) == 3)
    cancellations = [m.tool_call_cancellation.ids for m in messages if m.tool_call_cancellation]
    assert cancellations == ([["c1"]] if notify else [])
    assert said(messages) == "never mind then"
    assert seen[0] == "stop" and [r["id"] for r in seen[1]] == ["c2"] and seen[2] == "bye"
    assert conn.cancelled_calls == {"c1": "input"} and conn.pending_calls == {}
    assert [r["id"] for r in conn.late_responses] == ["c1"]


def tone(samples: int = 1600, level: int = 8000) -> bytes:
    return b"".join(((level if i % 20 < 10 else -level) & 0xFFFF).to_bytes(2, "little") for i in range(samples))


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("new_input", "cancels"),
    [
        ({"audio": types.Blob(data=bytes(3200), mime_type="audio/pcm;rate=16000")}, False),  # silence is no input
        ({"audio": types.Blob(data=tone(), mime_type="audio/pcm;rate=16000")}, True),  # speech is
        ({"activity_start": types.ActivityStart()}, True),
        ({"video": types.Blob(data=b"\xff\xd8", mime_type="image/jpeg")}, False),
        ({"client_content": types.Content(role="user", parts=[types.Part(text="wait")])}, True),
    ],
)
async def test_38_what_counts_as_new_input(live, new_input: dict[str, Any], cancels: bool) -> None:
    judged: list[dict[str, str]] = []

    async def scenario(conn: FakeConnection) -> None:
        await conn.expect_text()
        await conn.send_tool_call({"id": "c1", "name": "slow", "args": {}})
        await conn.recv()  # the input under test, delivered once the server has judged it
        judged.append(dict(conn.cancelled_calls))

    server = live(scenario)
    with anyio.fail_after(10):
        async with connect(G38, **declare(("slow", types.Behavior.BLOCKING))) as session:
            await session.send_realtime_input(text="do it")
            await next_message(session, lambda m: m.tool_call is not None)
            if "client_content" in new_input:
                await session.send_client_content(turns=new_input["client_content"])
            else:
                await session.send_realtime_input(**new_input)
            await until(server, lambda: bool(judged))
    assert judged == [{"c1": "input"} if cancels else {}]
    assert server.connections[0].violation is None


# ---- gemini-3.8-live-extended-thinking -----------------------------------------------


@pytest.mark.anyio
async def test_extended_thinking_accepts_levels_and_defaults_to_non_blocking(live) -> None:
    server = live()
    for level in ("LOW", "MEDIUM", "HIGH"):
        conn = await accepted(server, G38ET, thinking_config=types.ThinkingConfig(thinking_level=types.ThinkingLevel(level)), **declare("f"))
        assert conn.rules is GEMINI_38_EXTENDED_THINKING and conn.behavior("f") == NON_BLOCKING


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"thinking_config": types.ThinkingConfig(thinking_level=types.ThinkingLevel.MINIMAL)}, "thinking_level: MINIMAL"),
        ({"thinking_config": types.ThinkingConfig(thinking_budget=1024)}, "thinking_budget"),
        (declare("ok", ("lights", types.Behavior.BLOCKING)), "function_declarations[1].behavior: BLOCKING (function lights)"),
        ({"response_modalities": ["TEXT"]}, "response_modalities"),
        ({"tools": [types.Tool(code_execution=types.ToolCodeExecution())]}, "tools.code_execution"),
        ({"enable_affective_dialog": True}, "enable_affective_dialog"),
    ],
)
async def test_extended_thinking_refusals(live, config: dict[str, Any], field: str) -> None:
    server = live()
    error = await refused(G38ET, **config)
    assert_refusal(server, error, 1007, field)


@pytest.mark.anyio
async def test_extended_thinking_ends_on_idle_not_on_turn_complete(live) -> None:
    async def scenario(conn: FakeConnection) -> None:
        await conn.expect_text()
        await conn.send_text("let me look", chunks=2, complete=False)
        await conn.turn_complete(interaction="IN_PROGRESS")
        await conn.send_text("found it")  # turnComplete + IDLE by default on this model
        await conn.expect_text()
        await conn.send_text("still", complete=False)
        await conn.interaction_idle()

    live(scenario)
    with anyio.fail_after(10):
        async with connect(G38ET, **TRANSCRIBED) as session:
            await session.send_realtime_input(text="search")
            messages = await turn(session)
            await session.send_realtime_input(text="more")
            more = await turn(session)
    statuses = [(m.server_content.turn_complete, m.server_content.interaction_status) for m in messages if m.server_content]
    assert (True, types.InteractionStatus.IN_PROGRESS) in statuses  # did not end the iterator
    assert statuses[-1] == (True, types.InteractionStatus.IDLE)
    assert said(messages) == "let me lookfound it"
    assert more[-1].server_content.interaction_status == types.InteractionStatus.IDLE
    assert not more[-1].server_content.turn_complete and said(more) == "still"


@pytest.mark.anyio
async def test_context_update_replaces_tools_under_the_same_rules(live) -> None:
    async def scenario(conn: FakeConnection) -> None:
        await conn.expect("context_update")
        await conn.send_text("updated")
        await conn.recv()  # the second update never arrives: the server closes

    server = live(scenario)
    with anyio.fail_after(10):
        async with connect(G38ET, **declare("a")) as session:
            await session.send_context_update(tools=[types.Tool(function_declarations=[types.FunctionDeclaration(name="b")])])
            await turn(session)
            assert [d["name"] for d in server.connections[0].tool_declarations] == ["b"]
            blocking = types.FunctionDeclaration(name="c", behavior=types.Behavior.BLOCKING)
            await session.send_context_update(tools=[types.Tool(function_declarations=[blocking])])
            with pytest.raises(errors.APIError) as info:
                await turn(session)
    assert info.value.code == 1007 and "BLOCKING (function c)" in info.value.details


# ---- gemini-3.1-flash-live-preview ---------------------------------------------------


@pytest.mark.anyio
async def test_31_accepts_thinking_level_and_synchronous_calls(live) -> None:
    server = live()
    for level in ("MINIMAL", "LOW", "MEDIUM", "HIGH"):
        conn = await accepted(server, G31, thinking_config=types.ThinkingConfig(thinking_level=types.ThinkingLevel(level)))
    conn = await accepted(server, G31, **declare("f", ("g", types.Behavior.BLOCKING)))
    assert conn.rules is GEMINI_31 and conn.behavior("f") == conn.behavior("g") == BLOCKING


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"response_modalities": ["TEXT"]}, "generation_config.response_modalities: TEXT"),
        ({"tools": [types.Tool(code_execution=types.ToolCodeExecution())]}, "tools.code_execution"),
        ({"thinking_config": types.ThinkingConfig(thinking_budget=0)}, "thinking_budget"),
        (declare(("bg", types.Behavior.NON_BLOCKING)), "behavior: NON_BLOCKING (function bg)"),
    ],
)
async def test_31_refusals(live, config: dict[str, Any], field: str) -> None:
    server = live()
    error = await refused(G31, **config)
    assert_refusal(server, error, 1007, field)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "config",
    [{"enable_affective_dialog": True}, {"proactivity": types.ProactivityConfig(proactive_audio=True)}],
)
async def test_31_affective_dialog_or_proactivity_never_completes_setup(live, config: dict[str, Any]) -> None:
    server = live()

    async def enter() -> None:
        async with connect(G31, **config):
            pass

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(enter(), 2)
    conn = server.connections[0]
    assert conn.stalled in ("enable_affective_dialog", "proactivity")
    assert conn.rejected is None and not conn.accepted_at
    await until(server, conn.closed.is_set)  # the socket stayed open until the client left


@pytest.mark.anyio
async def test_31_realtime_input_during_a_pending_call_closes_1008(live) -> None:
    async def scenario(conn: FakeConnection) -> None:
        await conn.expect_text()
        await conn.send_tool_call({"id": "c1", "name": "f", "args": {}})
        await conn.expect_tool_response(timeout=30)  # never comes: the server closes first

    server = live(scenario)
    with anyio.fail_after(10):
        async with connect(G31, **declare("f")) as session:
            await session.send_realtime_input(text="go")
            await next_message(session, lambda m: m.tool_call is not None)
            await session.send_realtime_input(audio=types.Blob(data=bytes(320), mime_type="audio/pcm;rate=16000"))
            with pytest.raises(errors.APIError) as info:
                await turn(session)
    conn = server.connections[0]
    assert info.value.code == 1008 and "function call is pending" in info.value.details
    assert conn.violation == (1008, info.value.details)


@pytest.mark.anyio
async def test_31_answered_call_lets_realtime_input_through(live) -> None:
    async def scenario(conn: FakeConnection) -> None:
        await conn.expect_text()
        await conn.send_tool_call({"id": "c1", "name": "f", "args": {}})
        await conn.expect_tool_response()
        await conn.send_text("done")
        await conn.expect_text()
        await conn.send_text("bye")

    server = live(scenario)
    with anyio.fail_after(10):
        async with connect(G31, **declare("f"), **TRANSCRIBED) as session:
            await session.send_realtime_input(text="go")
            await next_message(session, lambda m: m.tool_call is not None)
            await session.send_tool_response(function_responses=[types.FunctionResponse(id="c1", name="f", response={})])
            assert said(await turn(session)) == "done"
            await session.send_realtime_input(text="next")
            assert said(await turn(session)) == "bye"
    assert server.connections[0].violation is None and server.connections[0].pending_calls == {}


@pytest.mark.anyio
async def test_31_client_content_after_the_first_turn_closes_1007(live) -> None:
    async def scenario(conn: FakeConnection) -> None:
        history = await conn.expect("client_content")
        assert [t["role"] for t in history.body["turns"]] == ["user", "model"]
        text = (await conn.expect("realtime_input", lambda m: m.text is not None)).text
        await conn.send_text(f"echo: {text}")
        await conn.recv()  # the clientContent never arrives: the server closes first

    server = live(scenario)
    with anyio.fail_after(10):
        history = types.HistoryConfig(initial_history_in_client_content=True)
        async with connect(G31, history_config=history, **TRANSCRIBED) as session:
            await session.send_client_content(  # initial history: before the model's first turn
                turns=[types.Content(role="user", parts=[types.Part(text="a")]), types.Content(role="model", parts=[types.Part(text="b")])],
                turn_complete=False,
            )
            await session.send_realtime_input(text="hi")
            assert said(await turn(session)) == "echo: hi"
            await session.send_client_content(turns=types.Content(role="user", parts=[types.Part(text="again")]))
            with pytest.raises(errors.APIError) as info:
                await turn(session)
    assert info.value.code == 1007 and info.value.details == "Request contains an invalid argument."
    assert server.connections[0].violation == (1007, "Request contains an invalid argument.")


# ---- 2.5 native audio ----------------------------------------------------------------


@pytest.mark.anyio
async def test_25_native_audio_accepts_budget_affective_proactive_and_both_behaviors(live) -> None:
    server = live()
    config = {
        "thinking_config": types.ThinkingConfig(thinking_budget=1024),
        "enable_affective_dialog": True,
        "proactivity": types.ProactivityConfig(proactive_audio=True),
        **declare("sync", ("async_", types.Behavior.NON_BLOCKING)),
        **TRANSCRIBED,
    }
    with anyio.fail_after(10):
        async with connect(G25, **config) as session:
            for text in ("one", "two"):  # clientContent all session
                await session.send_client_content(turns=types.Content(role="user", parts=[types.Part(text=text)]))
                messages = await turn(session)
                assert said(messages) == f"echo: {text}"
    conn = server.connections[0]
    assert conn.rules is NATIVE_AUDIO_25 and conn.violation is None
    assert (conn.behavior("sync"), conn.behavior("async_")) == (BLOCKING, NON_BLOCKING)
    # One part per message on 2.5: audio, then its transcript, then turnComplete.
    assert [bool(m.data) for m in messages] == [True, False, False]
    assert messages[1].server_content.output_transcription.text == "echo: two"


@pytest.mark.anyio
async def test_25_vertex_name_is_served(live) -> None:
    server = live()
    conn = await accepted(server, "gemini-live-2.5-flash-native-audio")
    assert conn.model == "gemini-live-2.5-flash-native-audio" and conn.rules is NATIVE_AUDIO_25


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("config", "reason"),
    [
        ({"response_modalities": ["TEXT"]}, "Cannot extract voices from a non-audio request."),
        ({"tools": [types.Tool(code_execution=types.ToolCodeExecution())]}, "tools.code_execution"),
        ({"thinking_config": types.ThinkingConfig(thinking_level=types.ThinkingLevel.LOW)}, "thinking_level: LOW"),
    ],
)
async def test_25_native_audio_refusals(live, config: dict[str, Any], reason: str) -> None:
    server = live()
    error = await refused(G25, **config)
    assert_refusal(server, error, 1007, reason)


# ---- half-cascade --------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("model", [HALF, "gemini-2.0-flash-live-001"])
async def test_half_cascade_answers_in_text_with_code_execution(live, model: str) -> None:
    server = live()
    config = {"response_modalities": ["TEXT"], "tools": [types.Tool(code_execution=types.ToolCodeExecution())]}
    with anyio.fail_after(10):
        async with connect(model, **config) as session:
            await session.send_client_content(turns=types.Content(role="user", parts=[types.Part(text="hi")]))
            messages = await turn(session)
    assert [m.text for m in messages] == ["echo: hi", None] and not audio_of(messages)
    assert server.connections[0].rules is HALF_CASCADE


@pytest.mark.anyio
async def test_half_cascade_audio_speaks(live) -> None:
    live()
    with anyio.fail_after(10):
        async with connect(HALF, response_modalities=["AUDIO"]) as session:
            await session.send_realtime_input(text="hi")
            messages = await turn(session)
    assert audio_of(messages) and not any(m.text for m in messages)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"enable_affective_dialog": True}, "enable_affective_dialog"),
        ({"proactivity": types.ProactivityConfig(proactive_audio=True)}, "proactivity"),
        ({"response_modalities": ["TEXT", "AUDIO"]}, "more than one modality"),
    ],
)
async def test_half_cascade_refusals(live, config: dict[str, Any], field: str) -> None:
    server = live()
    error = await refused(HALF, **config)
    assert_refusal(server, error, 1007, field)


# ---- other names ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_unknown_model_is_not_found(live) -> None:
    server = live()
    error = await refused("gemini-2.5-flash", response_modalities=["AUDIO"])
    version = server.connections[0].path.split(".")[-3]
    assert_refusal(server, error, 1008)
    assert error.details == f"models/gemini-2.5-flash is not found for API version {version}, or is not supported for bidiGenerateContent."


@pytest.mark.anyio
async def test_test_names_are_permissive(live) -> None:
    server = live()
    config = {
        "response_modalities": ["TEXT"],
        "tools": [types.Tool(code_execution=types.ToolCodeExecution())],
        "thinking_config": types.ThinkingConfig(thinking_budget=10),
        "enable_affective_dialog": True,
        "proactivity": types.ProactivityConfig(proactive_audio=False),
        **declare(("a", types.Behavior.BLOCKING), ("b", types.Behavior.NON_BLOCKING)),
    }
    conn = await accepted(server, "test-model", **config)
    assert conn.rules is PERMISSIVE and conn.modality == "TEXT"
    assert (await accepted(server, "test-model")).modality == "TEXT"  # no modality named: text


@pytest.mark.anyio
async def test_model_rules_override(live) -> None:
    server = live(model_rules={r"house-model": HALF_CASCADE})
    conn = await accepted(server, "house-model", response_modalities=["TEXT"])
    assert conn.rules is HALF_CASCADE
    server = live(model_rules=GEMINI_31)
    error = await refused("test-model", response_modalities=["TEXT"])
    assert_refusal(server, error, 1007, "response_modalities")


# ---- rendering ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_send_text_on_audio_without_transcription_is_only_speech(live) -> None:
    live()
    with anyio.fail_after(10):
        async with connect(G38) as session:
            await session.send_realtime_input(text="hi")
            messages = await turn(session)
    assert audio_of(messages) and said(messages) == ""
    assert not any(m.server_content.output_transcription for m in messages if m.server_content)


@pytest.mark.anyio
@pytest.mark.parametrize("model", [G25, G38, G31])
async def test_send_text_chunks_become_transcription_chunks(live, model: str) -> None:
    async def scenario(conn: FakeConnection) -> None:
        await conn.expect_text()
        await conn.send_text("one two three", chunks=3)

    live(scenario)
    with anyio.fail_after(10):
        async with connect(model, **TRANSCRIBED) as session:
            await session.send_realtime_input(text="count")
            messages = await turn(session)
    pieces = [m.server_content.output_transcription.text for m in messages if m.server_content.output_transcription]
    assert len(pieces) == 3 and "".join(pieces) == "one two three"
    assert sum(1 for m in messages if m.data) == 3


# ---- setup options --------------------------------------------------------------------


@pytest.mark.anyio
async def test_setup_delay(live) -> None:
    server = live(setup_delay=0.2)
    with anyio.fail_after(10):
        started = anyio.current_time()
        async with connect(G38):
            assert anyio.current_time() - started >= 0.2
    assert server.connections[0].accepted_at


@pytest.mark.anyio
async def test_never_setup(live) -> None:
    server = live(never_setup=True)

    async def enter() -> None:
        async with connect(G38):
            pass

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(enter(), 1)
    assert server.connections[0].stalled == "never_setup"
    await until(server, server.connections[0].closed.is_set)


@pytest.mark.anyio
async def test_first_frame_instead_of_setup_complete_and_send_raw(live) -> None:
    async def scenario(conn: FakeConnection) -> None:
        await conn.expect_text()
        await conn.send_raw(b'{"serverContent": {"modelTurn": {"parts": [{"text": "raw"}]}, "turnComplete": true}}')

    live(scenario, first_frame='{"serverContent": {"modelTurn": {"parts": [{"text": "lost"}]}}}')
    with anyio.fail_after(10):
        async with connect("test-model") as session:
            assert session.setup_complete is None and session.session_id is None
            await session.send_realtime_input(text="hi")
            assert [m.text for m in await turn(session)] == ["raw"]


@pytest.mark.anyio
async def test_first_frame_not_json(live) -> None:
    live(first_frame=b"\x00garbage")
    with anyio.fail_after(10), pytest.raises(ValueError, match="Failed to parse response"):
        async with connect("test-model"):
            pass
