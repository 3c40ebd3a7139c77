"""The status: listening / you speaking / model speaking / thinking / tool running, a mic meter.

Plain terminals get it as one line on stderr (StatusLine); the interactive terminal shows the
same text in its bottom toolbar (agent.terminal).
"""

from __future__ import annotations

import time
from typing import Any

import anyio

REFRESH = 0.1  # seconds: the mic meter moves; the phase comes from the InteractionState
VOICED_DBFS = -45.0  # a mic block louder than this: the user is speaking
_PHASES = {
    "tool": "⚙ tool running",
    "answering": "… model answering",
    "thinking": "… model thinking",
    "waiting": "… waiting for the model",
    "idle": "🎤 listening",
}


class StatusText:
    """The status text for an agent's current state; remembers when each tool call started."""

    def __init__(self) -> None:
        self._started: dict[str, float] = {}

    def __call__(self, agent: Any) -> str:
        parts = []
        running = agent.tool_activity.running if agent.tool_activity is not None else {}
        now = time.monotonic()
        self._started = {i: self._started.get(i, now) for i in running}
        mic = agent.mic
        ptt = getattr(agent, "ptt", None)
        if running:
            oldest = now - min(self._started.values())
            parts.append("⚙ running " + ", ".join(sorted(set(running.values()))) + (f" {oldest:.0f} s" if oldest >= 1 else ""))
            progress = getattr(agent.tool_activity, "progress", {})
            if progress:  # the newest report of any running call
                parts.append(list(progress.values())[-1])
            questions = getattr(agent, "questions", None)
            if questions is not None and questions.pending is not None:
                parts.insert(0, "❓ a question waits for your answer")
        elif ptt is not None and ptt.talking:
            parts.append(f"🎙 talking ({ptt.label} to send)")
        elif mic is not None and mic.speaking:
            parts.append("🗣 you speaking")  # the mic's voice activity: over the model too (its echo is cancelled)
        elif agent.speaker is not None and agent.speaker.playing:
            parts.append("🔊 model speaking")
        elif mic is not None and agent.state.phase() == "idle" and mic.level > VOICED_DBFS:
            parts.append("🗣 you speaking")
        elif mic is None and agent.state.phase() == "idle":
            parts.append("⌨ ready")
        else:
            parts.append(_PHASES[agent.state.phase()])
        if mic is not None:
            from agent.media.mic import level_bar

            parts.append(level_bar(mic.level))
        if ptt is not None and not ptt.talking:
            parts.append(f"{ptt.label}: talk")
        if agent.screen is not None:
            s = agent.screen.stats
            parts.append(f"screen {s.frames_sent} sent / {s.frames_skipped} skipped")
        return "  ".join(parts)


def describe(agent: Any) -> str:
    """The status text for the agent's current state (no tool timing)."""
    return StatusText()(agent)


class StatusLine:
    def __init__(self, agent: Any) -> None:
        self.agent = agent
        self.text = StatusText()

    async def run(self) -> None:
        while True:
            self.agent.console.status(self.text(self.agent))
            await anyio.sleep(REFRESH)
