"""The one-line status on a terminal: listening / model speaking / tool running, a mic meter."""

from __future__ import annotations

from typing import Any

import anyio

REFRESH = 0.1  # seconds


def describe(agent: Any) -> str:
    """The status text for the agent's current state."""
    parts = []
    running = agent.tool_activity.running if agent.tool_activity is not None else {}
    if running:
        parts.append("⚙ running " + ", ".join(sorted(set(running.values()))))
    elif agent.speaker is not None and agent.speaker.playing:
        parts.append("🔊 model speaking")
    elif agent.conversation.turn_active:
        parts.append("… model answering")
    else:
        parts.append("🎤 listening")
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
