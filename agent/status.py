"""The one-line status on a terminal: listening / model speaking / tool running, a mic meter."""

from __future__ import annotations

from typing import Any

import anyio

REFRESH = 0.1  # seconds: the mic meter moves; the phase comes from the InteractionState
_PHASES = {
    "tool": "⚙ tool running",
    "answering": "… model answering",
    "thinking": "… model thinking",
    "waiting": "… waiting for the model",
    "idle": "🎤 listening",
}


def describe(agent: Any) -> str:
    """The status text for the agent's current state."""
    parts = []
    running = agent.tool_activity.running if agent.tool_activity is not None else {}
    if running:
        parts.append("⚙ running " + ", ".join(sorted(set(running.values()))))
    elif agent.speaker is not None and agent.speaker.playing:
        parts.append("🔊 model speaking")
    else:
        parts.append(_PHASES[agent.state.phase()])
    if agent.mic is not None:
        from agent.media.mic import level_bar

        parts.append(level_bar(agent.mic.level))
    if agent.screen is not None:
        s = agent.screen.stats
        parts.append(f"screen {s.frames_sent} sent / {s.frames_skipped} skipped")
    return "  ".join(parts)


class StatusLine:
    def __init__(self, agent: Any) -> None:
        self.agent = agent

    async def run(self) -> None:
        while True:
            self.agent.console.status(describe(self.agent))
            await anyio.sleep(REFRESH)
