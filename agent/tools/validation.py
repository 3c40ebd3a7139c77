"""Checks the model's arguments against a tool's original inputSchema, as the router needs it.

Real MCP schemas include some jsonschema itself cannot use (unresolvable `$ref`, invalid
keywords, odd drafts); for those, validation is skipped rather than failing the call.

A schema's `pattern` is the server's regex run on the model's text, and Python's backtracking
engine takes seconds for `(a+)+$` on 25 characters (doubling with each one more), which on the
event loop froze everything. So patterns run on RE2, which cannot backtrack. A schema RE2 cannot
take whole (lookaround or backreferences, or patternProperties, which jsonschema also matches
itself) and a very large one are checked in a daemon thread with a time bound instead: a check
that takes longer answers the call with an error rather than running the tool unchecked.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import re2  # type: ignore[import-untyped]
from jsonschema import FormatChecker, exceptions, validators

from agent.tools.local import run_in_daemon_thread
from agent.tools.printable import printable

logger = logging.getLogger(__name__)

MAX_VIOLATIONS = 10  # enough for the model to fix its call, short enough to read
CHECK_TIMEOUT = 2.0  # seconds a check off the loop may take before the call is refused
PREPARE_TIMEOUT = 10.0  # seconds to check a schema itself (once per tool): linear, but schemas can be big
MAX_STUCK = 2  # checks over time still running; while this many are, further ones are refused
BIG_SCHEMA = 2_000  # nodes; a larger schema is checked off the loop
_MAX_MESSAGE = 200
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a pattern RE2 rejects is handled here, not printed by RE2

T = TypeVar("T")


@functools.lru_cache(maxsize=1024)
def regex(pattern: str) -> tuple[Any, bool]:
    """(compiled pattern or None if invalid, whether it runs in linear time)."""
    try:
        return re2.compile(pattern, options=_RE2_OPTIONS), True
    except re2.error:
        pass
    try:
        return re.compile(pattern), False  # lookaround, backreferences: only Python's engine has them
    except (re.error, RecursionError, OverflowError):
        return None, True


def _pattern(validator: Any, pattern: Any, instance: Any, schema: Any) -> Iterator[exceptions.ValidationError]:
    if validator.is_type(instance, "string") and isinstance(pattern, str):
        compiled, _ = regex(pattern)
        if compiled is not None and not compiled.search(instance):
            yield exceptions.ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator: Any, patterns: Any, instance: Any, schema: Any) -> Iterator[exceptions.ValidationError]:
    if not validator.is_type(instance, "object") or not isinstance(patterns, dict):
        return
    for pattern, subschema in patterns.items():
        compiled, _ = regex(pattern) if isinstance(pattern, str) else (None, True)
        for key, value in instance.items():
            if compiled is not None and compiled.search(key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def needs_thread(schema: Any) -> bool:
    """Whether checking against `schema` could take long: a regex RE2 cannot run, or sheer size."""
    stack, nodes = [schema], 0
    while stack:
        node = stack.pop()
        nodes += 1
        if nodes > BIG_SCHEMA:
            return True
        if isinstance(node, dict):
            pattern = node.get("pattern")
            if isinstance(pattern, str) and not regex(pattern)[1]:
                return True
            if isinstance(node.get("patternProperties"), dict) and node["patternProperties"]:
                return True  # additionalProperties matches these keys with Python's engine
            stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, (dict, list)))
    return False


@dataclass(frozen=True)
class _Checker:
    schema: Any  # kept alive, so its id stays unique while cached
    validator: Any  # None: the schema is unusable, the arguments go unchecked
    off_loop: bool


class ArgumentValidator:
    """Caches one jsonschema validator per schema object and checks arguments in bounded time."""

    def __init__(self, timeout: float = CHECK_TIMEOUT) -> None:
        self.timeout = timeout
        self._cache: dict[int, _Checker] = {}
        self._stuck = 0  # checks abandoned at their time bound that still run
        self._lock = threading.Lock()

    async def check(self, schema: Any, args: dict[str, Any]) -> list[str]:
        """Each violation with its path ("/items/0: 'x' is not of type 'integer'"); [] if valid."""
        checker = self._cache.get(id(schema))
        if checker is None or checker.schema is not schema:
            checker = await self._bounded(functools.partial(_prepare, schema), max(self.timeout, PREPARE_TIMEOUT))
            if checker is None:
                return [self._too_slow()]
            self._cache[id(schema)] = checker
        if checker.validator is None:
            return []
        if not checker.off_loop:
            return self._violations(checker, args)
        found = await self._bounded(functools.partial(self._violations, checker, args), self.timeout)
        return [self._too_slow()] if found is None else found

    def _violations(self, checker: _Checker, args: dict[str, Any]) -> list[str]:
        try:
            errors = list(checker.validator.iter_errors(args))
        except Exception as exc:  # noqa: BLE001 - bad $ref and the like surface only while validating
            logger.warning("validation skipped: the tool's schema is unusable (%s: %s)", type(exc).__name__, printable(str(exc)[:300], one_line=True))
            self._cache[id(checker.schema)] = _Checker(checker.schema, None, False)
            return []
        errors.sort(key=lambda e: [str(p) for p in e.absolute_path])
        out: list[str] = [_describe(e) for e in errors[:MAX_VIOLATIONS]]
        if len(errors) > MAX_VIOLATIONS:
            out.append(f"and {len(errors) - MAX_VIOLATIONS} more")
        return out

    async def _bounded(self, fn: Callable[[], T], timeout: float) -> T | None:
        """`fn()` in a daemon thread; None when it took longer than `timeout` (it is abandoned)."""
        with self._lock:
            if self._stuck >= MAX_STUCK:
                return None
            self._stuck += 1  # until it ends, whether or not we still wait for it

        def counted() -> T:
            try:
                return fn()
            finally:
                with self._lock:
                    self._stuck -= 1

        with anyio.move_on_after(timeout):
            return await run_in_daemon_thread(counted)
        logger.warning("argument check abandoned after %g s (a costly pattern in the tool's schema?)", timeout)
        return None

    def _too_slow(self) -> str:
        return (f"the arguments could not be checked against the tool's schema within {self.timeout:g} s "
                "(a pattern too costly to match?); the tool was not called")


def _prepare(schema: Any) -> _Checker:
    validator = None
    if isinstance(schema, (dict, bool)):
        try:
            cls: Any = validators.validator_for(schema, default=validators.Draft202012Validator)
            cls.check_schema(schema, format_checker=_schema_formats(cls))
            cls = validators.extend(cls, {"pattern": _pattern, "patternProperties": _pattern_properties})
            validator = cls(schema)
        except Exception as exc:  # noqa: BLE001 - jsonschema raises many types for odd schemas; none may escape
            logger.warning("validation skipped: the tool's schema is invalid (%s)", printable((str(exc).splitlines() or [""])[0][:300]))
    return _Checker(schema, validator, needs_thread(schema))


def _schema_formats(cls: Any) -> FormatChecker:
    """The draft's checks of a schema's own formats, with `regex` meaning: RE2 or Python can compile it."""
    checker = FormatChecker(formats=())
    checker.checkers = {**cls.FORMAT_CHECKER.checkers, "regex": (_is_regex, ())}
    return checker


def _is_regex(instance: object) -> bool:
    return not isinstance(instance, str) or regex(instance)[0] is not None


class Violation(str):
    """One problem with the arguments, as text; `options` when the bad value had an enum."""

    path: str = ""
    options: list[Any] | None = None


def _describe(error: exceptions.ValidationError) -> Violation:
    path = "/" + "/".join(str(p) for p in error.absolute_path) if error.absolute_path else "(root)"
    message = error.message
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 1] + "…"
    found = Violation(f"{path}: {message}")
    found.path = path
    if error.validator == "enum" and isinstance(error.validator_value, list):
        found.options = list(error.validator_value)  # the values that would have fitted: the model picks one
    return found
