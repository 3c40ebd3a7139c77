"""Runs a command to completion and maps every outcome to an exit status and a clear message."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from collections.abc import Callable
from typing import Any

import anyio

from agent.config import Config, load_config
from agent.errors import SessionError, UserError

EXIT_OK, EXIT_SESSION, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _fail(message: str, status: int) -> int:
    sys.stdout.flush()
    print(f"gemini-live: {message}", file=sys.stderr, flush=True)
    return status


def load(config_file: str | None, overrides: dict[str, Any]) -> Config:
    """The config file merged with the flags; --import-functions adds to the file's list."""
    extra = overrides.pop("import_functions", None)
    config = load_config(config_file, overrides)
    if extra:
        paths = [*config.import_functions, *(str(Path(p).expanduser().resolve()) for p in extra)]
        merged = list(dict.fromkeys(str(Path(p).resolve()) for p in paths))
        config = config.model_copy(update={"import_functions": merged})
    return config


def guarded(body: Callable[[], int]) -> int:
    """Run `body`, turning known failures into messages and exit statuses."""
    from agent.app import unwrap

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
        return _fail("interrupted", EXIT_INTERRUPTED)
    except Exception as e:  # noqa: BLE001 - the last line of defence: a message, not a traceback
        logging.getLogger("agent").debug("unexpected error", exc_info=True)
        return _fail(f"unexpected error: {type(e).__name__}: {e} (run with -v for details)", EXIT_SESSION)


def run_agent(config_file: str | None, overrides: dict[str, Any]) -> int:
    def body() -> int:
        config = load(config_file, overrides)
        from agent.app import Agent

        return anyio.run(Agent(config).run)

    return guarded(body)


def run_tools(config_file: str | None, overrides: dict[str, Any], *, as_json: bool) -> int:
    def body() -> int:
        config = load(config_file, overrides)
        from agent.tools.listing import list_tools

        return anyio.run(list_tools, config, as_json)

    return guarded(body)


def run_devices() -> int:
    def body() -> int:
        from agent.media.devices import list_devices_text

        print(list_devices_text())
        return EXIT_OK

    return guarded(body)
