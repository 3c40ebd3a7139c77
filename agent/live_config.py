"""The session plan (config checked against the model's profile) and the setup it sends. Pure, no I/O.

`plan_session` fails, before anything connects, on what the model cannot do (code execution on
a model without it, a thinking level it does not take); `build_live_config` then never puts
into the setup what the model rejects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from google.genai import types

from agent.config import Config
from agent.errors import UserError
from agent.profiles import ModelProfile, profile_for


@dataclass(frozen=True)
class SessionPlan:
    """What this session asks of its model, decided once from the config and the profile."""

    profile: ModelProfile
    text_answers: bool  # the TEXT modality: the model answers in text parts
    transcript_as_text: bool  # --text-output on an audio-only model: print the transcript as the answer
    realtime_text: bool  # typed turns go as realtimeInput.text (else clientContent)
    notices: tuple[str, ...] = ()

    @property
    def response_audio(self) -> bool:
        return not self.text_answers


def plan_session(config: Config) -> SessionPlan:
    """Check the config against the model's profile; UserError (exit 2) names model and feature."""
    overrides = config.model_profile.fields_set() if config.model_profile else None
    profile, notice = profile_for(config.model, overrides)
    notices = [notice] if notice else []
    model = profile.family
    if config.code_execution and not profile.code_execution:
        raise UserError(
            f"{model} has no code execution; turn it off (--no-code-execution, or code_execution = false) "
            "or choose a model that has it (gemini-live-2.5-flash-preview)"
        )
    if config.search and not profile.search:
        raise UserError(f"{model} has no Google Search; turn it off (--no-search, or search = false)")
    if config.thinking_level is not None:
        if not profile.takes_thinking_level:
            raise UserError(f"{model} takes no thinking level; remove --thinking-level (thinking_level)")
        if config.thinking_level not in profile.thinking_levels:
            raise UserError(
                f"{model} takes thinking_level {', '.join(profile.thinking_levels)}, not {config.thinking_level!r}"
            )
    text_answers = config.text_output and not profile.audio_only
    transcript_as_text = config.text_output and profile.audio_only
    if transcript_as_text:
        notices.append(f"{model} answers in audio only: --text-output prints the transcript of its speech")
    if config.text_input_mode == "auto":
        realtime_text = profile.text_input == "realtime_input"
    else:
        realtime_text = config.text_input_mode == "realtime_input"
    return SessionPlan(profile, text_answers, transcript_as_text, realtime_text, tuple(notices))


def builtin_tools(config: Config, plan: SessionPlan) -> list[types.ToolUnion]:
    """Search and code execution, as far as both the config and the model want them."""
    tools: list[types.ToolUnion] = []
    if config.search and plan.profile.search:
        tools.append(types.Tool(google_search=types.GoogleSearch()))
    if config.code_execution and plan.profile.code_execution:
        tools.append(types.Tool(code_execution=types.ToolCodeExecution()))
    return tools


def build_live_config(
    config: Config,
    declarations: Sequence[types.FunctionDeclaration] = (),
    *,
    plan: SessionPlan | None = None,
    resume_handle: str | None = None,
    video: bool | None = None,
) -> types.LiveConnectConfig:
    """The setup for one connection; `resume_handle` continues an earlier session."""
    plan = plan or plan_session(config)
    tools = builtin_tools(config, plan)
    if declarations:
        tools.append(types.Tool(function_declarations=list(declarations)))

    modality = types.Modality.AUDIO if plan.response_audio else types.Modality.TEXT
    live = types.LiveConnectConfig(
        response_modalities=[modality],
        system_instruction=config.system_instruction or None,
        tools=tools or None,
        input_audio_transcription=types.AudioTranscriptionConfig(),
    )
    if plan.response_audio:
        # Without playback (--no-audio-output, or --text-output on an audio-only model) the model
        # still speaks, so keep its voice and print what it says from the output transcription.
        live.speech_config = types.SpeechConfig(
            voice_config=types.VoiceConfig(prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name=config.voice))
        )
        live.output_audio_transcription = types.AudioTranscriptionConfig()
    if config.thinking_level is not None and plan.profile.takes_thinking_level:
        live.thinking_config = types.ThinkingConfig(thinking_level=types.ThinkingLevel(config.thinking_level.upper()))
    if config.session_resumption:
        live.session_resumption = types.SessionResumptionConfig(handle=resume_handle)
    with_video = config.screen_capture_fps > 0 if video is None else video
    if config.context_compression or with_video:
        # Without compression, audio sessions end after 15 minutes and audio+video after 2.
        live.context_window_compression = types.ContextWindowCompressionConfig(sliding_window=types.SlidingWindow())
    if config.push_to_talk:
        # The user says when they speak: activityStart / activityEnd instead of the server's VAD.
        live.realtime_input_config = types.RealtimeInputConfig(automatic_activity_detection=types.AutomaticActivityDetection(disabled=True))
    return live
