"""The saved resumption handle behind `gemini-live --resume` (never the API key)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from agent.errors import UserError

HANDLE_LIFETIME = 2 * 60 * 60  # the service keeps a resumption handle for 2 hours


def state_path(explicit: str | None = None) -> Path:
    """--state-file, else $XDG_STATE_HOME/gemini-live/session.json."""
    if explicit:
        return Path(explicit).expanduser()
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "gemini-live" / "session.json"


def save_handle(path: Path, handle: str, model: str) -> None:
    """Write atomically, so a crash mid-write never leaves a broken file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"handle": handle, "model": model, "saved_at": time.time()}), encoding="utf-8")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


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
