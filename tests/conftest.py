"""Shared fixtures: the fake Live server and ways to run the real agent against it."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes.live_server import FakeLiveServer, Scenario, echo_scenario

ROOT = Path(__file__).resolve().parent.parent

# The `pulse` (private PulseAudio) and `xvfb` (private X server) fixtures.
pytest_plugins = ["tests.audio_env", "tests.screen_env"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # google-genai's live client is asyncio-only


@pytest.fixture(autouse=True)
def trusted_folders(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite writes its own folder configs, so they are trusted; tests/test_trust.py checks the rest."""
    monkeypatch.setenv("GEMINI_LIVE_TRUST_FOLDER", "1")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No credentials, endpoints or user config from the developer's machine leak in."""
    for var in ("GOOGLE_API_KEY", "GEMINI_API_KEY", "GOOGLE_GEMINI_BASE_URL", "SSL_CERT_FILE", "GOOGLE_GENAI_USE_VERTEXAI"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def live(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., FakeLiveServer]]:
    """Start a fake Live server with a scenario and point this process's environment at it."""
    servers: list[FakeLiveServer] = []

    def start(scenario: Scenario = echo_scenario, **kwargs: object) -> FakeLiveServer:
        server = FakeLiveServer(scenario, **kwargs).__enter__()  # type: ignore[arg-type]
        servers.append(server)
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)
    for server in servers:
        server.check()


@dataclass
class Result:
    status: int
    stdout: str
    stderr: str


def agent_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "agent", *args]


def run_agent(*args: str, input: str | None = "", timeout: float = 60, env: dict[str, str] | None = None, cwd: Path | None = None) -> Result:
    """Run the real `gemini-live` as a subprocess to completion."""
    proc = subprocess.run(
        agent_command(*args),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def start_agent(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.Popen[str]:
    """Start the real `gemini-live` with pipes, for tests that talk to it or signal it."""
    return subprocess.Popen(
        agent_command(*args),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        start_new_session=True,  # its own process group, so a test can find its children
    )


def interrupt(proc: subprocess.Popen[str], timeout: float = 20) -> tuple[int, str, str]:
    """Ctrl-C as a terminal delivers it (SIGINT), then collect the outcome."""
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


class FakeStdin(io.StringIO):
    """A non-terminal stdin for in-process runs."""

    def isatty(self) -> bool:
        return False


TEXT_ONLY = ("--no-audio-input", "--no-audio-output", "--text-output")
