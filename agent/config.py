"""The agent's configuration: one pydantic model, loaded from TOML (or MCP client JSON) and flags.

Precedence is defaults < config file < command-line flags. Every problem is reported as a
ConfigError naming the file and the key, before any network or device is touched.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from agent.errors import ConfigError
from agent.profiles import DEFAULT_MODEL

__all__ = ["DEFAULT_MODEL", "Config", "McpServerConfig", "ModelProfileOverrides", "ToolSettings", "load_config"]

CONFIG_NAME = "gemini-live.toml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class OAuthSettings(_Strict):
    """A remote server's `oauth = { ... }`; all optional: discovery and registration fill in the rest."""

    client_id: str | None = None  # pre-registered client (else a metadata document URL, else dynamic registration)
    client_secret: str | None = None
    client_metadata_url: str | None = None  # an https URL serving this client's metadata document (CIMD)
    scopes: list[str] | str | None = None  # None: as the server asks (WWW-Authenticate, then scopes_supported)
    redirect_port: int = Field(default=0, ge=0, le=65535)  # 127.0.0.1 port for the redirect; 0: any free one

    @model_validator(mode="after")
    def _secret_needs_id(self) -> OAuthSettings:
        if self.client_secret is not None and self.client_id is None:
            raise ValueError("`client_secret` needs `client_id`")
        if self.client_metadata_url is not None and not self.client_metadata_url.startswith("https://"):
            raise ValueError("`client_metadata_url` must be an https URL")
        return self


