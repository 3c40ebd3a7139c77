"""MCP elicitation (`elicitation/create`) answered by the person, through agent.questions.

Form mode: the server's message, then each field asked on its own, with its title, description,
choices and default; an empty line takes the default (or skips an optional field); a value is
checked against the field's schema (type, enum, bounds, required) and asked again when it does not
fit; "decline" and "cancel" answer so; fields left out get their defaults (SEP-1034).
URL mode: the message and the URL are shown; once the person says yes, the URL is opened with
Python's `webbrowser` (so $BROWSER is honoured) and the server is told "accept".
No answer in time (confirm_timeout), or nobody left to answer: "cancel".
"""

from __future__ import annotations

import logging
import math
import re
import threading
import webbrowser
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import urlsplit

import mcp_types as types

from agent.questions import YES, Ask, Questions
from agent.tools.printable import printable

logger = logging.getLogger(__name__)

MAX_TRIES = 5  # a field answered this many times without a fitting value cancels the form
MAX_CHOICES = 20  # choices listed in a question
DECLINE: Literal["decline"] = "decline"
CANCEL: Literal["cancel"] = "cancel"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Invalid(ValueError):
    """An answer that does not fit the field; the message says why."""


class Elicitation:
    """The elicitation callback of one MCP server's client session."""

    def __init__(self, questions: Questions, server: str, *, recorder: Any = None,
                 open_url: Callable[[str], bool] = webbrowser.open) -> None:
        self.questions = questions
        self.server = server
        self.recorder = recorder
        self.open_url = open_url

    async def __call__(self, context: Any, params: types.ElicitRequestParams) -> types.ElicitResult | types.ErrorData:
        if isinstance(params, types.ElicitRequestURLParams):
            result = await self._url(params)
        else:
            result = await self._form(params)
        if self.recorder is not None:  # what was asked and how it ended, never the values typed
            mode = "url" if isinstance(params, types.ElicitRequestURLParams) else "form"
            self.recorder.event("elicitation", server=self.server, mode=mode, action=result.action)
        return result

    # ---- form mode --------------------------------------------------------------------------

    async def _form(self, params: types.ElicitRequestFormParams) -> types.ElicitResult:
        schema = _dict(params.requested_schema)
        properties = _dict(schema.get("properties"))
        required = set(_list(schema.get("required")))
        content: dict[str, Any] = {}
        async with self.questions.turn() as ask:
            self._say(f"MCP server {self.server!r} asks: {params.message}")
            self._say("  (answer each field; Enter takes the default; 'decline' or 'cancel' ends the form)")
            for name, field in properties.items():
                if not isinstance(field, dict) or not _askable(field):
                    continue  # nothing a line of text can answer: its default (if any) is applied below
                outcome = await self._field(ask, name, field, name in required)
                if outcome in (DECLINE, CANCEL):
                    return types.ElicitResult(action=DECLINE if outcome == DECLINE else CANCEL)
                if outcome is not _SKIP:
                    content[name] = outcome
        for name, field in properties.items():  # SEP-1034: defaults for the fields left out
            if name not in content and isinstance(field, dict) and _primitive(field.get("default")):
                content[name] = field["default"]
        return types.ElicitResult(action="accept", content=content)

    async def _field(self, ask: Ask, name: str, field: dict[str, Any], required: bool) -> Any:
        text, hint = _question(name, field, required)
        for _ in range(MAX_TRIES):
            answer = await ask(text, hint)
            if answer is None:
                return CANCEL
            if answer.lower() in (DECLINE, CANCEL):
                return answer.lower()
            if answer == "":
                if "default" in field:
                    return field["default"]
                if not required:
                    return _SKIP
                self._say("  this field is required")
                continue
            try:
                return parse(answer, field)
            except Invalid as e:
                self._say(f"  {e}")
        self._say(f"  no value that fits after {MAX_TRIES} tries: the form is cancelled")
        return CANCEL

    # ---- URL mode ---------------------------------------------------------------------------

    async def _url(self, params: types.ElicitRequestURLParams) -> types.ElicitResult:
        url = params.url
        async with self.questions.turn() as ask:
            self._say(f"MCP server {self.server!r} asks you to open a web page: {params.message}\n  {url}")
            if urlsplit(url).scheme not in ("http", "https"):
                self._say("  (not an http or https URL: declined)")
                return types.ElicitResult(action=DECLINE)
            answer = await ask("Open it in your browser?", "[y: open / n: decline / c: cancel]")
        if answer is None or answer.lower() in ("c", CANCEL):
            return types.ElicitResult(action=CANCEL)
        if answer.lower() not in YES:
            return types.ElicitResult(action=DECLINE)
        self._open(url)
        return types.ElicitResult(action="accept")

    def _open(self, url: str) -> None:
        def run() -> None:  # a $BROWSER command may take its time: never on the event loop
            try:
                opened = self.open_url(url)
            except Exception:  # noqa: BLE001 - a browser that cannot start is only a notice
                logger.info("opening %s failed", printable(url), exc_info=True)
                opened = False
            if not opened:
                logger.warning("no browser could be started: open the URL shown above yourself")

        threading.Thread(target=run, name="browser", daemon=True).start()

    def _say(self, text: str) -> None:
        self.questions.console.info(printable(text))


