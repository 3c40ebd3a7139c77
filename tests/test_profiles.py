"""Model profiles, the session plan checked against them, the event edge and the interaction state."""

from __future__ import annotations

import anyio
import pytest
from google.genai import types

from agent import live_events as ev
from agent.config import Config, load_config
from agent.errors import ConfigError, UserError
from agent.interaction import InteractionState, watch_stalls
from agent.live_config import build_live_config, plan_session
from agent.profiles import DEFAULT_MODEL, lookup, profile_for


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("gemini-3.8-live", "gemini-3.8-live"),
        ("models/gemini-3.8-live", "gemini-3.8-live"),
        ("gemini-3.8-live-001", "gemini-3.8-live"),
        ("gemini-3.8-live-extended-thinking", "gemini-3.8-live-extended-thinking"),
        ("models/gemini-3.8-live-extended-thinking-preview-11-2026", "gemini-3.8-live-extended-thinking"),
        ("gemini-3.1-flash-live-preview", "gemini-3.1-flash-live-preview"),
        ("gemini-2.5-flash-native-audio-preview-12-2025", "gemini-2.5-flash-native-audio"),
        ("gemini-2.5-flash-native-audio-preview-09-2025", "gemini-2.5-flash-native-audio"),
        ("publishers/google/models/gemini-live-2.5-flash-native-audio", "gemini-2.5-flash-native-audio"),
        ("projects/p/locations/us-central1/publishers/google/models/gemini-live-2.5-flash-native-audio", "gemini-2.5-flash-native-audio"),
        ("gemini-live-2.5-flash-preview", "gemini-live-2.5-flash-preview"),
        ("gemini-2.0-flash-live-001", "gemini-live-2.5-flash-preview"),
    ],
)
def test_names_match_their_family(model: str, family: str) -> None:
    profile = lookup(model)
    assert profile is not None and profile.family == family


def test_the_default_is_38_ga() -> None:
    profile = lookup(DEFAULT_MODEL)
    assert DEFAULT_MODEL == "gemini-3.8-live" and profile is not None and profile.status == "ga"
    assert profile.audio_only and not profile.code_execution and profile.function_calling == "async_default"


def test_an_unknown_model_gets_38_rules_and_a_notice() -> None:
    profile, notice = profile_for("models/gemini-9.9-live-experimental")
    assert profile.family == "gemini-9.9-live-experimental"
    assert profile.audio_only and profile.interaction_end == "turn_complete"
    assert notice is not None and "gemini-9.9-live-experimental" in notice and "gemini-3.8-live" in notice
    assert profile_for("gemini-3.8-live")[1] is None


def test_model_profile_table_overrides_fields(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gemini-live.toml").write_text(
        'model = "gemini-9-live"\n[model_profile]\nresponse_modalities = ["TEXT", "AUDIO"]\n'
        'interaction_end = "interaction_status"\ncode_execution = true\n'
    )
    config = load_config(None, {})
    plan = plan_session(config.model_copy(update={"text_output": True, "code_execution": True}))
    assert plan.text_answers and plan.profile.interaction_end == "interaction_status"
    assert [n for n in plan.notices if "not in gemini-live's table" in n]


