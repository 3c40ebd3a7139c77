"""What each Live model accepts and how it behaves: data, not `if` chains on model names.

The setup message, the text-input path, how an interaction ends and whether realtime input must
wait while a function call is unanswered are all read from the profile of the configured model.
Sources: the ai.google.dev model pages and Live guides (late 2026) and google-genai 3.6's types;
where the docs are silent the cautious setting is chosen (e.g. no code execution).

A model the table does not know gets the rules of the current default (gemini-3.8-live) and a
one-line notice; a `[model_profile]` table in the config overrides any field.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Literal

DEFAULT_MODEL = "gemini-3.8-live"

Thinking = Literal["none", "level", "budget"]
FunctionCalling = Literal["sync_only", "sync_and_async", "async_default", "async_only"]
TextInput = Literal["client_content", "realtime_input"]
InteractionEnd = Literal["turn_complete", "interaction_status"]
ProactiveAudio = Literal["unsupported", "optional", "always_on"]


@dataclass(frozen=True)
class ModelProfile:
    """One family of Live models: what the setup may carry and how a session behaves."""

    family: str  # the family's canonical model name, shown in messages
    status: Literal["ga", "preview", "legacy"]
    response_modalities: tuple[str, ...]  # what generationConfig.responseModalities may hold
    search: bool  # Google Search grounding
    code_execution: bool
    thinking: Thinking  # thinkingConfig: omitted entirely, thinking_level, or thinking_budget
    thinking_levels: tuple[str, ...]  # the levels `thinking_level` may take (lowercase)
    affective_dialog: bool
    proactive_audio: ProactiveAudio
    function_calling: FunctionCalling
    text_input: TextInput  # how a typed user turn goes after setup
    interaction_end: InteractionEnd  # turnComplete, or interactionStatus IDLE
    hold_input_during_calls: bool  # realtime input while a call is unanswered gets the socket closed
    blocking_cancelled_by_input: bool  # new input cancels a running BLOCKING call, maybe silently
    context_update: bool  # takes contextUpdate (new tools mid-session); else a resumed reconnect
    max_input_tokens: int
    # Images from tools in FunctionResponse.parts (inline data); else they follow the answer as an
    # image input. Documented for the 3.8 models (google-genai 3.6); off where the docs are silent.
    response_images: bool = False

    @property
    def audio_only(self) -> bool:
        return "TEXT" not in self.response_modalities

    @property
    def takes_thinking_level(self) -> bool:
        return self.thinking == "level" and bool(self.thinking_levels)

    def describe(self) -> str:
        """One line for `gemini-live` notices and the README's table."""
        answers = "audio (text via transcription)" if self.audio_only else "text or audio"
        return f"{self.family} ({self.status}): answers in {answers}, function calling {self.function_calling.replace('_', ' ')}"


_GEMINI_38 = ModelProfile(
    family="gemini-3.8-live",
    status="ga",
    response_modalities=("AUDIO",),
    search=True,
    code_execution=False,
    thinking="none",  # thinking_level / thinking_config must be omitted
    thinking_levels=(),
    affective_dialog=False,  # removed: omit it
    proactive_audio="always_on",  # `proactive_audio: false` is an error
    function_calling="async_default",
    text_input="realtime_input",  # clientContent also works all session, but interrupts generation
    interaction_end="turn_complete",
    hold_input_during_calls=False,
    blocking_cancelled_by_input=True,
    context_update=True,
    max_input_tokens=131_072,
    response_images=True,
)

_GEMINI_38_EXTENDED = dataclasses.replace(
    _GEMINI_38,
    family="gemini-3.8-live-extended-thinking",
    thinking="level",
    thinking_levels=("low", "medium", "high"),
    function_calling="async_only",  # a BLOCKING declaration is a hard error
    interaction_end="interaction_status",  # turnComplete comes with IN_PROGRESS while it keeps working
)