_SKIP = object()  # an optional field left empty


def _askable(field: dict[str, Any]) -> bool:
    return field.get("type") in ("string", "number", "integer", "boolean", "array") or "enum" in field or "oneOf" in field


def choices(field: dict[str, Any]) -> list[tuple[Any, str]]:
    """(value, label) of a field's choices: `enum` (with legacy `enumNames`), titled `oneOf`/`anyOf` of consts."""
    if isinstance(field.get("enum"), list):
        names = _list(field.get("enumNames"))
        return [(v, str(names[i]) if i < len(names) else str(v)) for i, v in enumerate(field["enum"])]
    options = field.get("oneOf") or field.get("anyOf")
    if isinstance(options, list):
        return [(o["const"], str(o.get("title", o["const"]))) for o in options if isinstance(o, dict) and "const" in o]
    return []


def _question(name: str, field: dict[str, Any], required: bool) -> tuple[str, str]:
    title = field["title"] if isinstance(field.get("title"), str) else name
    text = title + (f" — {field['description']}" if isinstance(field.get("description"), str) else "")
    options = choices(field) or (choices(field["items"]) if isinstance(field.get("items"), dict) else [])
    if options:
        shown = [f"{i}. {label}" for i, (_, label) in enumerate(options[:MAX_CHOICES], 1)]
        more = f" … ({len(options) - MAX_CHOICES} more)" if len(options) > MAX_CHOICES else ""
        text += " [" + ", ".join(shown) + more + "]"
        if field.get("type") == "array":
            text += " (several: separate them with commas)"
    elif field.get("type") == "boolean":
        text += " (y/n)"
    if "default" in field:
        hint = f"(Enter: {_show(field['default'])})"
    else:
        hint = "(required)" if required else "(Enter skips)"
    return text, hint


def _primitive(value: Any) -> bool:
    """What an elicitation result may carry: a string, number, boolean or list of strings."""
    return isinstance(value, str | int | float | bool) or (isinstance(value, list) and all(isinstance(v, str) for v in value))


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    return str(value)


def parse(answer: str, field: dict[str, Any]) -> Any:
    """The typed answer as the field's type; Invalid (saying why) when it does not fit."""
    kind = field.get("type")
    if kind == "array":
        items = _dict(field.get("items"))
        values = [_pick(part.strip(), choices(items)) if choices(items) else part.strip() for part in answer.split(",") if part.strip()]
        low, high = field.get("minItems"), field.get("maxItems")
        if isinstance(low, int) and len(values) < low:
            raise Invalid(f"choose at least {low}")
        if isinstance(high, int) and len(values) > high:
            raise Invalid(f"choose at most {high}")
        return values
    options = choices(field)
    if options:
        return _pick(answer, options)
    if kind == "boolean":
        lowered = answer.lower()
        if lowered in ("y", "yes", "true", "1"):
            return True
        if lowered in ("n", "no", "false", "0"):
            return False
        raise Invalid("answer y or n")
    if kind in ("integer", "number"):
        return _number(answer, field, integer=kind == "integer")
    return _string(answer, field)


def _pick(answer: str, options: list[tuple[Any, str]]) -> Any:
    for value, label in options:
        if answer in (str(value), label) or answer.lower() in (str(value).lower(), label.lower()):
            return value
    if answer.isdigit() and 1 <= int(answer) <= len(options):
        return options[int(answer) - 1][0]
    raise Invalid("choose one of: " + ", ".join(label for _, label in options[:MAX_CHOICES]))


def _number(answer: str, field: dict[str, Any], *, integer: bool) -> int | float:
    try:
        value: int | float = int(answer) if integer else float(answer)
    except ValueError:
        raise Invalid("a whole number, please" if integer else "a number, please") from None
    if not math.isfinite(value):
        raise Invalid("a finite number, please")
    low, high = field.get("minimum"), field.get("maximum")
    if isinstance(low, int | float) and value < low:
        raise Invalid(f"at least {low}")
    if isinstance(high, int | float) and value > high:
        raise Invalid(f"at most {high}")
    return value


def _string(answer: str, field: dict[str, Any]) -> str:
    low, high = field.get("minLength"), field.get("maxLength")
    if isinstance(low, int) and len(answer) < low:
        raise Invalid(f"at least {low} characters")
    if isinstance(high, int) and len(answer) > high:
        raise Invalid(f"at most {high} characters")
    fmt = field.get("format")
    if fmt == "email" and not _EMAIL.match(answer):
        raise Invalid("an email address, please")
    if fmt == "uri" and not urlsplit(answer).scheme:
        raise Invalid("a URI (with its scheme, e.g. https://), please")
    if fmt == "date" and not _DATE.match(answer):
        raise Invalid("a date as YYYY-MM-DD, please")
    return answer