def test_model_profile_table_rejects_unknown_fields(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gemini-live.toml").write_text('[model_profile]\nfunction_calls = "async_only"\n')
    with pytest.raises(ConfigError) as e:
        load_config(None, {})
    assert e.value.key == "model_profile.function_calls" and "gemini-live.toml" in str(e.value)


def test_code_execution_on_an_audio_only_model_is_refused() -> None:
    with pytest.raises(UserError) as e:
        plan_session(Config(code_execution=True))
    assert "gemini-3.8-live" in str(e.value) and "code execution" in str(e.value)
    assert plan_session(Config(model="gemini-live-2.5-flash-preview", code_execution=True)).profile.code_execution


@pytest.mark.parametrize(
    ("model", "level", "ok"),
    [
        ("gemini-3.8-live", "low", False),  # thinking config must be omitted
        ("gemini-3.8-live-extended-thinking", "high", True),
        ("gemini-3.8-live-extended-thinking", "minimal", False),  # low, medium, high only
        ("gemini-3.1-flash-live-preview", "minimal", True),
        ("gemini-2.5-flash-native-audio-preview-12-2025", "low", False),  # takes a budget, not a level
    ],
)
def test_thinking_level_only_where_the_model_takes_it(model: str, level: str, ok: bool) -> None:
    config = Config(model=model, thinking_level=level)
    if ok:
        setup = build_live_config(config)
        assert setup.thinking_config is not None and setup.thinking_config.thinking_level == types.ThinkingLevel(level.upper())
    else:
        with pytest.raises(UserError, match="thinking"):
            plan_session(config)


def test_text_output_on_an_audio_only_model_prints_the_transcript() -> None:
    plan = plan_session(Config(text_output=True))
    assert plan.transcript_as_text and not plan.text_answers
    assert any("transcript" in n for n in plan.notices)
    setup = build_live_config(Config(text_output=True), plan=plan)
    assert setup.response_modalities == [types.Modality.AUDIO] and setup.output_audio_transcription is not None
    assert not Config(text_output=True).play_audio


def test_no_profile_gets_a_setup_it_rejects() -> None:
    """Whatever the flags, the setup carries only what the model's profile accepts."""
    for model in ("gemini-3.8-live", "gemini-3.8-live-extended-thinking", "gemini-3.1-flash-live-preview", "gemini-2.5-flash-native-audio-preview-12-2025"):
        setup = build_live_config(Config(model=model, text_output=True))
        assert setup.response_modalities == [types.Modality.AUDIO]
        assert setup.enable_affective_dialog is None and setup.proactivity is None
        assert all(t.code_execution is None for t in setup.tools or [])
        assert setup.thinking_config is None


# ---- the event edge ---------------------------------------------------------------------


def message(data: dict) -> types.LiveServerMessage:
    return types.LiveServerMessage._from_response(response=data, kwargs={})


def test_decode_turns_a_message_into_events_in_order() -> None:
    events = ev.decode(message({
        "sessionResumptionUpdate": {"newHandle": "h1", "resumable": True},
        "serverContent": {
            "modelTurn": {"parts": [{"text": "hi", "thought": True}, {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": "AAA="}}]},
            "outputTranscription": {"text": "Hello"},
            "turnComplete": True,
            "interactionStatus": "IN_PROGRESS",
        },
        "toolCall": {"functionCalls": [{"id": "c1", "name": "f", "args": {"a": 1}}]},
        "usageMetadata": {"totalTokenCount": 5},
    }))
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["ResumptionUpdate", "ModelAudio", "Transcript", "ToolCall", "TurnComplete", "Usage"]
    assert events[-2] == ev.TurnComplete(turn_complete=True, reason=None, interaction="IN_PROGRESS")
    assert events[3] == ev.ToolCall((ev.FunctionCall("c1", "f", {"a": 1}),))


def test_decode_interaction_status_without_turn_complete() -> None:
    assert ev.decode(message({"serverContent": {"interactionStatus": "IDLE"}})) == [ev.TurnComplete(turn_complete=False, interaction="IDLE")]
    assert ev.decode(message({"goAway": {}})) == [ev.GoAway(None)]
    assert ev.decode(message({"goAway": {"timeLeft": "1.5s"}})) == [ev.GoAway(1.5)]


# ---- the interaction state ------------------------------------------------------------------


def test_turn_complete_ends_the_interaction_unless_the_server_reports_status() -> None:
    state = InteractionState(profile_for("gemini-3.8-live-extended-thinking")[0])
    state.user_turn_sent("q", realtime=True)
    state.model_activity()
    assert not state.turn_ended(turn_complete=True, interaction="IN_PROGRESS")
    assert not state.idle and state.phase() == "thinking" and state.turns
    state.calls_started({"c1": "f"})
    state.calls_answered(["c1"])
    state.model_activity()
    assert state.turn_ended(turn_complete=True, interaction="IDLE")
    assert state.idle and not state.turns

    plain = InteractionState(profile_for("gemini-3.8-live")[0])
    plain.user_turn_sent("q", realtime=True)
    assert plain.turn_ended(turn_complete=True, interaction=None) and plain.idle


def test_a_turn_answered_in_part_before_a_handle_is_not_replayed() -> None:
    state = InteractionState(profile_for("gemini-3.8-live")[0])
    state.user_turn_sent("first", realtime=True)
    state.model_activity()  # the model began answering "first"
    state.handle_issued()  # ... and the server's state (the handle) now holds it
    state.user_turn_sent("second", realtime=True)
    assert [t.text for t in state.replayable()] == ["second"]
    state.connection_replaced()
    assert [t.text for t in state.turns] == ["second"] and not state.model_active


@pytest.mark.anyio
async def test_wait_idle_wakes_on_change_without_polling() -> None:
    state = InteractionState(profile_for("gemini-3.8-live")[0])
    state.user_turn_sent("q", realtime=True)
    woke = anyio.Event()

    async def waiter() -> None:
        await state.wait_idle()
        woke.set()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            await anyio.wait_all_tasks_blocked()
            assert not woke.is_set()
            state.model_activity()
            await anyio.wait_all_tasks_blocked()
            assert not woke.is_set()
            state.turn_ended(turn_complete=True, interaction=None)
            await woke.wait()


@pytest.mark.anyio
async def test_the_stall_watchdog_reports_once_per_stall() -> None:
    state = InteractionState(profile_for("gemini-3.8-live")[0])
    stalls: list[float] = []
    reported = anyio.Event()

    def on_stall(quiet: float) -> None:
        stalls.append(quiet)
        reported.set()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(watch_stalls, state, 0.2, on_stall)
            state.calls_started({"c": "slow_tool"})  # waiting on our tool is no stall
            state.user_turn_sent("q", realtime=True)
            await anyio.wait_all_tasks_blocked()
            assert not stalls
            state.calls_answered(["c"])
            await reported.wait()
            assert len(stalls) == 1 and stalls[0] >= 0.2
            tg.cancel_scope.cancel()


class CallLog:
    """A ToolCalls that records what the conversation asks of it."""

    def __init__(self) -> None:
        self.submitted: list[str] = []
        self.cancelled: list[str] = []

    def submit(self, calls: list) -> None:
        self.submitted += [c.id for c in calls]

    def cancel(self, ids: list[str]) -> None:
        self.cancelled += ids


@pytest.mark.parametrize(("model", "cancelled"), [("gemini-3.8-live", ["b1"]), ("gemini-2.5-flash-native-audio-preview-12-2025", [])])
def test_new_input_cancels_running_blocking_calls_where_the_model_does(model: str, cancelled: list[str]) -> None:
    """On 3.8 the server drops a BLOCKING call when new input arrives, with or without a toolCallCancellation."""
    import io

    from agent.console import Console
    from agent.conversation import Conversation
    from agent.metrics import Metrics
    from agent.record import Recorder

    state = InteractionState(profile_for(model)[0])
    conversation = Conversation(Console(io.StringIO(), io.StringIO()), Recorder(None), Metrics(), state)
    tools = CallLog()
    conversation.tools = tools
    conversation.is_blocking = {"book_flight"}.__contains__
    conversation.on_event(ev.ToolCall((ev.FunctionCall("b1", "book_flight", {}), ev.FunctionCall("n1", "lookup", {}))))
    assert tools.submitted == ["b1", "n1"] and set(state.calls) == {"b1", "n1"}
    conversation.user_text_sent("actually, stop")
    assert tools.cancelled == cancelled
    assert set(state.calls) == {"b1", "n1"} - set(cancelled)
