"""The start-up lines of an interactive session: what is about to start, then what is running.

Printed to stderr only in an interactive terminal (agent.terminal), so piped runs stay clean.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from agent import __version__
from agent.console import safe_text


def progress_line(config: Any) -> str:
    """Shown while the MCP servers start and the Live session connects (which can take a while)."""
    servers = [name for name, s in config.mcp_servers.items() if s.enabled]
    if servers:
        return f"starting {len(servers)} MCP server{'s' if len(servers) != 1 else ''} ({', '.join(servers)}), then connecting to {config.model}…"
    return f"connecting to {config.model}…"


def _answers(agent: Any) -> str:
    plan, config = agent.plan, agent.config
    if plan.text_answers:
        return "answers in text"
    if config.play_audio:
        return f"speaks as {config.voice}"
    return "answers in speech, shown as text"


def _input(agent: Any) -> str:
    config = agent.config
    if config.input_audio:
        return f"listens to {config.input_audio}"
    if agent.mic is not None or config.audio_input:
        return "listens to the mic"
    return "text input only"


def tool_summary(agent: Any) -> list[str]:
    """`name N tools` per source, and each server that failed to start (its reason was printed once)."""
    catalog, toolset = agent.catalog, agent.toolset
    if catalog is None:
        return []
    counts = Counter(r.server for r in catalog.rows if r.declared_name)
    sources = list(dict.fromkeys(r.server for r in catalog.rows))
    parts = [f"{safe_text(s)} {counts[s]} tool{'s' if counts[s] != 1 else ''}" for s in sources]
    failures = dict(toolset.failures) if toolset is not None else {}
    parts += [f"{safe_text(name)} ✗ failed to start" for name in sorted(failures)]
    return parts


def banner_lines(agent: Any, *, interactive: bool = True) -> list[str]:
    config, plan = agent.config, agent.plan
    profile = plan.profile
    model = config.model if profile.family == config.model else f"{config.model} ({profile.family})"
    lines = [f"gemini-live {__version__} · {model} · {_answers(agent)} · {_input(agent)}"]
    tools = tool_summary(agent)
    builtin = [name for name, on in (("Google Search", config.search and profile.search), ("code execution", config.code_execution)) if on]
    if tools or builtin:
        lines.append("tools: " + " · ".join(tools + builtin))
    else:
        lines.append("tools: none (add one with `gemini-live mcp add`)")
    speak = "speak or type" if agent.mic is not None or config.audio_input else "type"
    lines.append(f"ready — {speak}; /help for commands, Esc stops an answer, Ctrl-D quits" if interactive else "ready")
    return lines


def _times(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def session_summary(metrics: Any) -> str:
    """The end of a session in plain words: `session: 3 answers; 2 tool calls (1 failed); reconnected 1 time`."""
    s = metrics.summary()
    parts = [_times(s["turns"], "answer")]
    calls = sum(t["calls"] for t in s["tool_calls"].values())
    failed = sum(t["errors"] for t in s["tool_calls"].values())
    if calls:
        parts.append(_times(calls, "tool call") + (f" ({failed} failed)" if failed else ""))
    if s["response_latency_ms"]:
        lat = sorted(s["response_latency_ms"])
        parts.append(f"answers began about {lat[len(lat) // 2] / 1000:.1f} s after you stopped speaking")
    if s["reconnects"]:
        parts.append(f"reconnected {_times(s['reconnects'], 'time')}")
    if s["handoffs"]:
        parts.append(f"moved to a new connection {_times(s['handoffs'], 'time')} (the service's 10-minute limit)")
    if s["audio_underruns"]:
        parts.append(f"playback ran dry {_times(s['audio_underruns'], 'time')}")
    if s["audio_dropped"]:
        parts.append(f"{_times(s['audio_dropped'], 'microphone block')} dropped on a slow network")
    if s["input_dropped_during_calls"]:
        parts.append(f"{_times(s['input_dropped_during_calls'], 'mic or screen frame')} held back while a tool ran")
    if s["video_frames_sent"]:
        parts.append(f"{_times(s['video_frames_sent'], 'screen frame')} sent")
    return "session: " + "; ".join(parts) + " (-v for timings)"
