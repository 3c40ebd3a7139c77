"""Checks the model's arguments against a tool's original inputSchema, as the router needs it.

Real MCP schemas include some jsonschema itself cannot use (unresolvable `$ref`, invalid
keywords, odd drafts); for those, validation is skipped rather than failing the call.
"""

from __future__ import annotations

import logging
from typing import Any

from jsonschema import exceptions, validators

logger = logging.getLogger(__name__)

MAX_VIOLATIONS = 10  # enough for the model to fix its call, short enough to read
_MAX_MESSAGE = 200


class ArgumentValidator:
    """Caches one jsonschema validator per schema object; None when the schema is unusable."""

    def __init__(self) -> None:
        self._cache: dict[int, tuple[Any, Any]] = {}

    def violations(self, schema: Any, args: dict[str, Any]) -> list[str]:
        """Each violation with its path ("/items/0: 'x' is not of type 'integer'"); [] if valid."""
        validator = self._validator(schema)
        if validator is None:
            return []
        try:
            errors = list(validator.iter_errors(args))
        except Exception as exc:  # bad $ref and the like surface only while validating
            logger.warning("validation skipped: the tool's schema is unusable (%s: %s)", type(exc).__name__, exc)
            self._cache[id(schema)] = (schema, None)
            return []
        errors.sort(key=lambda e: [str(p) for p in e.absolute_path])
        out = [_describe(e) for e in errors[:MAX_VIOLATIONS]]
        if len(errors) > MAX_VIOLATIONS:
            out.append(f"and {len(errors) - MAX_VIOLATIONS} more")
        return out

    def _validator(self, schema: Any) -> Any:
        cached = self._cache.get(id(schema))
        if cached is not None and cached[0] is schema:
            return cached[1]
        validator = None
        if isinstance(schema, (dict, bool)):
            try:
                cls = validators.validator_for(schema, default=validators.Draft202012Validator)
                cls.check_schema(schema)
                validator = cls(schema)
            except Exception as exc:  # jsonschema raises many types for odd schemas; none may escape
                logger.warning("validation skipped: the tool's schema is invalid (%s)", (str(exc).splitlines() or [""])[0])
        self._cache[id(schema)] = (schema, validator)  # keeps `schema` alive so its id stays unique
        return validator


def _describe(error: exceptions.ValidationError) -> str:
    path = "/" + "/".join(str(p) for p in error.absolute_path) if error.absolute_path else "(root)"
    message = error.message
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 1] + "…"
    return f"{path}: {message}"
