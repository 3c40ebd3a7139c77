"""`gemini-live init` and `gemini-live mcp add / list / remove`, through the real command."""

from __future__ import annotations

import sys
from pathlib import Path

from agent.config import load_config
from tests.conftest import ROOT, run_agent


def user_config(clean_env: Path) -> Path:
    return clean_env / "xdg" / "gemini-live" / "config.toml"


def test_init_writes_a_config_that_works_from_any_folder_and_never_overwrites(clean_env: Path) -> None:
    result = run_agent("init")
    assert result.status == 0, result.stderr
    path = user_config(clean_env)
    assert path.is_file() and (path.parent / "notes_server.py").is_file() and (path.parent / "function_examples.py").is_file()
    assert str(path) in result.stdout
    assert "CAN WRITE FILES" in path.read_text()  # says which server writes

    elsewhere = clean_env / "some" / "other" / "folder"
    elsewhere.mkdir(parents=True)
    tools = run_agent("tools", cwd=elsewhere, env={"GOOGLE_API_KEY": "unused"})
    assert tools.status == 0, tools.stderr
    assert "notes__add_note" in tools.stdout and "function_examples__calculate" in tools.stdout

    before = path.read_text()
    again = run_agent("init")
    assert again.status == 2
    assert "already exists" in again.stderr and "Traceback" not in again.stderr
    assert path.read_text() == before


def test_mcp_add_list_remove_round_trip_keeps_comments(clean_env: Path) -> None:
    path = user_config(clean_env)
    path.parent.mkdir(parents=True)
    path.write_text('# my settings\nvoice = "Aoede"  # the one I like\n')

    added = run_agent("mcp", "add", "clock", "--env", "TZ=UTC", "--", sys.executable, "-m", "some_server", "--flag")
    assert added.status == 0, added.stderr
    remote = run_agent("mcp", "add", "web", "--url", "https://example.com/mcp", "--transport", "sse", "--header", "Authorization=Bearer ${TOKEN}")
    assert remote.status == 0, remote.stderr
    text = path.read_text()
    assert text.startswith('# my settings\nvoice = "Aoede"  # the one I like\n')

    listing = run_agent("mcp", "list")
    assert listing.status == 0, listing.stderr
    assert "clock" in listing.stdout and "some_server --flag" in listing.stdout
    assert "web" in listing.stdout and "sse https://example.com/mcp" in listing.stdout

    duplicate = run_agent("mcp", "add", "clock", "--", "true")
    assert duplicate.status == 2 and "already has a server 'clock'" in duplicate.stderr

    removed = run_agent("mcp", "remove", "web")
    assert removed.status == 0, removed.stderr
    loaded = load_config(str(path))
    assert list(loaded.mcp_servers) == ["clock"]
    clock = loaded.mcp_servers["clock"]
    assert clock.command == sys.executable and clock.args == ["-m", "some_server", "--flag"] and clock.env == {"TZ": "UTC"}
    assert loaded.voice == "Aoede"
    assert "# the one I like" in path.read_text()

    missing = run_agent("mcp", "remove", "web")
    assert missing.status == 2 and "no MCP server 'web'" in missing.stderr


def test_mcp_add_needs_a_command_or_a_url(clean_env: Path) -> None:
    result = run_agent("mcp", "add", "nothing")
    assert result.status == 2
    assert "either a command after `--`" in result.stderr
    assert not user_config(clean_env).exists()


def test_mcp_commands_edit_the_local_config_when_there_is_one(clean_env: Path) -> None:
    local = clean_env / "gemini-live.toml"
    local.write_text("")
    result = run_agent("mcp", "add", "here", "--", "true")
    assert result.status == 0, result.stderr
    assert "[mcp_servers.here]" in local.read_text()
    assert not user_config(clean_env).exists()


# ---- messages: every error once, in the project's words, with the README's exit status -----------


def test_config_errors_are_listed_together_with_did_you_mean(clean_env: Path) -> None:
    path = clean_env / "bad.toml"
    path.write_text('voise = "Kore"\naudio_input = 3\n[mcp_servers.a]\ncomand = "x"\n[model_profile]\nserch = true\n')
    result = run_agent("--config", str(path))
    assert result.status == 2
    assert "4 problems" in result.stderr
    for words in ("voise: unknown key; did you mean 'voice'?", "audio_input:", "mcp_servers.a.comand: unknown key; did you mean 'command'?",
                  "model_profile.serch: unknown key; did you mean 'search'?"):
        assert words in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_a_json_file_given_to_config_says_so(clean_env: Path) -> None:
    path = clean_env / "claude_desktop_config.json"
    path.write_text('{"mcpServers": {}}')
    result = run_agent("--config", str(path), "--no-audio-input", "--no-audio-output")
    assert result.status == 2
    assert "this is a JSON file" in result.stderr and "--mcp-config" in result.stderr


def test_a_failed_required_server_exits_2_in_tools_and_in_a_run_saying_why_once(clean_env: Path) -> None:
    (clean_env / "gemini-live.toml").write_text(
        '[mcp_servers.vital]\ncommand = "/nonexistent/vital-server"\nrequired = true\n'
    )
    for args in (("tools",), ("--no-audio-input", "--no-audio-output")):
        result = run_agent(*args, env={"GOOGLE_API_KEY": "unused"})
        assert result.status == 2, (args, result.stderr)
        assert result.stderr.count("/nonexistent/vital-server") == 1, result.stderr
        assert "agent.tools" not in result.stderr and "Traceback" not in result.stderr


def test_a_tool_filter_that_matches_nothing_is_a_warning(clean_env: Path) -> None:
    (clean_env / "gemini-live.toml").write_text(
        f'[mcp_servers.notes]\ncommand = "{sys.executable}"\nargs = ["{ROOT / "config" / "notes_server.py"}"]\n'
        'include_tools = ["add_*", "nosuch_*"]\nexclude_tools = ["delete_*"]\n'
    )
    result = run_agent("tools", env={"GOOGLE_API_KEY": "unused", "XDG_DATA_HOME": str(clean_env / "data")})
    assert result.status == 0, result.stderr
    assert "include_tools pattern 'nosuch_*' matches none of its" in result.stderr
    assert "exclude_tools pattern 'delete_*' matches none" in result.stderr
    assert "'add_*'" not in result.stderr


def test_missing_vertex_credentials_exit_2_with_a_message(clean_env: Path) -> None:
    env = {
        "GOOGLE_GENAI_USE_VERTEXAI": "true", "GOOGLE_CLOUD_PROJECT": "p", "GOOGLE_CLOUD_LOCATION": "us-central1",
        "HOME": str(clean_env), "GOOGLE_APPLICATION_CREDENTIALS": "", "CLOUDSDK_CONFIG": str(clean_env / "gcloud"),
        # never ask a metadata server: nothing but loopback is reachable from tests
        "NO_GCE_CHECK": "True", "GCE_METADATA_HOST": "127.0.0.1:9", "GCE_METADATA_IP": "127.0.0.1:9",
    }
    result = run_agent("--no-audio-input", "--no-audio-output", env=env)
    assert result.status == 2, result.stderr
    assert "no Google Cloud credentials for Vertex AI" in result.stderr
    assert "unexpected error" not in result.stderr