Behavior = Literal["blocking", "non_blocking"]
Scheduling = Literal["when_idle", "silent", "interrupt"]
McpLogLevel = Literal["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]  # least severe first


class ToolSettings(_Strict):
    """A `[mcp_servers.NAME.tools."glob"]` or `[local_tools."glob"]` table: how matching tools run."""

    behavior: Behavior | None = None  # None: the model's default (see agent/tools/policy.py)
    scheduling: Scheduling | None = None  # a non-blocking call's final answer; None: when_idle
    confirm: bool | None = None  # ask a person before each call; None: as the server says (destructiveHint)


class McpServerConfig(_Strict):
    """One `[mcp_servers.NAME]` table: a stdio command or a URL, plus routing options."""

    name: str = ""  # filled in from the table's key
    enabled: bool = True
    # stdio
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    # remote
    url: str | None = None
    transport: Literal["stdio", "streamable-http", "sse"] | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    oauth: OAuthSettings | bool | None = None  # None/true: OAuth 2.1 when the server asks for it; false: never
    # common
    include_tools: list[str] = Field(default_factory=list)
    exclude_tools: list[str] = Field(default_factory=list)
    prefix: str | None = None  # None: the server's name
    timeout: float = Field(default=60.0, gt=0, le=86_400)  # seconds per tool call
    startup_timeout: float = Field(default=30.0, gt=0, le=3600)
    required: bool = False
    log_level: McpLogLevel | None = None  # the server's log messages at or above it (sent as logging/setLevel)
    pin: list[str] = Field(default_factory=list)  # glob patterns on the server's tool names, always declared
    # how its tools run (agent/tools/policy.py): for every tool, then per glob pattern on tool names
    behavior: Behavior | None = None
    scheduling: Scheduling | None = None
    confirm: list[str] | bool | None = None  # glob patterns (or true: all) asked first; false: never, not even destructive ones
    tools: dict[str, ToolSettings] = Field(default_factory=dict)

    @field_validator("oauth", mode="before")
    @classmethod
    def _oauth_table(cls, value: Any) -> Any:
        """Report a bad `oauth` table by its own key, not by the union member pydantic tried."""
        if value is None or isinstance(value, (bool, OAuthSettings)):
            return value
        if not isinstance(value, dict):
            raise ValueError(f"expected a table of OAuth settings, or true/false (got {value!r})")
        try:
            return OAuthSettings.model_validate(value)
        except ValidationError as e:
            first = e.errors()[0]
            key = ".".join(str(p) for p in first["loc"])
            msg = "unknown key" if first["type"] == "extra_forbidden" else first["msg"].removeprefix("Value error, ")
            raise ValueError(f"{key}: {msg}" if key else msg) from None

    @model_validator(mode="after")
    def _one_kind(self) -> McpServerConfig:
        if (self.command is None) == (self.url is None):
            raise ValueError("set either `command` (stdio) or `url` (streamable-http or sse)")
        if self.command is not None and self.transport not in (None, "stdio"):
            raise ValueError(f"transport {self.transport!r} needs `url`, not `command`")
        if self.url is not None and self.transport == "stdio":
            raise ValueError("transport 'stdio' needs `command`, not `url`")
        if self.command is not None and self.oauth not in (None, False):
            raise ValueError("`oauth` applies to remote servers (`url`), not to `command`")
        return self

    @property
    def oauth_enabled(self) -> bool:
        return self.url is not None and self.oauth is not False

    @property
    def oauth_settings(self) -> OAuthSettings:
        return self.oauth if isinstance(self.oauth, OAuthSettings) else OAuthSettings()

    @property
    def kind(self) -> str:
        if self.command is not None:
            return "stdio"
        return self.transport or "streamable-http"

    @property
    def tool_prefix(self) -> str:
        return self.name if self.prefix is None else self.prefix


class ModelProfileOverrides(_Strict):
    """`[model_profile]`: any field of a model profile, for a model gemini-live does not know yet."""

    status: Literal["ga", "preview", "legacy"] | None = None
    response_modalities: list[Literal["TEXT", "AUDIO"]] | None = Field(default=None, min_length=1)
    search: bool | None = None
    code_execution: bool | None = None
    thinking: Literal["none", "level", "budget"] | None = None
    thinking_levels: list[Literal["minimal", "low", "medium", "high"]] | None = None
    affective_dialog: bool | None = None
    proactive_audio: Literal["unsupported", "optional", "always_on"] | None = None
    function_calling: Literal["sync_only", "sync_and_async", "async_default", "async_only"] | None = None
    text_input: Literal["client_content", "realtime_input"] | None = None
    interaction_end: Literal["turn_complete", "interaction_status"] | None = None
    hold_input_during_calls: bool | None = None
    blocking_cancelled_by_input: bool | None = None
    context_update: bool | None = None
    max_input_tokens: int | None = Field(default=None, gt=0)
    response_images: bool | None = None

    def fields_set(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class Config(_Strict):
    """Everything that shapes a session. Field names are the long flags in snake_case."""

    model: str = Field(default=DEFAULT_MODEL, min_length=1)
    model_profile: ModelProfileOverrides | None = None
    thinking_level: Literal["minimal", "low", "medium", "high"] | None = None
    voice: str = "Charon"
    system_instruction: str | None = None
    initial_message: str | None = None
    initial_message_delay: float = Field(default=0.0, ge=0, le=3600)
    text_input_mode: Literal["auto", "client_content", "realtime_input"] = "auto"
    # audio
    audio_input: bool = True
    audio_output: bool = True
    text_output: bool = False
    input_device: str | int | None = None
    output_device: str | int | None = None
    half_duplex: bool = False
    push_to_talk: bool = False  # a key toggles the mic; automatic activity detection off
    push_to_talk_key: str = Field(default="space", pattern=r"^(space|tab|[^\x00-\x1f\x7f])$")  # a character, or space/tab
    echo_cancellation: bool = True  # with the speaker on: echo cancellation, noise suppression, high-pass (WebRTC)
    local_barge_in: bool = True  # the mic's voice activity over the model fades it out before the server's `interrupted`
    audio_block_ms: int = Field(default=20, ge=5, le=200)
    input_audio: str | None = None
    output_audio: str | None = None
    # built-in tools
    search: bool = True
    code_execution: bool = False
    # screen
    screen_capture_fps: float = Field(default=0.0, ge=0, le=10)
    screen_monitor: int = Field(default=1, ge=0)
    screen_region: str | None = None
    screen_max_size: int = Field(default=1024, ge=64, le=4096)
    screen_quality: int = Field(default=70, ge=10, le=95)
    screen_skip_unchanged: bool = True
    # tools
    import_functions: list[str] = Field(default_factory=list)
    mcp_config: str | None = None
    mcp_servers: dict[str, McpServerConfig] = Field(default_factory=dict)
    tool_timeout: float = Field(default=60.0, gt=0, le=86_400)
    startup_wait: float = Field(default=5.0, ge=0, le=3600)  # seconds the session waits for slow MCP servers; they join later
    max_declared_tools: int = Field(default=64, ge=3, le=512)  # more tools than this: pinned ones + find_tools/call_tool
    max_declarations_kb: float = Field(default=60.0, gt=0, le=1024)  # the same for the declarations' size
    max_description_chars: int = Field(default=1024, ge=40, le=100_000)  # a tool description is cut after a sentence
    pin: list[str] = Field(default_factory=list)  # glob patterns on declared names (or server/tool) always declared
    local_tools: dict[str, ToolSettings] = Field(default_factory=dict)  # glob on a local function's name
    confirm_timeout: float = Field(default=60.0, gt=0, le=86_400)  # an unanswered question declines (or cancels)
    yes: bool = False  # approve every confirmation without asking (for scripts)
    # session lifetime
    session_resumption: bool = True
    context_compression: bool = True
    resume: bool = False
    state_file: str | None = None
    reconnect_attempts: int = Field(default=5, ge=0, le=50)
    setup_timeout: float = Field(default=15.0, gt=0, le=600)  # seconds to wait for setupComplete
    reply_timeout: float = Field(default=45.0, gt=0, le=3600)  # a user turn with no model activity this long is a stall
    # output
    verbose: bool = False
    log_file: str | None = None

    @property
    def play_audio(self) -> bool:
        return self.audio_output and not self.text_output


# ---- ${VAR} expansion ----------------------------------------------------------------------

_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")


def builtin_vars(config_path: Path | None) -> dict[str, str]:
    """Variables every config can use even when the environment does not set them."""
    import sys

    values = {"GEMINI_LIVE_PYTHON": sys.executable}
    if config_path is not None:
        values["CONFIG_DIR"] = str(config_path.resolve().parent)
    return values


def expand_vars(value: Any, source: str, key: str = "", builtins: dict[str, str] | None = None) -> Any:
    """Expand ${VAR} and ${VAR:-default} in every string; `$$` is a literal `$`."""
    builtins = builtins or {}
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            if m.group(0) == "$$":
                return "$"
            name, default = m.group(1), m.group(2)
            if name in os.environ and (os.environ[name] or default is None):
                return os.environ[name]
            if name in builtins:
                return builtins[name]
            if default is not None:
                return default
            raise ConfigError(source, key, f"environment variable ${{{name}}} is not set")

        return _VAR.sub(sub, value)
    if isinstance(value, dict):
        return {k: expand_vars(v, source, f"{key}.{k}" if key else str(k), builtins) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_vars(v, source, f"{key}[{i}]", builtins) for i, v in enumerate(value)]
    return value


# ---- loading -------------------------------------------------------------------------------


def find_config_file(explicit: str | None, cwd: Path | None = None) -> Path | None:
    """--config, else ./gemini-live.toml, else $XDG_CONFIG_HOME/gemini-live/config.toml."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(str(path), "", "config file not found")
        return path
    local = (cwd or Path.cwd()) / CONFIG_NAME
    if local.is_file():
        return local
    xdg = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    user = xdg / "gemini-live" / "config.toml"
    return user if user.is_file() else None


def read_toml(path: Path) -> dict[str, Any]:
    if path.suffix.lower() == ".json":
        raise ConfigError(str(path), "", "this is a JSON file, and --config takes gemini-live's TOML config; for a Claude Desktop, "
                          "Cursor or VS Code server list use --mcp-config FILE (or mcp_config = \"FILE\" in the TOML)")
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(str(path), "", f"not valid TOML: {e}") from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), "", "not a UTF-8 text file (TOML files are UTF-8)") from None
    except RecursionError:
        raise ConfigError(str(path), "", "nested too deeply to be a config file") from None
    except OSError as e:
        raise ConfigError(str(path), "", f"cannot read: {e.strerror}") from None


# Keys other MCP clients add to a server entry that mean nothing to gemini-live (approval lists,
# UI metadata): read the file as it is and leave them out.
_OTHER_CLIENTS_KEYS = frozenset({"autoApprove", "alwaysAllow", "description", "gallery", "version", "dev", "icon", "timeoutMs"})


def _read_env_file(base: Path, name: Any, source: str, key: str) -> dict[str, str]:
    """A dotenv file (KEY=VALUE lines, # comments, optional quotes), relative to the JSON file."""
    if not isinstance(name, str):
        raise ConfigError(source, key, "expected a file name")
    path = Path(name.replace("${workspaceFolder}", str(base))).expanduser()
    path = path if path.is_absolute() else base / path
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(source, key, f"cannot read {path}: {e}") from None
    values = {}
    for line in lines:
        line = line.strip().removeprefix("export ").strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        k, v = line.split("=", 1)
        v = v.strip()
        if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
            v = v[1:-1]
        values[k.strip()] = v
    return values


def read_mcp_json(path: Path) -> dict[str, dict[str, Any]]:
    """Claude Desktop / Cursor `mcpServers` JSON, or VS Code's `servers` with `type`, as tables."""
    source = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(source, "", "MCP config file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(source, "", f"not valid JSON: {e}") from None
    except RecursionError:
        raise ConfigError(source, "", "nested too deeply to be an MCP config file") from None
    if not isinstance(data, dict):
        raise ConfigError(source, "", "expected a JSON object with `mcpServers` or `servers`")
    key = "mcpServers" if "mcpServers" in data else "servers" if "servers" in data else None
    if key is None:
        raise ConfigError(source, "mcpServers", "missing (expected `mcpServers` or `servers`)")
    servers = data[key]
    if not isinstance(servers, dict):
        raise ConfigError(source, key, "expected an object of servers by name")
    tables: dict[str, dict[str, Any]] = {}
    for name, entry in servers.items():
        where = f"{key}.{name}"
        if not isinstance(entry, dict):
            raise ConfigError(source, where, "expected an object")
        table = {k: v for k, v in entry.items() if k not in _OTHER_CLIENTS_KEYS}
        kinds = [table.pop("type", None), table.pop("transportType", None)]  # Cline says transportType
        kind = next((k for k in kinds if k is not None), None)
        if "disabled" in table:  # Claude Desktop, Cline
            table["enabled"] = not table.pop("disabled")
        if "disabledTools" in table:  # Cline
            table["exclude_tools"] = [*table.get("exclude_tools", []), *table.pop("disabledTools")]
        if "envFile" in table:  # VS Code, Cursor: the file's variables, under the explicit `env`
            table["env"] = {**_read_env_file(path.parent, table.pop("envFile"), source, f"{where}.envFile"), **table.get("env", {})}
        if kind in ("http", "streamable-http", "streamableHttp"):
            table.setdefault("transport", "streamable-http")
        elif kind == "sse":
            table["transport"] = "sse"
        elif kind not in (None, "stdio"):
            raise ConfigError(source, f"{where}.type", f"unknown server type {kind!r}")
        if "serverUrl" in table and "url" not in table:
            table["url"] = table.pop("serverUrl")
        tables[name] = table
    return tables


def _did_you_mean(loc: list[str], model: type[BaseModel]) -> str:
    """`; did you mean 'voice'?` for an unknown key close to a known one."""
    fields: Any = model.model_fields
    if len(loc) == 2 and loc[0] == "model_profile":
        fields = ModelProfileOverrides.model_fields
    elif len(loc) != 1:
        return ""
    close = difflib.get_close_matches(loc[-1], [f for f in fields if f != "name"], n=1, cutoff=0.7)
    return f"; did you mean {close[0]!r}?" if close else ""


def _problems(err: ValidationError, model: type[BaseModel]) -> list[tuple[str, str]]:
    """(key, message) for every problem pydantic found, one per key."""
    found: dict[str, str] = {}
    for e in err.errors():
        loc = [str(p) for p in e["loc"]]
        key = ".".join(loc)
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key" + _did_you_mean(loc, model)
        elif e.get("input") is not None and e["type"] not in ("value_error",):
            msg = f"{msg} (got {e['input']!r})"
        found.setdefault(key, msg.removeprefix("Value error, "))
    return list(found.items())


class ConfigProblems(ConfigError):
    """Every problem found in one file: the first is the error's key and message, all are in its text."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        super().__init__(source, *problems[0])
        self.problems = problems
        if len(problems) > 1:
            self.args = (f"{source}: {len(problems)} problems:\n" + "\n".join(f"  {k or '(file)'}: {m}" for k, m in problems),)


def _config_error(source: str, problems: list[tuple[str, str]]) -> ConfigProblems:
    return ConfigProblems(source, problems)


def _validation_error(source: str, err: ValidationError) -> ConfigError:
    return _config_error(source, _problems(err, Config))


def _server_tables(raw: Any, source: str, key: str) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, dict):
        raise ConfigError(source, key, "expected a table of servers by name")
    out = {}
    for name, table in raw.items():
        if not isinstance(table, dict):
            raise ConfigError(source, f"{key}.{name}", "expected a table")
        out[name] = {**table, "name": name}
    return out


def _validate_servers(tables: dict[str, dict[str, Any]], source: str, key: str) -> dict[str, McpServerConfig]:
    servers, problems = {}, []
    for name, table in tables.items():
        try:
            servers[name] = McpServerConfig.model_validate(table)
        except ValidationError as e:
            problems += [(f"{key}.{name}" + (f".{k}" if k else ""), m) for k, m in _problems(e, McpServerConfig)]
    if problems:
        raise _config_error(source, problems)
    return servers


def load_config(
    config_file: str | None = None,
    overrides: dict[str, Any] | None = None,
    *,
    cwd: Path | None = None,
) -> Config:
    """Build the Config from the file (found as documented) and the flags that were given."""
    overrides = dict(overrides or {})
    path = find_config_file(config_file, cwd)
    data: dict[str, Any] = {}
    source = str(path) if path else "command line"
    if path is not None:
        data = expand_vars(read_toml(path), source, builtins=builtin_vars(path))
        if isinstance(data.get("import_functions"), list):
            # Module paths in a config file are relative to that file, like mcp_config.
            data["import_functions"] = [
                str(path.parent / p) if isinstance(p, str) and not Path(p).expanduser().is_absolute() else p
                for p in data["import_functions"]
            ]
        if config_file is None and path.parent.resolve() == (cwd or Path.cwd()).resolve():
            from agent import trust

            trust.check(path, data)  # found, not named: a folder's config runs nothing untrusted
    problems: list[tuple[str, str]] = []  # of the file: reported together, after the whole file is checked
    try:
        servers = _validate_servers(_server_tables(data.pop("mcp_servers", {}), source, "mcp_servers"), source, "mcp_servers")
    except ConfigProblems as e:
        servers, problems = {}, problems + e.problems

    mcp_config = overrides.get("mcp_config") or data.get("mcp_config")
    if isinstance(mcp_config, str):
        mcp_path = Path(mcp_config).expanduser()
        if path is not None and not mcp_path.is_absolute() and "mcp_config" not in overrides:
            mcp_path = path.parent / mcp_path  # relative to the TOML file that names it
        tables = expand_vars(read_mcp_json(mcp_path), str(mcp_path), builtins=builtin_vars(mcp_path))
        tables = {n: {**t, "name": n} for n, t in tables.items()}
        key = "mcpServers"
        for name, server in _validate_servers(tables, str(mcp_path), key).items():
            servers.setdefault(name, server)  # the TOML table of the same name wins

    merged = {**data, **overrides, "mcp_servers": servers}
    try:
        config = Config.model_validate(merged)
    except ValidationError as e:
        found = _problems(e, Config)
        flag = next(((k, m) for k, m in found if k.split(".")[0] in overrides), None)
        if flag is not None:
            raise ConfigError("command line", "--" + flag[0].split(".")[0].replace("_", "-"), flag[1]) from None
        raise _config_error(source, problems + found) from None
    if problems:
        raise _config_error(source, problems)
    return config
