"""What each Live model accepts and how it behaves, as the fake Live server enforces it.

The rules encode the service (../shared/live-protocol.md §9, google-genai 3.6), not the agent:
nothing here may come from `agent/`. One `ModelRules` per model family, found by matching the
model name from the setup against `RULES_TABLE` (first match wins).

Families:
- `gemini-3.8-live` (GA; also any other `gemini-3.8*` name and any newer `gemini-N…live…` name):
  audio only, no code execution, no thinking config, no affective dialog, proactive audio is
  always on (`false` is an error); function calls are NON_BLOCKING unless declared BLOCKING,
  and new user input cancels an unanswered BLOCKING call (the service may not say so).
- `gemini-3.8-live-extended-thinking`: as 3.8, plus `thinking_level` LOW/MEDIUM/HIGH; NON_BLOCKING
  only; the end of the model's work is `interactionStatus: IDLE`.
- `gemini-3.1-…live…` (legacy preview): audio only, `thinking_level`, synchronous calls only;
  affective dialog or proactivity make the setup never complete; clientContent after the first
  model turn closes 1007; realtime input while a call is unanswered closes 1008.
- 2.5 native audio (`gemini-2.5-flash-native-audio-…`, Vertex `gemini-live-2.5-flash-native-audio…`):
  audio only, `thinking_budget`, affective dialog and proactive audio, sync and async calls.
- Half-cascade (`gemini-live-2.5-flash-preview`, `gemini-2.0-flash-live-001`): TEXT or AUDIO, code
  execution; no affective dialog or proactivity. Thinking is not checked.
- `test-…`: `PERMISSIVE`, for tests that are not about a model: anything goes, TEXT by default.
- Anything else: close 1008 "models/X is not found …", as the service answers an unknown model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

AUDIO, TEXT = "AUDIO", "TEXT"
BLOCKING, NON_BLOCKING = "BLOCKING", "NON_BLOCKING"
INVALID_ARGUMENT = "Request contains an invalid argument."
ALL_LEVELS = frozenset({"MINIMAL", "LOW", "MEDIUM", "HIGH", "XHIGH"})

# What a setup field does on a model: accepted, closed with 1007, or the setup never completes.
Support = Literal["ok", "error", "stall"]


@dataclass(frozen=True)
class ModelRules:
    """One model family's contract. Defaults are the strictest current audio model."""

    family: str
    known: bool = True  # False: the service does not serve the name (close 1008)
    # -- setup ------------------------------------------------------------------------
    modalities: frozenset[str] = frozenset({AUDIO})  # allowed responseModalities (one per session)
    default_modality: str = AUDIO  # when the setup names none
    text_refusal: str | None = None  # the service's own words for a TEXT request, if known
    code_execution: bool = False
    thinking_config: bool = True  # False: any thinkingConfig is an error
    thinking_levels: frozenset[str] = frozenset()  # allowed thinking_level values
    thinking_budget: bool = False
    affective_dialog: Support = "error"  # generationConfig.enableAffectiveDialog present
    proactivity: Support | Literal["no_false"] = "error"  # "no_false": always on, false is an error
    behaviors: frozenset[str] = frozenset({BLOCKING, NON_BLOCKING})  # allowed declared behaviors
    # -- session ----------------------------------------------------------------------
    default_behavior: str = BLOCKING  # a declaration without behavior
    input_cancels_blocking: bool = False  # new user input cancels an unanswered BLOCKING call
    realtime_input_during_call: int | None = None  # close code for realtime input while a call is open
    client_content_after_first_turn: bool = True
    interaction_status: bool = False  # the model's work ends with interactionStatus IDLE
    combine_parts: bool = False  # audio and its transcript may share one serverContent

    def behavior(self, declaration: Mapping[str, Any] | None) -> str:
        declared = (declaration or {}).get("behavior")
        return declared if declared in (BLOCKING, NON_BLOCKING) else self.default_behavior


GEMINI_38 = ModelRules(
    "gemini-3.8-live",
    thinking_config=False,
    affective_dialog="error",
    proactivity="no_false",
    default_behavior=NON_BLOCKING,
    input_cancels_blocking=True,
    combine_parts=True,
)
GEMINI_38_EXTENDED_THINKING = replace(
    GEMINI_38,
    family="gemini-3.8-live-extended-thinking",
    thinking_config=True,
    thinking_levels=frozenset({"LOW", "MEDIUM", "HIGH"}),
    behaviors=frozenset({NON_BLOCKING}),
    interaction_status=True,
)
GEMINI_31 = ModelRules(
    "gemini-3.1-flash-live",
    thinking_levels=frozenset({"MINIMAL", "LOW", "MEDIUM", "HIGH"}),
    affective_dialog="stall",
    proactivity="stall",
    behaviors=frozenset({BLOCKING}),
    realtime_input_during_call=1008,
    client_content_after_first_turn=False,
    combine_parts=True,
)
NATIVE_AUDIO_25 = ModelRules(
    "gemini-2.5-flash-native-audio",
    text_refusal="Cannot extract voices from a non-audio request.",
    thinking_budget=True,
    affective_dialog="ok",
    proactivity="ok",
)
HALF_CASCADE = ModelRules(
    "half-cascade",
    modalities=frozenset({TEXT, AUDIO}),
    code_execution=True,
    thinking_levels=ALL_LEVELS,  # not checked
    thinking_budget=True,
)
PERMISSIVE = replace(
    HALF_CASCADE,
    family="permissive",
    default_modality=TEXT,
    affective_dialog="ok",
    proactivity="ok",
)
NOT_FOUND = ModelRules("not-found", known=False)

