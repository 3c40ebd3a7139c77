"""Local voice activity on the (echo-cancelled) mic signal: is the person speaking right now?

WebRTC's VAD (the `webrtcvad-wheels` package: an 80 KB wheel, ~10 us per 20 ms frame) decides
per 20 ms frame; a frame also has to be louder than `min_dbfs`, so the residue the echo
canceller leaves is not speech. Speech starts when `start_frames` of the last `start_frames + 2`
frames are voiced, and ends after `end_frames` frames in a row that are not; listeners hear of
each start on the mic's thread, where a barge-in must be quick.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from agent.events import MIC_RATE
from agent.media.resample import rms_dbfs

log = logging.getLogger(__name__)

FRAME_MS = 20


def load_vad(aggressiveness: int) -> Any:
    """A webrtcvad.Vad, or None (logged once) when the package is missing."""
    try:
        import webrtcvad  # type: ignore[import-untyped]  # no type information shipped
    except ImportError as exc:
        log.warning("local voice activity detection is off: %s (pip install webrtcvad-wheels)", exc)
        return None
    return webrtcvad.Vad(aggressiveness)


class VoiceActivity:
    """Feed it 16 kHz PCM16 mono; `speaking` says whether the person is talking."""

    def __init__(
        self,
        *,
        aggressiveness: int = 3,
        start_frames: int = 8,  # 160 ms of speech (of 200 ms) before it counts
        end_frames: int = 25,  # 500 ms without speech ends it
        min_dbfs: float = -45.0,
        rate: int = MIC_RATE,
    ) -> None:
        self._vad = load_vad(aggressiveness)
        self.rate = rate
        self.start_frames = start_frames
        self.end_frames = end_frames
        self.min_dbfs = min_dbfs
        self._step = 2 * rate * FRAME_MS // 1000
        self._pending = bytearray()
        self._recent: deque[bool] = deque(maxlen=start_frames + 2)
        self._quiet = 0
        self.speaking = False
        self.starts = 0  # utterances detected
        self._listeners: list[Callable[[], None]] = []

    @property
    def available(self) -> bool:
        return self._vad is not None

    def on_start(self, listener: Callable[[], None]) -> None:
        """Call `listener()` (on the feeding thread) each time speech starts."""
        self._listeners.append(listener)

    def feed(self, pcm: bytes) -> None:
        """Decide on every whole 20 ms frame in `pcm` (a partial frame waits for the next call)."""
        if self._vad is None:
            return
        self._pending += pcm
        step = self._step
        frames = len(self._pending) // step
        for i in range(frames):
            self._frame(bytes(self._pending[i * step : (i + 1) * step]))
        del self._pending[: frames * step]

    def _frame(self, frame: bytes) -> None:
        loud = rms_dbfs(np.frombuffer(frame, dtype="<i2")) > self.min_dbfs
        voiced = loud and bool(self._vad.is_speech(frame, self.rate))
        self._recent.append(voiced)
        if voiced:
            self._quiet = 0
        else:
            self._quiet += 1
        if not self.speaking and sum(self._recent) >= self.start_frames:
            self.speaking = True
            self.starts += 1
            for listener in self._listeners:
                try:
                    listener()
                except Exception:  # a listener's bug must not kill the audio thread
                    log.exception("voice activity listener failed")
        elif self.speaking and self._quiet >= self.end_frames:
            self.speaking = False
