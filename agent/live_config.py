"""Builds the google-genai LiveConnectConfig (the setup message) from a Config. Pure, no I/O."""

from __future__ import annotations

from collections.abc import Sequence

from google.genai import types

from agent.config import Config


def build_live_config(
    config: Config,
    declarations: Sequence[types.FunctionDeclaration] = (),
    *,
    resume_handle: str | None = None,
    video: bool | None = None,
) -> types.LiveConnectConfig:
    """The setup for one connection; `resume_handle` continues an earlier session."""
    tools: list[types.Tool] = []
    if config.search:
        tools.append(types.Tool(google_search=types.GoogleSearch()))
    if config.code_execution:
        tools.append(types.Tool(code_execution=types.ToolCodeExecution()))
    if declarations:
        tools.append(types.Tool(function_declarations=list(declarations)))

    modality = types.Modality.AUDIO if config.response_audio else types.Modality.TEXT
    live = types.LiveConnectConfig(
        response_modalities=[modality],
        system_instruction=config.system_instruction or None,
        tools=tools or None,
        input_audio_transcription=types.AudioTranscriptionConfig(),
    )
    if config.response_audio:
        # --no-audio-output only stops playback: the model still speaks, so keep its voice
        # and print what it says from the output transcription.
        live.speech_config = types.SpeechConfig(
            voice_config=types.VoiceConfig(
                prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name=config.voice)
            )
        )
        live.output_audio_transcription = types.AudioTranscriptionConfig()
    if config.session_resumption:
        live.session_resumption = types.SessionResumptionConfig(handle=resume_handle)
    with_video = config.screen_capture_fps > 0 if video is None else video
    if config.context_compression or with_video:
        # Without compression, audio sessions end after 15 minutes and audio+video after 2.
        live.context_window_compression = types.ContextWindowCompressionConfig(
            sliding_window=types.SlidingWindow()
        )
    return live
