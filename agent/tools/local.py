"""Local Python modules as tools: every public function defined in a .py file becomes one.

The file is imported by path under a unique module name, with its folder on sys.path while it
imports (so `import helpers` next to it works). Arguments are coerced to the type hints with
pydantic (the model sends JSON: "2" for an int, a dict for a dataclass); sync functions run in a
worker thread, async ones on the loop; whatever they return is made JSON-able.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import enum
import functools
import hashlib
import importlib.util
import inspect
import json
import logging
import math
import sys
import threading
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path, PurePath
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel
import pydantic

from agent.errors import ConfigError
from agent.tools.base import DiscoveredTool
from agent.tools.mcp_results import MAX_TEXT_CHARS, trim
from agent.tools.schema import json_schema_for_callable

logger = logging.getLogger(__name__)

_SECTION_HEADERS = ("args:", "arguments:", "parameters", "params:", "returns:", "return:", "raises:",
                    "yields:", "examples:", "example:", "keyword args:", ":param", ":return", ":raises")


class LocalBackend:
    """Runs a loaded module's functions: {"output": value} or {"error": "TypeName: message"}."""

    def __init__(self, source: str, functions: Mapping[str, Callable[..., Any]]) -> None:
        self.source = source
        self.functions = dict(functions)
        self._validated = {name: _validating(fn) for name, fn in self.functions.items()}

    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """Run the function named `tool`; raises only when cancelled."""
        fn = self._validated.get(tool)
        if fn is None:
            return {"error": f"KeyError: {self.source} has no function {tool!r}"}
        original = self.functions[tool]
        try:
            inspect.signature(original).bind(**arguments)
        except TypeError as e:
            return {"error": f"TypeError: {e}"}
        try:
            if inspect.iscoroutinefunction(original):
                result = await fn(**arguments)
            else:
                result = await run_in_daemon_thread(functools.partial(fn, **arguments))
        except pydantic.ValidationError as e:
            return {"error": f"ValidationError: {_validation_summary(e)}"}
        except Exception as e:  # noqa: BLE001 - the function's failure is the model's information
            logger.info("local function %s.%s raised %s", self.source, tool, type(e).__name__, exc_info=True)
            return {"error": f"{type(e).__name__}: {e}"}
        return {"output": _bounded(to_jsonable(result))}


async def run_in_daemon_thread(fn: Callable[[], Any]) -> Any:
    """`fn()` in a daemon thread of its own: cancelling abandons it, and exit never waits for it.

    anyio's worker threads are not daemons, so a sync function still running when the agent
    quits (Ctrl-C during a 30 s call) would hold the interpreter's exit until it returned.
    """
    token = anyio.lowlevel.current_token()
    done = anyio.Event()
    outcome: list[Any] = []

    def work() -> None:
        try:
            outcome.append((True, fn()))
        except BaseException as e:  # noqa: BLE001 - handed to the awaiting task, which re-raises it
            outcome.append((False, e))
        with contextlib.suppress(RuntimeError):  # the event loop is gone: nobody is waiting
            anyio.from_thread.run_sync(done.set, token=token)

    threading.Thread(target=work, name=f"local function {getattr(fn, '__name__', '')}", daemon=True).start()
    await done.wait()
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


def load_module_tools(path: str) -> tuple[str, list[DiscoveredTool], LocalBackend]:
    """Import the .py file at `path`; (source name, its public functions as tools, their backend)."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(str(file), "", "Python file not found")
    module = _import_file(file.resolve())
    source = file.stem
    functions = public_functions(module)
    if not functions:
        logger.warning("%s defines no public functions; it adds no tools", file)
    tools = [
        DiscoveredTool(source=source, name=name, description=describe(fn), input_schema=json_schema_for_callable(fn))
        for name, fn in functions.items()
    ]
    return source, tools, LocalBackend(source, functions)


def public_functions(module: Any) -> dict[str, Callable[..., Any]]:
    """Functions defined in the module itself (not imported), not _private, in definition order.

    A module's `__all__`, when present, further limits them.
    """
    allowed = getattr(module, "__all__", None)
    found: dict[str, Callable[..., Any]] = {}
    for name, obj in vars(module).items():
        if name.startswith("_") or not inspect.isfunction(obj) or obj.__module__ != module.__name__:
            continue
        if allowed is not None and name not in allowed:
            continue
        found[name] = obj
    return found


def describe(fn: Callable[..., Any]) -> str:
    """The docstring without its Args/Returns/Raises sections (the schema carries those)."""
    doc = inspect.getdoc(fn) or ""
    kept = []
    for paragraph in doc.split("\n\n"):
        first = paragraph.strip().splitlines()[0].strip().lower() if paragraph.strip() else ""
        if first.startswith(_SECTION_HEADERS) or set(first) == {"-"}:
            break
        kept.append(paragraph.strip())
    return "\n\n".join(p for p in kept if p)


def _import_file(file: Path) -> Any:
    digest = hashlib.sha1(str(file).encode()).hexdigest()[:8]
    name = f"_gemini_live_functions_{_identifier(file.stem)}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ConfigError(str(file), "", "cannot be imported as a Python module (is it a .py file?)")
    module = importlib.util.module_from_spec(spec)
    folder = str(file.parent)
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    sys.modules[name] = module  # dataclasses and pydantic look their module up while it executes
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        del sys.modules[name]
        raise ConfigError(str(file), "", f"syntax error at line {e.lineno}: {e.msg}") from None
    except (Exception, SystemExit) as e:  # noqa: BLE001 - whatever the import raised, say so
        del sys.modules[name]
        raise ConfigError(str(file), "", f"import failed: {type(e).__name__}: {e}") from None
    finally:
        if added and folder in sys.path:
            sys.path.remove(folder)
    return module


def _identifier(stem: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in stem)


def _validating(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` with its arguments coerced to its type hints, where pydantic understands them."""
    try:
        return pydantic.validate_call(config=pydantic.ConfigDict(arbitrary_types_allowed=True))(fn)
    except Exception:  # noqa: BLE001 - unusual hints: call the function as it is
        logger.debug("no argument validation for %r", fn, exc_info=True)
        return fn


def _validation_summary(e: pydantic.ValidationError) -> str:
    parts = []
    for err in e.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
    return "; ".join(parts)


def to_jsonable(value: Any, _depth: int = 0) -> Any:
    """Dataclasses, pydantic models, sets, dates, enums ... as JSON values; bytes summarised."""
    if _depth > 20:
        return str(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"type": "bytes", "bytes": len(value)}
    if isinstance(value, pydantic.BaseModel):
        return to_jsonable(value.model_dump(mode="json"), _depth + 1)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name), _depth + 1) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value, _depth + 1)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (Decimal, uuid.UUID, PurePath, complex)):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        items = [to_jsonable(v, _depth + 1) for v in value]
        try:
            return sorted(items)
        except TypeError:
            return items
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, _depth + 1) for v in value]
    return str(value)


def _bounded(value: Any) -> Any:
    """Trim a result too long for the model to read (MAX_TEXT_CHARS of JSON), saying so."""
    if isinstance(value, str):
        return trim(value)
    dumped = json.dumps(value, ensure_ascii=False)
    return value if len(dumped) <= MAX_TEXT_CHARS else trim(dumped)
