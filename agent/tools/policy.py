"""How each tool runs: blocking or not, when its answer is taken up, and whether a person confirms it first.

Decided once per tool, from (strongest first): the `[mcp_servers.NAME.tools."glob"]` tables whose
pattern matches the tool's name (later tables win), the server's own `behavior`, `scheduling` and
`confirm`, the tool's MCP annotations, and the model's profile:

- async_default (3.8) and async_only (extended thinking): NON_BLOCKING unless set otherwise;
  BLOCKING on async_only is a config error (exit 2 naming server and tool).
- sync_and_async (2.5): unset, which the model runs as blocking; a read-only tool
  (`readOnlyHint`) is NON_BLOCKING.
- sync_only (3.1): always unset; NON_BLOCKING is a config error.

A non-blocking call's final answer is scheduled WHEN_IDLE unless `scheduling` says otherwise.
`destructiveHint: true` (not contradicted by `readOnlyHint`) asks a person first, as do the
server's `confirm` patterns; `confirm = false` on a server turns every question off.
Local functions take the same tables under `[local_tools."glob"]`, matched on the function's
name or `module.function`.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from google.genai import types

from agent.config import Config, McpServerConfig, ToolSettings
from agent.errors import UserError
from agent.profiles import ModelProfile, profile_for
from agent.tools.base import DiscoveredTool
from agent.tools.printable import printable

logger = logging.getLogger(__name__)

BLOCKING, NON_BLOCKING = "blocking", "non_blocking"
WHEN_IDLE = "WHEN_IDLE"


@dataclass(frozen=True)
class ToolPolicy:
    """How one declared tool runs."""

    non_blocking: bool = False  # the model goes on while it runs; its answers may be scheduled
    declared: types.Behavior | None = None  # the declaration's `behavior`; None: the model's default
    scheduling: str | None = None  # the final answer's scheduling on the wire (non-blocking calls only)
    confirm: bool = False  # a person says yes before each call
    conflict: str = ""  # a setting this model cannot honour: a config error at start-up
    warning: str = ""  # a setting that has no effect here

    def final_scheduling(self) -> str | None:
        return self.scheduling if self.non_blocking else None


DEFAULT_POLICY = ToolPolicy()


@dataclass(frozen=True)
class SourceSettings:
    """What one source's config says about its tools."""

    where: str  # the config key, for messages: `mcp_servers.notes`, `local_tools`
    label: str  # the source in words: `MCP server 'notes'`, `local module 'functions'`
    behavior: str | None = None
    scheduling: str | None = None
    confirm: Sequence[str] | bool | None = None
    tools: Mapping[str, ToolSettings] = field(default_factory=dict)

    @classmethod
    def for_server(cls, cfg: McpServerConfig) -> SourceSettings:
        return cls(f"mcp_servers.{cfg.name}", f"MCP server {cfg.name!r}", cfg.behavior, cfg.scheduling, cfg.confirm, cfg.tools)

    @classmethod
    def for_module(cls, config: Config, module: str) -> SourceSettings:
        return cls("local_tools", f"local module {module!r}", tools=config.local_tools)


def _matches(pattern: str, tool: DiscoveredTool, module_names: bool) -> bool:
    names = (tool.name, f"{tool.source}.{tool.name}") if module_names else (tool.name,)
    return any(fnmatch.fnmatchcase(n, pattern) for n in names)


def resolve(profile: ModelProfile, settings: SourceSettings, tool: DiscoveredTool) -> ToolPolicy:
    """The policy of one tool of one source on this model."""
    behavior, behavior_key = settings.behavior, f"{settings.where}.behavior"
    scheduling, scheduling_key = settings.scheduling, f"{settings.where}.scheduling"
    confirm: bool | None
    if isinstance(settings.confirm, bool) or settings.confirm is None:
        confirm = settings.confirm
    else:
        confirm = True if any(fnmatch.fnmatchcase(tool.name, p) for p in settings.confirm) else None
    local = settings.where == "local_tools"
    for pattern, table in settings.tools.items():
        if not _matches(pattern, tool, local):
            continue
        key = f'{settings.where}.tools."{pattern}"' if not local else f'local_tools."{pattern}"'
        if table.behavior is not None:
            behavior, behavior_key = table.behavior, f"{key}.behavior"
        if table.scheduling is not None:
            scheduling, scheduling_key = table.scheduling, f"{key}.scheduling"
        if table.confirm is not None:
            confirm = table.confirm
    hints = tool.annotations or {}
    read_only = hints.get("readOnlyHint") is True
    if confirm is None:
        confirm = hints.get("destructiveHint") is True and not read_only

    who = f"{settings.label}, tool {tool.name!r}"
    conflict = ""
    mode = profile.function_calling
    if mode == "async_only" and behavior == BLOCKING:
        conflict = (f"{profile.family} runs function calls only as non-blocking: {who} is set to "
                    f'behavior = "blocking" ({behavior_key}); remove it or choose another model')
        behavior = NON_BLOCKING
    elif mode == "sync_only" and behavior == NON_BLOCKING:
        conflict = (f"{profile.family} runs function calls only as blocking: {who} is set to "
                    f'behavior = "non_blocking" ({behavior_key}); remove it or choose another model')
        behavior = None
    if behavior is None and (mode in ("async_default", "async_only") or (mode == "sync_and_async" and read_only)):
        behavior = NON_BLOCKING
    if mode == "sync_only":
        behavior = None  # the model has one behaviour; the declaration says nothing

    non_blocking = behavior == NON_BLOCKING
    declared = {BLOCKING: types.Behavior.BLOCKING, NON_BLOCKING: types.Behavior.NON_BLOCKING}.get(behavior or "")
    warning = ""
    if scheduling is not None and not non_blocking:
        warning = f"{who}: {scheduling_key} has no effect: only a non-blocking call's answer is scheduled"
    return ToolPolicy(
        non_blocking=non_blocking,
        declared=declared,
        scheduling=(scheduling or "when_idle").upper() if non_blocking else None,
        confirm=confirm,
        conflict=conflict,
        warning=warning,
    )


def profile_of(config: Config) -> ModelProfile:
    """The configured model's profile, with the config's `[model_profile]` overrides."""
    overrides = config.model_profile.fields_set() if config.model_profile else None
    return profile_for(config.model, overrides)[0]


def policy_for(profile: ModelProfile, settings: SourceSettings) -> Callable[[DiscoveredTool], ToolPolicy]:
    """The per-tool policy function a ToolSource carries."""
    return lambda tool: resolve(profile, settings, tool)


def check(policies: Iterable[ToolPolicy]) -> None:
    """Config errors (exit 2, every one named) for what the model cannot do; warnings for no-ops."""
    conflicts: list[str] = []
    for policy in policies:
        if policy.conflict and policy.conflict not in conflicts:
            conflicts.append(policy.conflict)
        if policy.warning:
            logger.warning("%s", printable(policy.warning))
    if conflicts:
        raise UserError("\n".join(printable(c) for c in conflicts))


def describe(policy: ToolPolicy) -> str:
    """A few words for `gemini-live tools` and the record: `non-blocking, when idle, asks first`."""
    parts = ["non-blocking" if policy.non_blocking else "blocking"]
    if policy.non_blocking and policy.scheduling and policy.scheduling != WHEN_IDLE:
        parts.append(policy.scheduling.lower().replace("_", " "))
    if policy.confirm:
        parts.append("asks first")
    return ", ".join(parts)
