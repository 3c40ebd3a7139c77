"""The session's edge: each LiveServerMessage becomes small frozen events, in wire order.

Nothing past this module sees an SDK message object. `decode` is pure; the session hands each
event to one listener (the conversation), which keeps interaction state and drives the outputs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from google.genai import types

from agent.events import SPEAKER_RATE, FunctionCall
from agent.live_errors import first_line

_RATE = re.compile(r"rate=(\d+)")
_DURATION = re.compile(r"\s*(\d+(?:\.\d*)?)s\s*")


@dataclass(frozen=True, slots=True)
class ModelText:
    """Text the model wrote (TEXT modality)."""

    text: str


@dataclass(frozen=True, slots=True)
class ModelAudio:
    """A chunk of the model's voice, PCM16 mono."""

    data: bytes = field(repr=False)
    rate: int = SPEAKER_RATE


@dataclass(frozen=True, slots=True)
class Transcript:
    """A piece of the transcript of the user's speech (`user`) or the model's (`model`)."""

    role: Literal["user", "model"]
    text: str
    finished: bool = False


@dataclass(frozen=True, slots=True)
class Interrupted:
    """The user spoke over the model: what is queued for playback is stale."""


@dataclass(frozen=True, slots=True)
class GenerationComplete:
    """The model has generated all of this turn (playback may still be running)."""


@dataclass(frozen=True, slots=True)
class ToolCall:
    calls: tuple[FunctionCall, ...]


@dataclass(frozen=True, slots=True)
class InvalidToolCall:
    """A call the agent could not read (its args not an object): answered with invalid_argument."""

    call: FunctionCall
    reason: str


@dataclass(frozen=True, slots=True)
class ToolCallCancelled:
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TurnComplete:
    """The end of a model turn, or (on extended thinking) an interaction status report.

    `interaction` is the server's interactionStatus (IN_PROGRESS, IDLE) when it sends one: then
    IDLE, not turnComplete, ends the interaction.
    """

    turn_complete: bool = True
    reason: str | None = None
    interaction: str | None = None
    waiting_for_input: bool = False


@dataclass(frozen=True, slots=True)
class GoAway:
    """The server will close this connection; `time_left` in seconds when it said."""

    time_left: float | None


@dataclass(frozen=True, slots=True)
class ResumptionUpdate:
    handle: str | None
    resumable: bool


@dataclass(frozen=True, slots=True)
class Usage:
    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Grounding:
    sources: tuple[tuple[str, str], ...]  # (title, uri)
    queries: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Code:
    language: str
    code: str


@dataclass(frozen=True, slots=True)
class CodeResult:
    outcome: str
    output: str


@dataclass(frozen=True, slots=True)
class VoiceActivity:
    """The server's voice activity signal (ACTIVITY_START / ACTIVITY_END)."""

    kind: str


ServerEvent = (
    ModelText
    | ModelAudio
    | Transcript
    | Interrupted
    | GenerationComplete
    | ToolCall
    | InvalidToolCall
    | ToolCallCancelled
    | TurnComplete
    | GoAway
    | ResumptionUpdate
    | Usage
    | Grounding
    | Code
    | CodeResult
    | VoiceActivity
)


def parse_duration(text: str | None) -> float | None:
    """A protobuf Duration string ("50s", "1.5s") in seconds."""
    m = _DURATION.fullmatch(text or "")
    return float(m.group(1)) if m else None


def _enum(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "value", value))


def decode(message: types.LiveServerMessage) -> list[ServerEvent]:
    """The events one server message carries, in the order they should be handled."""
    events: list[ServerEvent] = []
    update = message.session_resumption_update
    if update is not None:
        events.append(ResumptionUpdate(update.new_handle or None, bool(update.resumable)))
    if message.go_away is not None:
        events.append(GoAway(parse_duration(message.go_away.time_left)))
    if message.voice_activity is not None and message.voice_activity.voice_activity_type is not None:
        events.append(VoiceActivity(_enum(message.voice_activity.voice_activity_type) or ""))
    if message.server_content is not None:
        events += _server_content(message.server_content)
    if message.tool_call is not None and message.tool_call.function_calls:
        calls = tuple(FunctionCall(id=c.id or "", name=c.name or "", args=dict(c.args or {})) for c in message.tool_call.function_calls)
        events.append(ToolCall(calls))
    if message.tool_call_cancellation is not None and message.tool_call_cancellation.ids:
        events.append(ToolCallCancelled(tuple(message.tool_call_cancellation.ids)))
    if message.server_content is not None:
        end = _turn_end(message.server_content)
        if end is not None:
            events.append(end)  # after the tool calls of the same message
    if message.usage_metadata is not None:
        events.append(Usage(message.usage_metadata.model_dump(exclude_none=True, mode="json")))
    return events


