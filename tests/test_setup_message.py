"""The setup message the fake server receives, for each flag and each config key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.config import Config
from agent.live_config import build_live_config
from tests.conftest import run_agent

BASE = ("--no-audio-input", "--no-audio-output")


def voice(setup: dict[str, Any]) -> str | None:
    speech = setup.get("generation_config", {}).get("speech_config")
    return speech["voice_config"]["prebuilt_voice_config"]["voice_name"] if speech else None


def modalities(setup: dict[str, Any]) -> list[str]:
    return setup["generation_config"]["response_modalities"]


def tool_kinds(setup: dict[str, Any]) -> list[str]:
    return [next(iter(t)) for t in setup.get("tools", [])]


CASES: list[tuple[str, tuple[str, ...], str, Any]] = [
    # name, flags, the same as TOML, check(setup)
    ("defaults", (), "", lambda s: (
        modalities(s) == ["AUDIO"] and voice(s) == "Charon" and tool_kinds(s) == ["google_search"]
        and "input_audio_transcription" in s and "output_audio_transcription" in s
        and s["session_resumption"] == {} and s["context_window_compression"] == {"sliding_window": {}}
        and s["model"] == "models/gemini-3.8-live" and "thinking_config" not in s.get("generation_config", {})
    )),
    ("model", ("--model", "gemini-live-2.5-flash-preview"), 'model = "gemini-live-2.5-flash-preview"',
     lambda s: s["model"] == "models/gemini-live-2.5-flash-preview"),
    ("voice", ("--voice", "Kore"), 'voice = "Kore"', lambda s: voice(s) == "Kore"),
    ("system_instruction", ("--system-instruction", "Be brief."), 'system_instruction = "Be brief."',
     lambda s: s["system_instruction"]["parts"] == [{"text": "Be brief."}]),
    # gemini-3.8-live answers in audio only: --text-output keeps AUDIO and prints the transcript.
    ("text_output", ("--text-output",), "text_output = true",
     lambda s: modalities(s) == ["AUDIO"] and "output_audio_transcription" in s),
    ("text_output on a model with TEXT", ("--text-output", "--model", "gemini-live-2.5-flash-preview"),
     'text_output = true\nmodel = "gemini-live-2.5-flash-preview"',
     lambda s: modalities(s) == ["TEXT"] and voice(s) is None and "output_audio_transcription" not in s),
    ("thinking_level", ("--model", "gemini-3.8-live-extended-thinking", "--thinking-level", "high"),
     'model = "gemini-3.8-live-extended-thinking"\nthinking_level = "high"',
     lambda s: s["generation_config"]["thinking_config"] == {"thinking_level": "HIGH"}),
    ("no_audio_output keeps audio and voice", ("--no-audio-output", "--voice", "Puck"), 'voice = "Puck"',
     lambda s: modalities(s) == ["AUDIO"] and voice(s) == "Puck" and "output_audio_transcription" in s),
    ("no_search", ("--no-search",), "search = false", lambda s: "tools" not in s),
    ("code_execution", ("--code-execution", "--model", "gemini-live-2.5-flash-preview"),
     'code_execution = true\nmodel = "gemini-live-2.5-flash-preview"',
     lambda s: tool_kinds(s) == ["google_search", "code_execution"]),
    ("no_session_resumption", ("--no-session-resumption",), "session_resumption = false",
     lambda s: "session_resumption" not in s),
    ("no_context_compression", ("--no-context-compression",), "context_compression = false",
     lambda s: "context_window_compression" not in s),
]


@pytest.mark.parametrize(("name", "flags", "toml", "check"), CASES, ids=[c[0] for c in CASES])
def test_flag_shapes_setup(live, name: str, flags: tuple[str, ...], toml: str, check: Any) -> None:
    server = live()
    result = run_agent(*BASE, *flags, input="")
    assert result.status == 0, result.stderr
    setup = server.connections[0].setup
    assert check(setup), setup


@pytest.mark.parametrize(("name", "flags", "toml", "check"), CASES, ids=[c[0] for c in CASES])
def test_config_key_shapes_setup(live, clean_env: Path, name: str, flags: tuple[str, ...], toml: str, check: Any) -> None:
    server = live()
    (clean_env / "gemini-live.toml").write_text("audio_input = false\naudio_output = false\n" + toml + "\n")
    result = run_agent(input="")
    assert result.status == 0, result.stderr
    setup = server.connections[0].setup
    assert check(setup), setup


def test_flags_override_the_file(live, clean_env: Path) -> None:
    server = live()
    (clean_env / "gemini-live.toml").write_text('audio_input = false\naudio_output = false\nvoice = "Kore"\nsearch = false\n')
    result = run_agent("--voice", "Aoede", "--search", input="")
    assert result.status == 0, result.stderr
    setup = server.connections[0].setup
    assert voice(setup) == "Aoede" and tool_kinds(setup) == ["google_search"]


def test_video_forces_context_compression() -> None:
    config = Config(screen_capture_fps=1.0, context_compression=False)
    assert build_live_config(config).context_window_compression is not None
    assert build_live_config(Config(context_compression=False)).context_window_compression is None


def test_resume_handle_goes_into_setup() -> None:
    live = build_live_config(Config(), resume_handle="h-123")
    assert live.session_resumption is not None and live.session_resumption.handle == "h-123"
