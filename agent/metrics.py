"""Session metrics: counted as the session runs, printed at exit and written to the record."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class Metrics:
    turns: int = 0
    reconnects: int = 0
    handoffs: int = 0
    tool_latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    tool_errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    response_latency: list[float] = field(default_factory=list)  # end of user speech -> first model audio
    audio_underruns: int = 0
    audio_dropped: int = 0
    frames_sent: int = 0
    frames_skipped: int = 0
    frames_dropped: int = 0
    skipped_messages: int = 0
    input_dropped_during_calls: int = 0  # mic/video frames held back while a synchronous call ran
    local_barge_ins: int = 0  # the person spoke over the model (or pressed the key) and playback faded
    _speech_ended_at: float | None = None

    def tool_finished(self, source: str, seconds: float, ok: bool) -> None:
        self.tool_latency[source].append(seconds)
        if not ok:
            self.tool_errors[source] += 1

    def user_speech(self) -> None:
        """A voiced block of user audio went out: the end of speech is at least this late."""
        self._speech_ended_at = time.perf_counter()

    def model_audio(self) -> None:
        """Model audio arrived: the first of a turn closes the response-latency measurement."""
        if self._speech_ended_at is not None:
            self.response_latency.append(time.perf_counter() - self._speech_ended_at)
            self._speech_ended_at = None

    def summary(self) -> dict[str, Any]:
        tools = {
            source: {
                "calls": len(times),
                "errors": self.tool_errors.get(source, 0),
                "p50_ms": round(percentile(times, 50) * 1000, 1),
                "p95_ms": round(percentile(times, 95) * 1000, 1),
            }
            for source, times in sorted(self.tool_latency.items())
        }
        return {
            "turns": self.turns,
            "tool_calls": tools,
            "response_latency_ms": [round(t * 1000) for t in self.response_latency],
            "reconnects": self.reconnects,
            "handoffs": self.handoffs,
            "audio_underruns": self.audio_underruns,
            "audio_dropped": self.audio_dropped,
            "video_frames_sent": self.frames_sent,
            "video_frames_skipped": self.frames_skipped,
            "video_frames_dropped": self.frames_dropped,
            "skipped_messages": self.skipped_messages,
            "input_dropped_during_calls": self.input_dropped_during_calls,
            "local_barge_ins": self.local_barge_ins,
        }

    def text(self) -> str:
        s = self.summary()
        parts = [f"{s['turns']} turns"]
        for source, t in s["tool_calls"].items():
            parts.append(f"{source}: {t['calls']} calls ({t['errors']} failed) p50 {t['p50_ms']} ms p95 {t['p95_ms']} ms")
        if s["response_latency_ms"]:
            lat = self.response_latency
            parts.append(f"speech→answer p50 {percentile(lat, 50) * 1000:.0f} ms")
        if s["reconnects"] or s["handoffs"]:
            parts.append(f"{s['handoffs']} handoffs, {s['reconnects']} reconnects")
        if s["audio_underruns"] or s["audio_dropped"]:
            parts.append(f"audio: {s['audio_underruns']} underruns, {s['audio_dropped']} dropped")
        if s["input_dropped_during_calls"]:
            parts.append(f"{s['input_dropped_during_calls']} mic/video frames held back during tool calls")
        if s["video_frames_sent"] or s["video_frames_skipped"]:
            parts.append(f"video: {s['video_frames_sent']} frames sent, {s['video_frames_skipped']} skipped")
        return "session: " + "; ".join(parts)
