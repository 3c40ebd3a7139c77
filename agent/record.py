"""The JSONL record (`--log-file`): one timestamped event per line.

It never holds raw audio or video bytes (only their sizes), and any configured secret (the API
key) is masked wherever it would appear. A new file is created 0600: it holds the whole transcript.
A file that cannot be opened is a usage error; one that fails later (a full disk, /dev/full) is
reported once and recording stops, while the session goes on.
"""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import UTC, datetime
from typing import Any

from agent.errors import UserError

log = logging.getLogger(__name__)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


class Recorder:
    """Appends events to a JSONL file; a Recorder without a path records nothing."""

    def __init__(self, path: str | None = None, *, secrets: list[str] | None = None) -> None:
        self.path = path
        self.secrets = [s for s in (secrets or []) if s and len(s) >= 4]
        self._fd: int | None = None
        self._t0 = time.monotonic()
        if path:
            try:
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
                self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as e:
                raise UserError(f"cannot open the log file {path}: {e.strerror or e}") from None

    @property
    def enabled(self) -> bool:
        return self._fd is not None

    def event(self, kind: str, **fields: Any) -> None:
        if self._fd is None:
            return
        record = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "t": round(time.monotonic() - self._t0, 3),
            "event": kind,
            **_jsonable(fields),
        }
        line = json.dumps(record, ensure_ascii=False)
        for secret in self.secrets:
            line = line.replace(secret, "***")
        fd, data = self._fd, (line + "\n").encode("utf-8", errors="replace")
        try:
            # Unbuffered, one line per call: nothing is left half-written in a buffer to fail again at close.
            while data:
                data = data[os.write(fd, data) :]
        except OSError as e:  # a full disk must not end the conversation, nor warn for every event
            log.warning("cannot write the log file %s: %s; the rest of this session is not logged", self.path, e.strerror or e)
            self.close()

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError as e:  # e.g. a network file system reporting a late write error
                log.warning("cannot close the log file %s: %s", self.path, e.strerror or e)