_NEWER = r"(?:3\.(?:[89]|[1-9]\d+)|(?:[4-9]|[1-9]\d+)(?:\.\d+)?)"  # versions 3.8 and later
_TAIL = r"[\w.-]*"
RULES_TABLE: tuple[tuple[str, ModelRules], ...] = (
    (r"test-.*", PERMISSIVE),
    (rf"gemini-{_NEWER}-live-extended-thinking{_TAIL}", GEMINI_38_EXTENDED_THINKING),
    (rf"gemini-3\.1-{_TAIL}live{_TAIL}", GEMINI_31),
    (rf"gemini-3\.8{_TAIL}", GEMINI_38),
    (rf"gemini-{_NEWER}-{_TAIL}live{_TAIL}", GEMINI_38),
    (rf"gemini-(?:live-)?2\.5-{_TAIL}native-audio{_TAIL}", NATIVE_AUDIO_25),
    (rf"gemini-live-2\.5-flash(?:-preview)?|gemini-2\.0-flash-live-(?:001|preview{_TAIL})", HALF_CASCADE),
)
"""(regex over the normalised name, rules). Matched whole; the first match wins; no match: NOT_FOUND."""

_PREFIX = re.compile(r"^(?:.*/)?models/")


def model_name(name: str) -> str:
    """`models/x`, `publishers/google/models/x`, `projects/…/models/x` (even behind the SDK's own
    `models/`) all name `x`."""
    return _PREFIX.sub("", name or "")


def rules_for(name: str, overrides: ModelRules | Mapping[str, ModelRules] | None = None) -> ModelRules:
    """The rules for a (normalised) model name. `overrides`: one rule for every name, or
    {regex: rules} consulted before `RULES_TABLE`."""
    if isinstance(overrides, ModelRules):
        return overrides
    table = [*(overrides or {}).items(), *RULES_TABLE]
    for pattern, rules in table:
        if re.fullmatch(pattern, name):
            return rules
    return NOT_FOUND


@dataclass
class SetupVerdict:
    """What the service does with a setup: close it, never complete it, or accept it."""

    close: tuple[int, str] | None = None
    stall: str | None = None  # why setupComplete is withheld
    modality: str = AUDIO
    declarations: list[dict[str, Any]] = field(default_factory=list)


def declarations_of(tools: Any) -> list[dict[str, Any]]:
    """Every function declaration of a (normalised) tools list."""
    if not isinstance(tools, list):
        return []
    return [d for t in tools if isinstance(t, dict) for d in t.get("function_declarations") or []]


def check_tools(tools: Any, model: str, rules: ModelRules) -> str | None:
    """The 1007 reason for a tool list the model refuses, or None."""
    for tool in tools if isinstance(tools, list) else []:
        if isinstance(tool, dict) and "code_execution" in tool and not rules.code_execution:
            return unsupported("tools.code_execution", "code execution", model)
    for i, decl in enumerate(declarations_of(tools)):
        behavior = decl.get("behavior")
        if behavior in (BLOCKING, NON_BLOCKING) and behavior not in rules.behaviors:
            field_ = f"tools.function_declarations[{i}].behavior"
            return unsupported(field_, f"{behavior} (function {decl.get('name')})", model)
    return None


def unsupported(field_: str, what: str, model: str) -> str:
    return f"{field_}: {what} is not supported by models/{model}"


def check_setup(setup: Mapping[str, Any], model: str, rules: ModelRules, api_version: str) -> SetupVerdict:
    """Judge a normalised (snake_case) setup as the service would."""
    if not rules.known:
        reason = f"models/{model} is not found for API version {api_version}, or is not supported for bidiGenerateContent."
        return SetupVerdict(close=(1008, reason))
    gen = setup.get("generation_config") or {}
    stall: str | None = None

    def refuse(reason: str) -> SetupVerdict:
        return SetupVerdict(close=(1007, reason))

    modalities = [str(m).upper() for m in gen.get("response_modalities") or []]
    if len(modalities) > 1:
        return refuse(unsupported("generation_config.response_modalities", "more than one modality", model))
    for m in modalities:
        if m not in rules.modalities:
            if m == TEXT and rules.text_refusal:
                return refuse(rules.text_refusal)
            return refuse(unsupported("generation_config.response_modalities", m, model))
    if tools_refusal := check_tools(setup.get("tools"), model, rules):
        return refuse(tools_refusal)
    thinking = gen.get("thinking_config")
    if thinking is not None:
        if not rules.thinking_config:
            return refuse(unsupported("generation_config.thinking_config", "a thinking config", model))
        if thinking.get("thinking_budget") is not None and not rules.thinking_budget:
            return refuse(unsupported("generation_config.thinking_config.thinking_budget", "thinking_budget", model))
        level = thinking.get("thinking_level")
        if level is not None and level not in rules.thinking_levels:
            return refuse(unsupported("generation_config.thinking_config.thinking_level", str(level), model))
    affective = gen.get("enable_affective_dialog", setup.get("enable_affective_dialog"))
    if affective is not None:
        if rules.affective_dialog == "error":
            return refuse(unsupported("generation_config.enable_affective_dialog", "affective dialog", model))
        if rules.affective_dialog == "stall":
            stall = "enable_affective_dialog"
    proactivity = setup.get("proactivity")
    if proactivity is not None:
        if rules.proactivity == "error":
            return refuse(unsupported("proactivity", "proactive audio", model))
        if rules.proactivity == "no_false" and proactivity.get("proactive_audio") is False:
            return refuse(unsupported("proactivity.proactive_audio", "false (it is always on)", model))
        if rules.proactivity == "stall":
            stall = stall or "proactivity"
    return SetupVerdict(
        stall=stall,
        modality=modalities[0] if modalities else rules.default_modality,
        declarations=declarations_of(setup.get("tools")),
    )
