"""Config loading: TOML, MCP client JSON, ${VAR} expansion, discovery, precedence, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.config import Config, load_config, read_mcp_json
from agent.errors import ConfigError
from agent.runner import load
from tests.conftest import ROOT, run_agent


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults(clean_env: Path) -> None:
    config = load_config()
    assert config == Config()
    assert config.voice == "Charon" and config.audio_input and config.audio_output and not config.text_output


def test_file_then_flags(clean_env: Path) -> None:
    path = write(clean_env / "a.toml", 'voice = "Kore"\nmodel = "m1"\nsearch = false\n')
    config = load_config(str(path), {"model": "m2"})
    assert (config.voice, config.model, config.search) == ("Kore", "m2", False)


def test_discovery_prefers_local_then_xdg(clean_env: Path) -> None:
    write(clean_env / "xdg" / "gemini-live" / "config.toml", 'voice = "Puck"\n')
    assert load_config().voice == "Puck"
    write(clean_env / "gemini-live.toml", 'voice = "Aoede"\n')
    assert load_config().voice == "Aoede"


def test_var_expansion(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHO", "tester")
    path = write(
        clean_env / "c.toml",
        'system_instruction = "Help ${WHO} with ${TOPIC:-maths}; costs $$5"\n'
        '[mcp_servers.fs]\ncommand = "echo"\nargs = ["${HOME:-/}", "${WHO}"]\nenv = { TOKEN = "${WHO}-token" }\n',
    )
    config = load_config(str(path))
    assert config.system_instruction == "Help tester with maths; costs $5"
    assert config.mcp_servers["fs"].args[1] == "tester"
    assert config.mcp_servers["fs"].env == {"TOKEN": "tester-token"}


@pytest.mark.parametrize(
    ("toml", "key", "words"),
    [
        ('voise = "Kore"\n', "voise", "unknown key"),
        ("audio_input = 3\n", "audio_input", "boolean"),
        ('initial_message_delay = "soon"\n', "initial_message_delay", "number"),
        ('import_functions = "one.py"\n', "import_functions", "list"),
        ('system_instruction = "${NOPE_NOT_SET}"\n', "system_instruction", "NOPE_NOT_SET"),
        ('[mcp_servers.x]\nargs = ["a"]\n', "mcp_servers.x", "either `command`"),
        ('[mcp_servers.x]\ncommand = "a"\ntimeout = -1\n', "mcp_servers.x.timeout", "greater than 0"),
        ('[mcp_servers.x]\ncommand = "a"\nbogus = 1\n', "mcp_servers.x.bogus", "unknown key"),
        ("voice = \n", "", "not valid TOML"),
    ],
)
def test_errors_name_file_and_key(clean_env: Path, toml: str, key: str, words: str) -> None:
    path = write(clean_env / "bad.toml", toml)
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert info.value.source == str(path)
    assert info.value.key == key
    assert words in str(info.value)


def test_bad_config_exits_2_naming_file_and_key(clean_env: Path) -> None:
    path = write(clean_env / "bad.toml", 'voice = "Kore"\nspeed = 2\n')
    result = run_agent("--config", str(path), "--no-audio-input", "--no-audio-output")
    assert result.status == 2
    assert str(path) in result.stderr and "speed" in result.stderr and "unknown key" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_config_file_exits_2(clean_env: Path) -> None:
    result = run_agent("--config", "nowhere.toml")
    assert result.status == 2 and "nowhere.toml" in result.stderr and "not found" in result.stderr


def test_bad_flag_value_names_the_flag(clean_env: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(None, {"screen_quality": 500})
    assert info.value.key == "--screen-quality"


def test_import_functions_flag_adds_to_file_list(clean_env: Path) -> None:
    path = write(clean_env / "c.toml", 'import_functions = ["a.py"]\n')
    config = load(str(path), {"import_functions": ["b.py", "a.py"]})
    assert config.import_functions == [str(clean_env / "a.py"), str(clean_env / "b.py")]


def test_claude_desktop_json(clean_env: Path) -> None:
    path = write(
        clean_env / "claude.json",
        json.dumps(
            {
                "mcpServers": {
                    "time": {"command": "uvx", "args": ["mcp-server-time"], "env": {"TZ": "UTC"}},
                    "remote": {"url": "https://example.invalid/mcp", "headers": {"Authorization": "Bearer x"}},
                    "off": {"command": "x", "disabled": True},
                }
            }
        ),
    )
    config = load_config(None, {"mcp_config": str(path)})
    servers = config.mcp_servers
    assert servers["time"].kind == "stdio" and servers["time"].args == ["mcp-server-time"]
    assert servers["remote"].kind == "streamable-http" and servers["remote"].headers["Authorization"] == "Bearer x"
    assert servers["off"].enabled is False


def test_vscode_json(clean_env: Path) -> None:
    path = write(
        clean_env / "mcp.json",
        json.dumps(
            {
                "servers": {
                    "a": {"type": "stdio", "command": "node", "args": ["x.js"]},
                    "b": {"type": "http", "url": "http://127.0.0.1:1/mcp"},
                    "c": {"type": "sse", "url": "http://127.0.0.1:1/sse"},
                }
            }
        ),
    )
    tables = read_mcp_json(path)
    assert tables["b"]["transport"] == "streamable-http" and tables["c"]["transport"] == "sse"
    config = load_config(None, {"mcp_config": str(path)})
    assert [config.mcp_servers[n].kind for n in "abc"] == ["stdio", "streamable-http", "sse"]


def test_mcp_json_errors(clean_env: Path) -> None:
    bad = write(clean_env / "bad.json", '{"servers": {"a": {"type": "carrier-pigeon", "url": "x"}}}')
    with pytest.raises(ConfigError) as info:
        load_config(None, {"mcp_config": str(bad)})
    assert info.value.key == "servers.a.type" and str(bad) in str(info.value)
    worse = write(clean_env / "worse.json", "{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(None, {"mcp_config": str(worse)})


def test_toml_mcp_config_is_relative_to_the_toml(clean_env: Path) -> None:
    write(clean_env / "conf" / "servers.json", '{"mcpServers": {"t": {"command": "true"}}}')
    path = write(clean_env / "conf" / "agent.toml", 'mcp_config = "servers.json"\n')
    assert "t" in load_config(str(path)).mcp_servers


@pytest.mark.parametrize("example", sorted((ROOT / "config").glob("*.toml")), ids=lambda p: p.name)
def test_shipped_toml_examples_load(clean_env: Path, example: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT / "config")
    config = load_config(str(example))
    assert isinstance(config, Config)


@pytest.mark.parametrize("example", sorted((ROOT / "config").glob("*.json")), ids=lambda p: p.name)
def test_shipped_json_examples_load(clean_env: Path, example: Path) -> None:
    config = load_config(None, {"mcp_config": str(example)})
    assert config.mcp_servers


@pytest.mark.parametrize(
    ("model", "mode", "realtime"),
    [
        ("gemini-3.8-live", "auto", True),
        ("gemini-2.5-flash-native-audio-preview-12-2025", "auto", False),
        ("gemini-live-2.5-flash-preview", "auto", False),
        ("gemini-3.1-flash-live-preview", "auto", True),
        ("models/gemini-3.1-flash-live-preview", "client_content", False),
        ("gemini-2.5-flash-native-audio-preview-12-2025", "realtime_input", True),
    ],
)
def test_text_input_mode_by_model(model: str, mode: str, realtime: bool) -> None:
    from agent.live_config import plan_session

    assert plan_session(Config(model=model, text_input_mode=mode)).realtime_text is realtime


@pytest.mark.parametrize("content", [b"\x00\x01\x02\xff\xfe binary", "model = 'x'\n".encode("utf-16")])
def test_a_binary_or_utf16_toml_file_is_a_config_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as e:
        load_config(str(path), {})
    assert e.value.source == str(path) and "UTF-8" in e.value.message


def test_deeply_nested_mcp_json_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text('{"mcpServers": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(ConfigError) as e:
        load_config(None, {"mcp_config": str(path)})
    assert e.value.source == str(path)


def test_other_clients_server_files_are_read_as_they_are(tmp_path: Path) -> None:
    """Cline, Cursor and VS Code add keys of their own: approval lists, transportType, envFile."""
    (tmp_path / ".env").write_text('# secrets\nexport TOKEN="abc"\nREGION=eu\n')
    path = tmp_path / "cline_mcp_settings.json"
    path.write_text(json.dumps({"mcpServers": {
        "files": {"command": "npx", "args": ["-y", "x"], "autoApprove": ["read"], "alwaysAllow": [], "disabled": False,
                  "disabledTools": ["write_file"], "timeout": 30, "envFile": "${workspaceFolder}/.env", "env": {"REGION": "us"}},
        "remote": {"url": "https://example.com/sse", "transportType": "sse", "description": "a remote server"},
    }}))
    config = load_config(None, {"mcp_config": str(path)})
    files, remote = config.mcp_servers["files"], config.mcp_servers["remote"]
    assert files.exclude_tools == ["write_file"] and files.timeout == 30 and files.enabled
    assert files.env == {"TOKEN": "abc", "REGION": "us"}  # the explicit env wins over the file
    assert remote.kind == "sse"


def test_the_model_name_cannot_be_empty() -> None:
    with pytest.raises(ConfigError) as e:
        load_config(None, {"model": ""})
    assert e.value.key == "--model"
