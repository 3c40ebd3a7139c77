"""MCP servers' log messages (`notifications/message`): shown with -v, always kept in the record.

Each message is shown on stderr with `-v` (logged at INFO level: server, level, the server's logger
name, the text on one line) and goes into `--log-file` as an `mcp_log` event, whatever the verbosity.
A server's `log_level` is sent to it with `logging/setLevel` when it declares the logging capability,
and applied here too, for servers that ignore it. Everything a server says is made printable first.
Floods are rate-limited: stdio servers' before they reach the session (mcp_lines), every
transport's here, LOG_BURST at once then LOG_RATE a second.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, get_args

import anyio

from agent.config import McpLogLevel
from agent.tools.mcp_lines import LOG_BURST, LOG_RATE, Bucket
from agent.tools.printable import printable

logger = logging.getLogger(__name__)

LEVELS: tuple[str, ...] = get_args(McpLogLevel)  # RFC 5424 severities, least severe first
SHOWN_CHARS = 2000  # of a message's text on stderr
RECORDED_CHARS = 8000  # of a message's text in the record


class ServerLogs:
    """Where all servers' log messages go besides stderr: `record` (the agent's Recorder.event, once set)."""

    def __init__(self) -> None:
        self.record: Callable[..., None] | None = None


class ServerLog:
    """One server's log messages: filtered by its `log_level`, rate-limited, shown and recorded."""

    def __init__(self, server: str, level: str | None = None, logs: ServerLogs | None = None) -> None:
        self.server = printable(server, one_line=True)
        self.level = level
        self.logs = logs or ServerLogs()
        self.dropped = 0  # over the rate
        self._bucket: Bucket | None = None  # made on first use: it reads the event loop's clock

    def raw(self, params: Any) -> None:
        """A notifications/message `params` object as it came off the wire."""
        params = params if isinstance(params, dict) else {}
        self.message(params.get("level"), params.get("logger"), params.get("data"))

    def message(self, level: Any, logger_name: Any, data: Any) -> None:
        level = level if level in LEVELS else "info"
        if self.level is not None and LEVELS.index(level) < LEVELS.index(self.level):
            return
        now = anyio.current_time()
        if self._bucket is None:
            self._bucket = Bucket(LOG_BURST, LOG_RATE)
        if not self._bucket.take(now):
            self.dropped += 1
            return
        text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, default=str)
        name = printable(logger_name, one_line=True)[:100] if isinstance(logger_name, str) and logger_name else None
        if logger.isEnabledFor(logging.INFO):
            shown = printable(text[: SHOWN_CHARS * 2], one_line=True)[:SHOWN_CHARS]
            logger.info("[%s log %s] %s%s", self.server, level, f"{name}: " if name else "", shown)
        if self.logs.record is not None:
            self.logs.record("mcp_log", server=self.server, level=level, logger=name,
                             text=printable(text[:RECORDED_CHARS]))
