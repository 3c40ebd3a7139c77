"""Answers the model can act on: what happened, and whether trying again may help.

Success stays `{"output": ...}`. Every failure is `{"status": S, "error": message, "retryable": bool, ...}`:

| status | when | retryable |
| --- | --- | --- |
| `error` | the tool (or its server) said it failed, or raised | false |
| `invalid_argument` | the arguments did not fit the tool's schema (`valid_options` when the bad value had an enum) | true |
| `timeout` | no answer within the tool's timeout | true |
| `unavailable` | the server is down, restarting or unreachable | true |
| `declined` | a person said no (or did not answer in time) | false |
| `unknown_function` | no such function | false |

A call that succeeded with no content at all answers `{"status": "no_results", "retryable": false}`
(Gemini 3.8 calls a tool again, 2-5 times, when a result is empty or vague).
Backends answer `{"error": message}`, adding `status` (and `retryable`) where they know better.
"""

from __future__ import annotations

from typing import Any

ERROR = "error"
INVALID_ARGUMENT = "invalid_argument"
TIMEOUT = "timeout"
UNAVAILABLE = "unavailable"
DECLINED = "declined"
UNKNOWN_FUNCTION = "unknown_function"
NO_RESULTS = "no_results"

RETRYABLE = {ERROR: False, INVALID_ARGUMENT: True, TIMEOUT: True, UNAVAILABLE: True, DECLINED: False, UNKNOWN_FUNCTION: False}


def failure(status: str, message: str, *, retryable: bool | None = None, **extra: Any) -> dict[str, Any]:
    """A failed call's answer."""
    found = {"status": status, "error": message, "retryable": RETRYABLE.get(status, False) if retryable is None else retryable}
    found.update({k: v for k, v in extra.items() if v is not None})
    return found


def unavailable(message: str) -> dict[str, Any]:
    """The server is down or restarting: the call did not run (or its fate is unknown); later it may."""
    return failure(UNAVAILABLE, message)


def no_results() -> dict[str, Any]:
    return {"status": NO_RESULTS, "retryable": False}


def completed(response: dict[str, Any]) -> dict[str, Any]:
    """A backend's `{"error": ...}` with its status and retryable filled in (default: the tool's error)."""
    if "error" not in response:
        return response
    error = response["error"]
    status = response.get("status") if isinstance(response.get("status"), str) else ERROR
    extra = {k: v for k, v in response.items() if k not in ("status", "error", "retryable")}
    retryable = response.get("retryable") if isinstance(response.get("retryable"), bool) else None
    return failure(status or ERROR, error if isinstance(error, str) else str(error), retryable=retryable, **extra)


def is_failure(response: dict[str, Any]) -> bool:
    return "error" in response
