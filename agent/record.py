"""The JSONL record (`--log-file`): one timestamped event per line.

It never holds raw audio or video bytes (only their sizes), and any configured secret (the API
key) is masked wherever it would appear.
"""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import datetime, timezone
from typing import IO, Any

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
        self._file: IO[str] | None = None
        self._t0 = time.monotonic()
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            self._file = open(path, "a", encoding="utf-8", buffering=1)

    @property
    def enabled(self) -> bool:
        return self._file is not None

    def event(self, kind: str, **fields: Any) -> None:
        if self._file is None:
            return
        record = {
            "ts": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "t": round(time.monotonic() - self._t0, 3),
            "event": kind,
            **_jsonable(fields),
        }
        line = json.dumps(record, ensure_ascii=False)
        for secret in self.secrets:
            line = line.replace(secret, "***")
        try:
            self._file.write(line + "\n")
        except (OSError, ValueError) as e:  # a full disk must not end the conversation
            log.warning("cannot write the log file: %s", e)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
