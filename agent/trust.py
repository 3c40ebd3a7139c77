"""Trust for a config found in the current folder, which could otherwise run a checkout's code.

`./gemini-live.toml` is read without being named, so running gemini-live inside a folder someone
else wrote would start that folder's MCP commands, import its Python files and send its headers
(with your environment's variables expanded) to its URLs. Such a file is used only once trusted:
named with `--config`, confirmed at a terminal (remembered per path and content, so an edit asks
again), or with GEMINI_LIVE_TRUST_FOLDER=1 for scripts. A file that configures no tools needs none.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from agent.errors import ConfigError

log = logging.getLogger(__name__)
TRUST_ENV = "GEMINI_LIVE_TRUST_FOLDER"


class UntrustedConfig(ConfigError):
    """A folder's config would run code (or reach servers) and has not been trusted."""

    def __init__(self, path: Path, actions: list[str], digest: str) -> None:
        self.path, self.actions, self.digest = path, actions, digest
        super().__init__(
            str(path),
            "",
            "this folder's config would " + "; ".join(actions) + ", and it has not been trusted. Run gemini-live here "
            f"in a terminal once to trust it, name it with --config {path.name}, or set {TRUST_ENV}=1",
        )


def store_path() -> Path:
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return state / "gemini-live" / "trusted.json"


def digest_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def actions_of(data: dict[str, Any]) -> list[str]:
    """What a config would do on its own: start commands, import files, reach servers."""
    actions = []
    servers = data.get("mcp_servers")
    if isinstance(servers, dict):
        for name, table in servers.items():
            if isinstance(table, dict) and table.get("command") is not None:
                actions.append(f"start {name}: {' '.join(str(a) for a in [table['command'], *table.get('args', [])])[:120]}")
            elif isinstance(table, dict) and table.get("url") is not None:
                actions.append(f"connect {name} to {str(table['url'])[:120]}")
    for module in data.get("import_functions") or []:
        actions.append(f"import {module}")
    if data.get("mcp_config"):
        actions.append(f"load the MCP servers of {data['mcp_config']}")
    return actions


def is_trusted(path: Path, digest: str) -> bool:
    if os.environ.get(TRUST_ENV, "") in ("1", "true", "yes"):
        return True
    try:
        known = json.loads(store_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(known, dict) and known.get(str(path.resolve())) == digest


def remember(path: Path, digest: str) -> None:
    """Trust this file as it is now (a changed file asks again)."""
    store = store_path()
    try:
        known = json.loads(store.read_text(encoding="utf-8"))
        known = known if isinstance(known, dict) else {}
    except (OSError, ValueError):
        known = {}
    known[str(path.resolve())] = digest
    try:
        store.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(store, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(known, f, indent=1)
    except OSError as e:
        log.warning("cannot remember the trust for %s: %s", path, e.strerror or e)


def check(path: Path, data: dict[str, Any]) -> None:
    """Raise UntrustedConfig when a folder's config would act and is not trusted."""
    actions = actions_of(data)
    if not actions:
        return
    digest = digest_of(path)
    if not is_trusted(path, digest):
        raise UntrustedConfig(path, actions, digest)
