"""Starts every tool source (MCP servers, Python modules) and builds the catalog from them."""

from __future__ import annotations

import fnmatch
import json
import logging
from typing import Any

import anyio

from agent.config import Config, McpServerConfig
from agent.errors import ConfigError, UserError
from agent.events import FunctionCall
from agent.profiles import ModelProfile
from agent.tools.catalog import Catalog, ToolSource, build_catalog
from agent.tools.local import load_module_tools
from agent.tools.mcp import McpHub, McpStartupError
from agent.tools.policy import SourceSettings, policy_for, profile_of
from agent.tools.printable import printable
from agent.tools.router import CallReport
from agent.tools.surface import Budget, ToolSurface
from agent.tools.updates import CatalogUpdates

log = logging.getLogger(__name__)


def local_sources(config: Config, profile: ModelProfile | None = None) -> list[ToolSource]:
    """The --import-functions modules; a missing or broken file is a ConfigError naming the key."""
    sources = []
    for path in config.import_functions:
        try:
            name, tools, backend = load_module_tools(path)
        except ConfigError as e:
            raise ConfigError(e.source, "import_functions", f"{e.message} (relative paths in a config file are from its folder)") from None
        policy = policy_for(profile, SourceSettings.for_module(config, name)) if profile is not None else None
        sources.append(ToolSource(name=name, tools=tools, backend=backend, prefix=name, timeout=config.tool_timeout, policy=policy))
    return sources


def unmatched_filters(cfg: McpServerConfig, names: list[str]) -> list[str]:
    """include_tools / exclude_tools patterns that match none of the server's tools (a typo, usually)."""
    return [f"{key} pattern {pattern!r}" for key, patterns in (("include_tools", cfg.include_tools), ("exclude_tools", cfg.exclude_tools))
            for pattern in patterns if not any(fnmatch.fnmatchcase(n, pattern) for n in names)]


def mcp_source(server: Any, profile: ModelProfile | None = None) -> ToolSource:
    cfg: McpServerConfig = server.cfg
    for what in unmatched_filters(cfg, [t.name for t in server.tools]):
        log.warning("MCP server %s: %s matches none of its %d tools", printable(cfg.name), what, len(server.tools))
    return ToolSource(
        name=cfg.name,
        tools=server.tools,
        backend=server,
        prefix=cfg.tool_prefix,
        timeout=cfg.timeout,
        include=cfg.include_tools,
        exclude=cfg.exclude_tools,
        policy=policy_for(profile, SourceSettings.for_server(cfg)) if profile is not None else None,
    )


class ToolSet:
    """Owns the MCP hub for the session's lifetime; `run` reports the catalog (a ToolSurface) once
    built, then keeps it up to date as servers' tools change (see agent/tools/updates.py).

    `startup_wait`: seconds to wait for servers that are still starting (None: all of them)."""

    def __init__(self, config: Config, *, servers: list[McpServerConfig] | None = None, startup_wait: float | None = None) -> None:
        self.config = config
        self.profile = profile_of(config)  # decides how each tool runs (agent/tools/policy.py)
        self.hub = McpHub(servers if servers is not None else list(config.mcp_servers.values()), startup_wait=startup_wait)
        self.surface = ToolSurface(Catalog((), (), ()), Budget.from_config(config))
        self.updates = CatalogUpdates(self.surface, self.build)
        self._locals: list[ToolSource] = []
        for server in self.hub.servers:
            server.on_tools_listed = self.updates.wanted

    @property
    def failures(self) -> dict[str, str]:
        return self.hub.failures

    async def run(self, *, task_status: anyio.abc.TaskStatus[Catalog] = anyio.TASK_STATUS_IGNORED) -> None:
        locals_ = local_sources(self.config, self.profile)  # config errors surface before any server starts
        async with anyio.create_task_group() as tg:
            try:
                await tg.start(self.hub.run)
            except McpStartupError as e:  # the hub has said why, once: say what follows from it
                names = ", ".join(printable(n) for n in e.failures)
                raise UserError(f"cannot start without the required MCP server(s) {names} (required = true)") from None
            self._locals = locals_
            self.surface.replace(self.build())
            task_status.started(self.surface)
            await self.updates.run()

    def build(self) -> Catalog:
        """The catalog of every source that is ready now."""
        sources = [*self._locals, *(mcp_source(s, self.profile) for s in self.hub.ready)]
        return build_catalog(sources, description_limit=self.config.max_description_chars)


def _short_args(args: dict[str, Any], limit: int = 120) -> str:
    text = json.dumps(args, ensure_ascii=False, default=str, separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _shown(text: str, limit: int = 200) -> str:
    """Text for a tool activity line: server- or model-supplied, so bounded and printable."""
    return printable(text[: limit * 2], one_line=True)[:limit]


class ToolActivity:
    """Router observer: one line per call on the console, a record per call, latency metrics."""

    def __init__(self, console: Any, recorder: Any, metrics: Any, on_change: Any = None) -> None:
        self.console, self.recorder, self.metrics = console, recorder, metrics
        self.on_change = on_change or (lambda: None)
        self.running: dict[str, str] = {}
        self.progress: dict[str, str] = {}  # call id -> its latest progress, for the status

    def call_started(self, call: FunctionCall, entry: Any) -> None:
        self.running[call.id] = call.name
        self.console.info(f"⚙ {_shown(call.name, 80)}({_shown(_short_args(call.args))})")
        self.on_change()

    def call_progress(self, call: FunctionCall, entry: Any, progress: Any) -> None:
        """A running call reported progress (at most once per 2 s): a line, the status, the record."""
        text = _shown(progress.text())
        self.progress[call.id] = text
        self.console.info(f"  … {_shown(call.name, 80)} {text}")
        if self.recorder.enabled:
            self.recorder.event("tool_progress", id=call.id, name=call.name, **progress.response())
        self.on_change()

    def call_finished(self, report: CallReport) -> None:
        self.running.pop(report.call.id, None)
        self.progress.pop(report.call.id, None)
        ms = report.duration * 1000
        response = report.response or {}
        name = _shown(report.call.name, 80)
        if report.outcome == "ok":
            self.console.info(f"  ✓ {name} {ms:.0f} ms")
        elif report.outcome == "cancelled":
            self.console.info(f"  ⊘ {name} cancelled after {ms:.0f} ms")
        else:
            self.console.info(f"  ✗ {name}: {_shown(str(response.get('error', report.outcome)))}")
        source = report.entry.source if report.entry else "unknown"
        self.metrics.tool_finished(source, report.duration, report.outcome == "ok")
        if self.recorder.enabled:  # the record's copies of args and result cost a JSON dump each
            self._record(report, source, ms, response)
        self.on_change()

    def _record(self, report: CallReport, source: str, ms: float, response: dict[str, Any]) -> None:
        self.recorder.event(
            "tool_call",
            id=report.call.id,
            name=report.call.name,
            server=source,
            tool=report.entry.name if report.entry else None,
            args=report.call.args,
            outcome=report.outcome,
            duration_ms=round(ms, 1),
            result=_short_args(response, 2000) if response else None,
        )
