"""Runs a command to completion and maps every outcome to an exit status and a clear message."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import anyio
from google.auth.exceptions import DefaultCredentialsError

from agent import trust
from agent.config import Config, load_config
from agent.errors import SessionError, UserError
from agent.trust import UntrustedConfig

EXIT_OK, EXIT_SESSION, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
# Signals that end the agent as Ctrl-C does: `timeout`, `systemctl stop`, `docker stop`, a closed terminal.
EXIT_SIGNALS = {signal.SIGTERM: "terminated", signal.SIGHUP: "hung up"}


def _fail(message: str, status: int) -> int:
    # After SIGHUP the terminal may be gone: a message that cannot be written must not cost the status.
    with suppress(OSError, ValueError):
        sys.stdout.flush()
    with suppress(OSError, ValueError):
        print(f"gemini-live: {message}", file=sys.stderr, flush=True)
    return status


class ExitSignals:
    """SIGTERM and SIGHUP run the same shutdown as Ctrl-C; remembers which one came first.

    The handler hands the signal to whatever handles SIGINT at that moment: inside `anyio.run`
    that is the event loop runner's handler, which cancels the main task (so every task group
    unwinds and every MCP server's process group is stopped) and raises KeyboardInterrupt once
    the clean-up is done; a second signal forces, as a second Ctrl-C does. Outside the loop it
    is Python's default handler, which raises KeyboardInterrupt at once. A signal that was
    ignored when we started (`nohup`) stays ignored.
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        for signum in EXIT_SIGNALS:
            if signal.getsignal(signum) is signal.SIG_DFL:
                self._previous[signum] = signal.signal(signum, self._handle)

    def uninstall(self) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received is None:
            self.received = signum
        on_sigint = signal.getsignal(signal.SIGINT)
        if not callable(on_sigint):
            raise KeyboardInterrupt
        on_sigint(signal.SIGINT, frame)

    def exit_status(self) -> tuple[str, int]:
        """The message and status for an interrupted run: 130 for Ctrl-C, 128+signum otherwise."""
        if self.received is None:
            return "interrupted", EXIT_INTERRUPTED
        return f"{EXIT_SIGNALS[signal.Signals(self.received)]} ({signal.Signals(self.received).name})", 128 + self.received


def load(config_file: str | None, overrides: dict[str, Any]) -> Config:
    """The config file merged with the flags; --import-functions adds to the file's list."""
    extra = overrides.pop("import_functions", None)
    try:
        config = load_config(config_file, dict(overrides))
    except UntrustedConfig as e:
        if not ask_trust(e):
            raise
        trust.remember(e.path, e.digest)
        config = load_config(config_file, overrides)
    if extra:
        paths = [*config.import_functions, *(str(Path(p).expanduser().resolve()) for p in extra)]
        merged = list(dict.fromkeys(str(Path(p).resolve()) for p in paths))
        config = config.model_copy(update={"import_functions": merged})
    return config


def ask_trust(e: UntrustedConfig) -> bool:
    """At a terminal, ask whether to trust a folder's config; elsewhere the answer is no."""
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return False
    lines = [f"gemini-live: {e.path} in this folder would:", *(f"  - {a}" for a in e.actions)]
    print("\n".join(lines), file=sys.stderr)
    try:
        answer = input("Trust this file (remembered until it changes)? [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def guarded(body: Callable[[], int]) -> int:
    """Run `body`, turning known failures into messages and exit statuses."""
    from agent.app import unwrap

    signals = ExitSignals()
    signals.install()
    try:
        try:
            return body()
        except BaseExceptionGroup as group:
            raise unwrap(group) from None
    except UserError as e:
        return _fail(str(e), EXIT_USAGE)
    except SessionError as e:
        return _fail(str(e), EXIT_SESSION)
    except KeyboardInterrupt:
        return _fail(*signals.exit_status())
    except DefaultCredentialsError:
        return _fail(
            "no Google Cloud credentials for Vertex AI (GOOGLE_GENAI_USE_VERTEXAI is set): run "
            "`gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS to a key file; "
            "or unset GOOGLE_GENAI_USE_VERTEXAI and set GOOGLE_API_KEY",
            EXIT_USAGE,
        )
    except Exception as e:  # noqa: BLE001 - the last line of defence: a message, not a traceback
        # -v (the agent's loggers at INFO) shows the traceback that the message promises.
        logging.getLogger("agent").info("unexpected error", exc_info=True)
        text = str(e).splitlines()[0][:300] if str(e) else ""
        return _fail(f"unexpected error: {type(e).__name__}: {text} (run with -v for details)", EXIT_SESSION)
    finally:
        signals.uninstall()
        _exit_on_next_interrupt()


def _exit_on_next_interrupt() -> None:
    """After the run, a Ctrl-C while Python waits for leftover threads exits at once, with no traceback."""

    def exit_now(signum: int, frame: Any) -> None:
        for stream in (sys.stdout, sys.stderr):
            with suppress(OSError, ValueError):
                stream.flush()
        os._exit(EXIT_INTERRUPTED)

    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, exit_now)


def run_agent(config_file: str | None, overrides: dict[str, Any]) -> int:
    def body() -> int:
        config = load(config_file, overrides)
        from agent.app import Agent
        from agent.terminal import interactive

        if not interactive(sys.stdin, sys.stdout):
            return anyio.run(Agent(config).run)
        from agent.banner import progress_line
        from agent.terminal import TerminalConsole, TerminalUI

        console = TerminalConsole(verbose=config.verbose)
        agent = Agent(config, console=console)
        ui = agent.inputs.front = TerminalUI(agent, console)
        console.info(progress_line(config))
        status = anyio.run(agent.run)
        return ui.exit_status if ui.exit_status is not None else status

    return guarded(body)


def run_tools(config_file: str | None, overrides: dict[str, Any], *, as_json: bool) -> int:
    def body() -> int:
        config = load(config_file, overrides)
        from agent.tools.listing import list_tools

        return anyio.run(list_tools, config, as_json)

    return guarded(body)


def run_login(config_file: str | None, overrides: dict[str, Any], name: str, *, logout: bool) -> int:
    """`gemini-live login NAME` / `logout NAME` for a remote MCP server that uses OAuth."""

    def body() -> int:
        config = load(config_file, overrides)
        from agent.tools import oauth_login

        cfg = oauth_login.remote_server(config, name)
        return oauth_login.logout(cfg) if logout else anyio.run(oauth_login.login, cfg)

    return guarded(body)


def run_devices() -> int:
    def body() -> int:
        from agent.media.devices import list_devices_text

        print(list_devices_text())
        return EXIT_OK

    return guarded(body)
