"""`gemini-live init` and `gemini-live mcp add / list / remove`, through the real command."""

from __future__ import annotations

import sys
from pathlib import Path

from agent.config import load_config
from tests.conftest import run_agent


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
