"""The log file (--log-file) and the state file (--resume): a file that cannot be written is
reported once and the session goes on; the log file, which holds the transcript, is created 0600."""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.errors import UserError
from agent.record import Recorder
from agent.state import load_handle, save_handle
from tests.conftest import TEXT_ONLY, run_agent
from tests.fakes.resumable import ResumableModel

needs_dev_full = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The common default, under which a plain open() makes a file world-readable."""
    old = os.umask(0o022)
    yield
    os.umask(old)


# ---- the log file ---------------------------------------------------------------------------


def test_log_file_is_created_0600(tmp_path: Path, umask_022: None) -> None:
    path = tmp_path / "logs" / "session.jsonl"
    recorder = Recorder(str(path))
    recorder.event("user_text", text="a private question")
    recorder.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["text"] == "a private question"


def test_log_file_keeps_appending(tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl"
    for text in ("one", "two"):
        recorder = Recorder(str(path), secrets=["sk-secret"])
        recorder.event("user_text", text=f"{text} sk-secret")
        recorder.close()
    assert [json.loads(line)["text"] for line in path.read_text().splitlines()] == ["one ***", "two ***"]


@needs_dev_full
def test_full_log_file_warns_once_and_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="agent.record")
    recorder = Recorder("/dev/full")
    for i in range(5):
        recorder.event("user_text", text=f"line {i}")
    recorder.close()  # nothing buffered is left to fail again
    recorder.close()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "/dev/full" in warnings[0].getMessage() and "not logged" in warnings[0].getMessage()
    assert not recorder.enabled


def test_log_file_that_cannot_be_opened_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=str(tmp_path)):
        Recorder(str(tmp_path))  # a folder


@needs_dev_full
def test_agent_with_full_log_file_finishes_and_warns_once(live, clean_env: Path) -> None:
    live()
    result = run_agent(*TEXT_ONLY, "--log-file", "/dev/full", input="hello\nagain\n")
    assert result.status == 0, result.stderr
    assert result.stdout == "echo: hello\necho: again\n"
    assert result.stderr.count("cannot write the log file") == 1, result.stderr


# ---- the state file ---------------------------------------------------------------------------


def test_unwritable_state_file_warns_once_and_goes_on(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="agent.state")
    (tmp_path / "a-file").write_text("")
    path = tmp_path / "a-file" / "session.json"  # its folder cannot be made
    assert [save_handle(path, f"handle-{i}", "m") for i in range(3)] == [False, False, False]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and str(path) in warnings[0], warnings


def test_state_file_that_is_not_a_regular_file_is_left_alone(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fifo = tmp_path / "state.fifo"
    os.mkfifo(fifo)
    assert save_handle(fifo, "handle", "m") is False
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # not replaced by a regular file
    assert not (tmp_path / "state.fifo.tmp").exists()


def test_state_file_is_saved_0600_and_loads(tmp_path: Path, umask_022: None) -> None:
    path = tmp_path / "state" / "session.json"
    assert save_handle(path, "handle-1", "m") and save_handle(path, "handle-2", "m")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_handle(path, "m") == "handle-2"
    assert [p.name for p in path.parent.iterdir()] == ["session.json"]


def test_agent_with_unwritable_state_file_finishes_and_warns_once(live, clean_env: Path) -> None:
    model = ResumableModel()  # a new resumption handle after every answer
    live(model)
    (clean_env / "a-file").write_text("")
    result = run_agent(*TEXT_ONLY, input="one\ntwo\nthree\n", env={"XDG_STATE_HOME": str(clean_env / "a-file")})
    assert result.status == 0, result.stderr
    assert result.stdout == "echo: one\necho: two\necho: three\n"
    assert len(model.histories) == 3
    assert result.stderr.count("cannot save the session state") == 1, result.stderr
