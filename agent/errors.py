"""Errors that end the process with a clear message instead of a traceback."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix (bad config, missing device, no display); exits with status 2."""

    exit_code = 2


class ConfigError(UserError):
    """A bad config value: names the file and the key."""

    def __init__(self, source: str, key: str, message: str) -> None:
        self.source, self.key, self.message = source, key, message
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {message}")


class SessionError(Exception):
    """The Live service refused or ended the session; exits with status 1."""

    exit_code = 1
