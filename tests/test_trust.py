"""A config found in the current folder runs nothing until it is trusted (issue 13 item 19)."""

from __future__ import annotations

import sys
from pathlib import Path

import pexpect
import pytest

from tests.conftest import agent_command, run_agent


@pytest.fixture
def untrusted_folder(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("GEMINI_LIVE_TRUST_FOLDER")
    marker = clean_env / "ran"
    server = clean_env / "evil.py"
    server.write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    (clean_env / "gemini-live.toml").write_text(f'[mcp_servers.evil]\ncommand = "{sys.executable}"\nargs = ["{server}"]\nstartup_timeout = 5\n')
    return clean_env


def test_a_folder_config_that_runs_commands_is_refused_without_a_terminal(untrusted_folder: Path) -> None:
    result = run_agent("tools", input="")
    assert result.status == 2
    assert "would start evil:" in result.stderr and "has not been trusted" in result.stderr
    assert not (untrusted_folder / "ran").exists()  # nothing ran


def test_naming_the_file_is_trusting_it(untrusted_folder: Path) -> None:
    result = run_agent("tools", "--config", "gemini-live.toml", input="")
    assert "has not been trusted" not in result.stderr
    assert (untrusted_folder / "ran").exists()


def test_a_config_without_tools_needs_no_trust(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_LIVE_TRUST_FOLDER")
    (clean_env / "gemini-live.toml").write_text('voice = "Kore"\n')
    result = run_agent("tools", input="")
    assert result.status == 0, result.stderr


def test_trust_is_asked_at_a_terminal_and_remembered_until_the_file_changes(untrusted_folder: Path) -> None:
    def tools(answer: str | None) -> int:
        child = pexpect.spawn(agent_command("tools")[0], agent_command("tools")[1:], cwd=str(untrusted_folder), encoding="utf-8", timeout=30)
        if answer is not None:
            child.expect(r"Trust this file")
            assert "would:" in (child.before or "")
            child.sendline(answer)
        child.expect(pexpect.EOF)
        child.close()
        return int(child.exitstatus or 0)

    assert tools("n") == 2 and not (untrusted_folder / "ran").exists()
    tools("y")
    assert (untrusted_folder / "ran").exists()
    (untrusted_folder / "ran").unlink()
    tools(None)  # remembered: no question this time
    assert (untrusted_folder / "ran").exists()
    config = untrusted_folder / "gemini-live.toml"
    config.write_text(config.read_text() + "timeout = 10\n")
    assert tools("n") == 2  # changed since it was trusted: asked again
