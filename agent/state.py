"""The saved resumption handle behind `gemini-live --resume` (never the API key)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from pathlib import Path

from agent.errors import UserError

log = logging.getLogger(__name__)

HANDLE_LIFETIME = 2 * 60 * 60  # the service keeps a resumption handle for 2 hours

_reported: set[str] = set()  # state files whose failure to save was already reported


def state_path(explicit: str | None = None) -> Path:
    """--state-file, else $XDG_STATE_HOME/gemini-live/session.json."""
    if explicit:
        return Path(explicit).expanduser()
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "gemini-live" / "session.json"


def save_handle(path: Path, handle: str, model: str) -> bool:
    """Save the newest handle; False if it could not be.

    A state file that cannot be written must not end the session, which saves a handle every few
    turns: the first failure for a file is reported, the later ones are not.
    """
    try:
        _write_atomically(path, json.dumps({"handle": handle, "model": model, "saved_at": time.time()}))
    except OSError as e:
        if str(path) not in _reported:
            _reported.add(str(path))
            log.warning("cannot save the session state for --resume to %s: %s (not reported again)", path, e.strerror or e)
        return False
    return True


def _write_atomically(path: Path, text: str) -> None:
    """Write a 0600 temporary file and rename it over `path`: a crash mid-write never leaves a broken file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and not path.is_file():  # the rename would put a regular file in place of /dev/null, a FIFO, ...
        raise OSError(f"{path} is not a regular file")
    tmp = path.with_name(path.name + ".tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            os.fchmod(fd, 0o600)  # a leftover temporary file keeps its old mode otherwise
            f.write(text)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def load_handle(path: Path, model: str, *, now: float | None = None) -> str:
    """The handle saved by the last session, if it can still be resumed."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        handle, saved_model, saved_at = data["handle"], data["model"], float(data["saved_at"])
    except FileNotFoundError:
        raise UserError(f"--resume: no saved session to resume ({path} does not exist)") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UserError(f"--resume: cannot read {path}: {e}") from None
    age = (now or time.time()) - saved_at
    if age > HANDLE_LIFETIME:
        raise UserError(f"--resume: the last session ended {age / 3600:.1f} hours ago; sessions can be resumed for 2 hours")
    if saved_model != model:
        raise UserError(f"--resume: the last session used model {saved_model}, not {model}; pass --model {saved_model}")
    return str(handle)