def _server_content(content: types.LiveServerContent) -> list[ServerEvent]:
    events: list[ServerEvent] = []
    if content.interrupted:
        events.append(Interrupted())
    if content.input_transcription is not None and content.input_transcription.text:
        events.append(Transcript("user", content.input_transcription.text, bool(content.input_transcription.finished)))
    if content.model_turn is not None:
        for part in content.model_turn.parts or []:
            events += _part(part)
    if content.output_transcription is not None and content.output_transcription.text:
        events.append(Transcript("model", content.output_transcription.text, bool(content.output_transcription.finished)))
    if content.grounding_metadata is not None:
        grounding = _grounding(content.grounding_metadata)
        if grounding is not None:
            events.append(grounding)
    if content.generation_complete:
        events.append(GenerationComplete())
    return events


def _turn_end(content: types.LiveServerContent) -> TurnComplete | None:
    status = _enum(content.interaction_status)
    if status == "INTERACTION_STATUS_UNSPECIFIED":
        status = None
    if not content.turn_complete and status is None:
        return None
    return TurnComplete(
        turn_complete=bool(content.turn_complete),
        reason=_enum(content.turn_complete_reason),
        interaction=status,
        waiting_for_input=bool(content.waiting_for_input),
    )


def _part(part: types.Part) -> list[ServerEvent]:
    if part.thought:
        return []
    events: list[ServerEvent] = []
    if part.text:
        events.append(ModelText(part.text))
    blob = part.inline_data
    if blob is not None and blob.data and (blob.mime_type or "").startswith("audio/"):
        m = _RATE.search(blob.mime_type or "")
        events.append(ModelAudio(blob.data, int(m.group(1)) if m else SPEAKER_RATE))
    if part.executable_code is not None and part.executable_code.code:
        language = (_enum(part.executable_code.language) or "").replace("LANGUAGE_UNSPECIFIED", "")
        events.append(Code(language, part.executable_code.code))
    if part.code_execution_result is not None:
        r = part.code_execution_result
        events.append(CodeResult(_enum(r.outcome) or "", r.output or ""))
    return events


def _grounding(meta: types.GroundingMetadata) -> Grounding | None:
    sources = tuple((c.web.title or "", c.web.uri or "") for c in meta.grounding_chunks or [] if c.web and c.web.uri)
    queries = tuple(meta.web_search_queries or [])
    return Grounding(sources, queries) if sources or queries else None


# ---- what the session itself reports, through the same listener --------------------------


@dataclass(frozen=True, slots=True)
class Connected:
    """A connection finished its setup. `resumed`: not the first one; `with_handle`: context kept."""

    session_id: str | None
    connection: int
    resumed: bool
    with_handle: bool


@dataclass(frozen=True, slots=True)
class Reconnecting:
    reason: str
    attempt: int
    delay: float


@dataclass(frozen=True, slots=True)
class Skipped:
    """A server frame that could not be decoded was skipped; the connection goes on."""

    error: str


@dataclass(frozen=True, slots=True)
class Raw:
    """A server message as the SDK parsed it (JSON-able), for --verbose."""

    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ToolsUpdated:
    """A changed tool list reached the model: `context_update`, or `reconnect` with a new setup."""

    how: str


SessionEvent = ServerEvent | Connected | Reconnecting | Skipped | Raw | ToolsUpdated


# ---- frames the SDK could not parse ----------------------------------------------------------


def describe_unparsed(frame: str | bytes | None) -> str:
    """One line on a server frame the SDK could not turn into a message (never the whole frame)."""
    if frame is None:
        return "an unreadable frame"
    text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else frame
    try:
        data = json.loads(text)
    except ValueError:
        return f"a frame that is not JSON: {first_line(text)}"
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        error = data["error"]
        parts = [str(error.get(k)) for k in ("code", "status", "message") if error.get(k) is not None]
        return "an error from the server: " + first_line(" ".join(parts) or json.dumps(error))
    if not isinstance(data, dict):
        return f"a JSON {type(data).__name__} instead of an object: {first_line(text)}"
    return f"a message with fields it could not read ({', '.join(sorted(map(str, data))[:5])})"


def salvage_tool_calls(frame: str | bytes | None) -> tuple[ToolCall | None, list[tuple[FunctionCall, str]]]:
    """From a toolCall frame the SDK refused (a call's args not an object, say): the calls that are
    fine, and the ones that are not with the reason, so each can still be answered."""
    if frame is None:
        return None, []
    try:
        data = json.loads(frame)
    except ValueError:
        return None, []
    calls = data.get("toolCall", data.get("tool_call")) if isinstance(data, dict) else None
    calls = calls.get("functionCalls", calls.get("function_calls")) if isinstance(calls, dict) else None
    if not isinstance(calls, list):
        return None, []
    good: list[FunctionCall] = []
    bad: list[tuple[FunctionCall, str]] = []
    for item in calls:
        if not isinstance(item, dict):
            continue
        call = FunctionCall(id=str(item.get("id") or ""), name=str(item.get("name") or ""))
        args = item.get("args")
        if args is None or isinstance(args, dict):
            good.append(FunctionCall(call.id, call.name, dict(args or {})))
        else:
            bad.append((call, f"the arguments must be an object, not a JSON {type(args).__name__}"))
    return (ToolCall(tuple(good)) if good else None), bad