_GEMINI_31 = ModelProfile(
    family="gemini-3.1-flash-live-preview",
    status="legacy",
    response_modalities=("AUDIO",),
    search=True,
    code_execution=False,
    thinking="level",
    thinking_levels=("minimal", "low", "medium", "high"),
    affective_dialog=False,  # sending it keeps setupComplete from ever arriving
    proactive_audio="unsupported",
    function_calling="sync_only",
    text_input="realtime_input",  # clientContent after the first model turn is closed with 1007
    interaction_end="turn_complete",
    hold_input_during_calls=True,  # realtime input during an unanswered call: 1008
    blocking_cancelled_by_input=False,
    context_update=False,  # not documented for this model: change tools by a resumed reconnect
    max_input_tokens=131_072,
)

_GEMINI_25_NATIVE = ModelProfile(
    family="gemini-2.5-flash-native-audio",
    status="legacy",
    response_modalities=("AUDIO",),  # TEXT: 1007 "Cannot extract voices from a non-audio request"
    search=True,
    code_execution=False,  # "not supported" on the native-audio models
    thinking="budget",
    thinking_levels=(),
    affective_dialog=True,
    proactive_audio="optional",
    function_calling="sync_and_async",
    text_input="client_content",
    interaction_end="turn_complete",
    hold_input_during_calls=False,
    blocking_cancelled_by_input=False,
    context_update=False,  # not documented for this model: change tools by a resumed reconnect
    max_input_tokens=131_072,
)

_HALF_CASCADE = dataclasses.replace(
    _GEMINI_25_NATIVE,
    family="gemini-live-2.5-flash-preview",
    response_modalities=("TEXT", "AUDIO"),
    code_execution=True,
    thinking="none",
    affective_dialog=False,
    proactive_audio="unsupported",
    max_input_tokens=32_768,
)

# First match wins; names are compared after the `models/` (or Vertex publisher) prefix is removed.
_TABLE: tuple[tuple[re.Pattern[str], ModelProfile], ...] = (
    (re.compile(r"gemini-3\.8-live-extended-thinking\b.*"), _GEMINI_38_EXTENDED),
    (re.compile(r"gemini-3\.8-live\b.*"), _GEMINI_38),
    (re.compile(r"gemini-3\.1-flash-live\b.*"), _GEMINI_31),
    (re.compile(r"gemini-(live-)?2\.5-flash(-preview)?-native-audio\b.*|gemini-2\.5-flash-native-audio\b.*"), _GEMINI_25_NATIVE),
    (re.compile(r"gemini-live-2\.5-flash(-preview)?(-\d\d-\d{4})?|gemini-2\.0-flash-live\b.*"), _HALF_CASCADE),
)

PROFILES: tuple[ModelProfile, ...] = tuple(profile for _, profile in _TABLE)
_FIELDS = {f.name for f in dataclasses.fields(ModelProfile)}


def bare_name(model: str) -> str:
    """`models/x`, `publishers/google/models/x` and `projects/…/models/x` all name `x`."""
    return model.rsplit("/", 1)[-1].strip()


def lookup(model: str) -> ModelProfile | None:
    """The profile of a known model, or None."""
    name = bare_name(model)
    for pattern, profile in _TABLE:
        if pattern.fullmatch(name):
            return profile
    return None


def profile_for(model: str, overrides: dict[str, Any] | None = None) -> tuple[ModelProfile, str | None]:
    """The profile for `model` with `overrides` applied, and a notice when the model is unknown."""
    known = lookup(model)
    notice = None
    if known is None:
        known = dataclasses.replace(_GEMINI_38, family=bare_name(model) or model)
        notice = (
            f"model {bare_name(model)!r} is not in gemini-live's table of Live models; using the rules of "
            f"{DEFAULT_MODEL} (a [model_profile] table in the config can change them)"
        )
    if overrides:
        unknown = set(overrides) - _FIELDS
        if unknown:
            raise ValueError(f"unknown model profile field(s): {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
        known = dataclasses.replace(known, **values)
    return known, notice
