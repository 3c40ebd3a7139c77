"""Small frozen dataclasses for what flows between components.

Inputs travel from producers (stdin, mic, WAV file, screen) to the session over one bounded
anyio memory stream; what the model says travels from the session to the outputs (console,
speaker, WAV recorder) as calls on their small interfaces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MIC_RATE = 16_000  # Live input audio: 16 kHz PCM16 mono
SPEAKER_RATE = 24_000  # Live output audio: 24 kHz PCM16 mono


# ---- inputs: producers -> session -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextInput:
    """One user turn typed on stdin (or the initial message)."""

    text: str


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """PCM16 little-endian mono audio for the model, with the time it was captured."""

    data: bytes
    rate: int = MIC_RATE
    captured_at: float = 0.0  # time.perf_counter() when the block left the device


@dataclass(frozen=True, slots=True)
class AudioStreamEnd:
    """The audio source paused or ended (end of a WAV file); the server flushes its VAD."""


@dataclass(frozen=True, slots=True)
class VideoFrame:
    """One encoded screen frame."""

    data: bytes
    mime_type: str = "image/jpeg"
    width: int = 0
    height: int = 0


@dataclass(frozen=True, slots=True)
class InputClosed:
    """A producer has nothing more to send (stdin at end-of-file, WAV file sent)."""

    source: str


Input = TextInput | AudioChunk | AudioStreamEnd | VideoFrame | InputClosed


# ---- tool calls: session <-> router -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class FunctionCall:
    """One function call from a toolCall message."""

    id: str
    name: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FunctionResult:
    """The answer to one call: exactly one of output/error, in the API's convention."""

    id: str
    name: str
    response: dict[str, Any]  # {"output": ...} or {"error": "..."}
    # Asynchronous (NON_BLOCKING) calls only: when the model takes the answer up (SILENT, WHEN_IDLE,
    # INTERRUPT), and whether more answers to the same call follow (a progress report).
    scheduling: str | None = None
    will_continue: bool | None = None
    images: tuple[Any, ...] = ()  # agent.tools.images.ImagePart: pictures from the tool, for the model to see

    @property
    def ok(self) -> bool:
        return "error" not in self.response

    @property
    def final(self) -> bool:
        return not self.will_continue
