"""Set-up helpers: `gemini-live init` and `gemini-live mcp add / list / remove`.

`init` writes a starter config to the user's config folder, with the example notes server and
functions copied beside it so every path resolves from there; it never overwrites. The `mcp`
commands edit a TOML config with tomlkit, so the user's comments and layout stay as they were.
Which file: --config, else ./gemini-live.toml when there is one (the file a run here would use),
else $XDG_CONFIG_HOME/gemini-live/config.toml.
"""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path
from typing import Any

import tomlkit
from pydantic import ValidationError

from agent.config import CONFIG_NAME, McpServerConfig, read_toml
from agent.errors import ConfigError, UserError

EXAMPLES = Path(__file__).resolve().parent.parent / "config"  # the repository's config/ (editable install)
COPIED = ("notes_server.py", "function_examples.py")

STARTER = """\
# gemini-live configuration, written by `gemini-live init`. Every key is listed, with its default,
# in the project's config/gemini-live.toml; flags override what is set here.
# ${CONFIG_DIR} is this file's folder; ${GEMINI_LIVE_PYTHON} the Python that runs gemini-live.

# model = "gemini-3.8-live"
# voice = "Charon"
system_instruction = "You are a helpful voice assistant. Keep answers short and speak naturally."
# text_output = false               # true: answers in text instead of speech
# half_duplex = false               # true: mute the mic while the model speaks (no headphones)

# Public functions of these Python files become tools (relative to this file's folder).
import_functions = [@FUNCTIONS@]

# MCP servers: add more with `gemini-live mcp add NAME -- COMMAND ARGS...` or `--url URL`.
@NOTES@"""

NOTES_TABLE = """\
# The example notes server. It CAN WRITE FILES: it keeps notes and to-dos in
# $XDG_DATA_HOME/gemini-live/notes.json (set NOTES_FILE in `env` to choose another file).
[mcp_servers.notes]
command = "${GEMINI_LIVE_PYTHON}"
args = ["${CONFIG_DIR}/notes_server.py"]
# env = { NOTES_FILE = "${HOME}/notes.json" }
"""


def user_config_file() -> Path:
    xdg = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return xdg / "gemini-live" / "config.toml"


def target_file(explicit: str | None) -> Path:
    """The config file the `mcp` commands edit."""
    if explicit:
        return Path(explicit).expanduser()
    local = Path.cwd() / CONFIG_NAME
    return local if local.is_file() else user_config_file()


def init(explicit: str | None) -> int:
    """Write a starter config (and the examples it names) unless one is already there."""
    path = Path(explicit).expanduser() if explicit else user_config_file()
    if path.exists():
        raise UserError(f"{path} already exists; gemini-live init does not overwrite it (edit it, or remove it first)")
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in COPIED:
        source, dest = EXAMPLES / name, folder / name
        if source.is_file() and not dest.exists():
            shutil.copyfile(source, dest)
            copied.append(name)
    functions = '"function_examples.py"' if (folder / "function_examples.py").is_file() else ""
    notes = NOTES_TABLE if (folder / "notes_server.py").is_file() else ""
    path.write_text(STARTER.replace("@FUNCTIONS@", functions).replace("@NOTES@", notes), encoding="utf-8")
    print(f"wrote {path}")
    for name in copied:
        print(f"wrote {folder / name}")
    print("next: set GOOGLE_API_KEY, then run `gemini-live` from any folder; `gemini-live tools` lists the tools")
    return 0


# ---- mcp add / list / remove ------------------------------------------------------------------


def _load(path: Path) -> tomlkit.TOMLDocument:
    if not path.exists():
        return tomlkit.document()
    read_toml(path)  # the project's own message for a file that is not valid TOML
    return tomlkit.parse(path.read_text(encoding="utf-8"))


def _save(path: Path, doc: tomlkit.TOMLDocument) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(tomlkit.dumps(doc), encoding="utf-8")
    tmp.replace(path)


def _pairs(values: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in values:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise UserError(f"{what} {item!r}: expected KEY=VALUE")
        out[key] = value
    return out


def mcp_add(explicit: str | None, name: str, *, command: list[str], url: str | None, transport: str | None,
            env: list[str], headers: list[str], prefix: str | None, required: bool, force: bool) -> int:
    path = target_file(explicit)
    if bool(command) == bool(url):
        raise UserError("give either a command after `--` (gemini-live mcp add NAME -- COMMAND ARGS...) or --url URL")
    table: dict[str, Any] = {}
    if command:
        table["command"], table["args"] = command[0], command[1:]
        if env:
            table["env"] = _pairs(env, "--env")
    else:
        table["url"] = url
        if transport:
            table["transport"] = transport
        if headers:
            table["headers"] = _pairs(headers, "--header")
    if prefix is not None:
        table["prefix"] = prefix
    if required:
        table["required"] = True
    try:
        McpServerConfig.model_validate({**table, "name": name})
    except ValidationError as e:
        first = e.errors()[0]
        raise UserError(f"mcp add {name}: {first['msg'].removeprefix('Value error, ')}") from None
    doc = _load(path)
    servers = doc.get("mcp_servers")
    if servers is None:
        servers = tomlkit.table(is_super_table=True)
        doc["mcp_servers"] = servers
    elif not isinstance(servers, dict):
        raise ConfigError(str(path), "mcp_servers", "expected a table of servers by name")
    if name in servers and not force:
        raise UserError(f"{path} already has a server {name!r}: `gemini-live mcp remove {name}` first, or add --force")
    entry = tomlkit.table()
    for key, value in table.items():
        entry[key] = tomlkit.inline_table() if isinstance(value, dict) else value
        if isinstance(value, dict):
            entry[key].update(value)
    servers[name] = entry
    _save(path, doc)
    what = shlex.join(command) if command else url
    print(f"added MCP server {name} ({what}) to {path}")
    return 0


def mcp_remove(explicit: str | None, name: str) -> int:
    path = target_file(explicit)
    if not path.exists():
        raise UserError(f"{path} does not exist: no server {name!r} to remove")
    doc = _load(path)
    servers = doc.get("mcp_servers")
    if not isinstance(servers, dict) or name not in servers:
        known = ", ".join(servers) if isinstance(servers, dict) and servers else "none"
        raise UserError(f"{path} has no MCP server {name!r} (servers: {known})")
    del servers[name]
    _save(path, doc)
    print(f"removed MCP server {name} from {path}")
    return 0


def mcp_list(explicit: str | None) -> int:
    path = target_file(explicit)
    if not path.exists():
        print(f"no config file yet ({path}); `gemini-live init` writes one, `gemini-live mcp add` adds a server")
        return 0
    servers = read_toml(path).get("mcp_servers") or {}
    print(f"{path}:")
    if not isinstance(servers, dict) or not servers:
        print("  no MCP servers")
        return 0
    width = max(len(n) for n in servers)
    for name, table in servers.items():
        if not isinstance(table, dict):
            continue
        if "url" in table:
            what = f"{table.get('transport', 'streamable-http')} {table['url']}"
        else:
            what = "stdio " + shlex.join([str(table.get("command", "?")), *map(str, table.get("args", []))])
        flags = [f for f, on in (("disabled", table.get("enabled") is False), ("required", table.get("required") is True)) if on]
        print(f"  {name.ljust(width)}  {what}" + (f"  ({', '.join(flags)})" if flags else ""))
    return 0
