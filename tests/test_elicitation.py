"""MCP elicitation answered by the person (issue 10, item 5): form fields one at a time with
defaults, choices and checks; decline and cancel; SEP-1034 defaults; URL mode through $BROWSER."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest

from agent.config import McpServerConfig
from agent.console import Console
from agent.questions import Questions
from agent.tools.elicitation import Elicitation, Invalid, parse
from agent.tools.mcp import McpServer
from tests.conftest import TEXT_ONLY, run_agent
from tests.fakes.mcp_servers import build_server, in_memory, stdio_command
from tests.fakes.modern_server import modern_only
from tests.fakes.oauth_server import browser_env
from tests.test_questions import one_call, people_config
from tests.test_terminal import term as term  # the pty fixture

WAIT = 30


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_answers_are_read_as_the_field_says() -> None:
    assert parse("4", {"type": "integer", "minimum": 1}) == 4
    assert parse("2.5", {"type": "number"}) == 2.5
    assert parse("yes", {"type": "boolean"}) is True and parse("n", {"type": "boolean"}) is False
    assert parse("2", {"type": "string", "enum": ["red", "green"]}) == "green"  # by number
    assert parse("Green", {"type": "string", "enum": ["red", "green"]}) == "green"
    titled = {"type": "string", "oneOf": [{"const": "s", "title": "Small"}, {"const": "l", "title": "Large"}]}
    assert parse("large", titled) == "l"
    several = {"type": "array", "items": {"type": "string", "enum": ["a", "b", "c"]}}
    assert parse("a, c", several) == ["a", "c"]
    for answer, field in [("many", {"type": "integer"}), ("0", {"type": "integer", "minimum": 1}), ("maybe", {"type": "boolean"}),
                          ("purple", {"enum": ["red"]}), ("x", {"type": "string", "minLength": 2}),
                          ("ada", {"type": "string", "format": "email"})]:
        with pytest.raises(Invalid):
            parse(answer, field)


class Person:
    """Answers each question, in turn, with the next of `answers`; keeps what was asked."""

    def __init__(self, questions: Questions, answers: list[str | None]) -> None:
        self.questions, self.answers, self.asked = questions, list(answers), []

    async def run(self) -> None:
        while self.answers:
            with anyio.fail_after(WAIT):
                await self.questions.wait_asked()
            assert self.questions.pending is not None
            self.asked.append(f"{self.questions.pending.text} {self.questions.pending.hint}")
            answer = self.answers.pop(0)
            if answer is None:
                self.questions.close()
            else:
                self.questions.answer(answer)


async def call_with_person(tool: str, answers: list[str | None], opened: list[str] | None = None, **args: Any) -> tuple[dict[str, Any], Person, str]:
    err = io.StringIO()
    questions = Questions(Console(io.StringIO(), err), timeout=WAIT)
    person = Person(questions, answers)
    server = McpServer(McpServerConfig(name="people", command="in-process"), transport=in_memory(build_server("people")))
    server.elicit = Elicitation(questions, "people", open_url=lambda url: bool((opened if opened is not None else []).append(url)) or True)
    async with anyio.create_task_group() as tg:
        with anyio.fail_after(60):
            await tg.start(server.run)
        tg.start_soon(person.run)
        with anyio.fail_after(WAIT):
            result = await server.call(tool, args)
        tg.cancel_scope.cancel()
    value = result.get("output")
    if isinstance(value, dict) and set(value) == {"result"}:  # MCP servers wrap a plain return value
        result = {"output": value["result"]}
    return result, person, err.getvalue()


@pytest.mark.anyio
async def test_a_form_is_asked_field_by_field_and_empty_lines_take_the_defaults() -> None:
    result, person, shown = await call_with_person("book", ["", "Ada", "many", "4", ""])
    assert result == {"output": 'accept: {"guests": 4, "name": "Ada", "window": false}'}
    assert person.asked[0] == "Name — Who the table is for (required)"  # the field's title and description
    assert person.asked[1] == person.asked[0]  # an empty answer to a required field: asked again
    assert person.asked[2] == "Guests — How many people (Enter: 2)" and person.asked[4].startswith("Window — A table by the window (y/n)")
    assert "MCP server 'people' asks: Booking details, please" in shown and "a whole number, please" in shown


@pytest.mark.anyio
@pytest.mark.parametrize(("answers", "action"), [(["decline"], "decline"), (["Ada", "cancel"], "cancel"), ([None], "cancel")])
async def test_decline_cancel_and_no_answer(answers: list[str | None], action: str) -> None:
    result, _, _ = await call_with_person("book", answers)
    assert result == {"output": f"{action}: null"}


@pytest.mark.anyio
async def test_fields_left_out_get_their_defaults() -> None:
    questions = Questions(Console(io.StringIO(), io.StringIO()), timeout=WAIT)
    person = Person(questions, ["x", ""])
    elicit = Elicitation(questions, "s")
    schema = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"description": "no type: not asked", "default": "fallback"},
                                               "c": {"type": "string"}, "d": {"type": "object", "default": {"k": 1}}}}
    async with anyio.create_task_group() as tg:
        tg.start_soon(person.run)
        result = await elicit(None, types.ElicitRequestFormParams(message="m", requested_schema=schema))
    assert result == types.ElicitResult(action="accept", content={"a": "x", "b": "fallback"})  # c skipped; d not a form value


@pytest.mark.anyio
@pytest.mark.parametrize(("answer", "action", "opens"), [("y", "accept", True), ("n", "decline", False), ("c", "cancel", False)])
async def test_url_mode_opens_the_page_once_the_person_says_yes(answer: str, action: str, opens: bool) -> None:
    opened: list[str] = []
    result, person, shown = await call_with_person("sign_in", [answer], opened, url="https://example.com/sign-in")
    assert result == {"output": action}
    assert "https://example.com/sign-in" in shown and "Open it in your browser?" in person.asked[0]
    with anyio.fail_after(WAIT):
        while opens and not opened:
            await anyio.sleep(0.01)
    assert opened == (["https://example.com/sign-in"] if opens else [])


@pytest.mark.anyio
async def test_a_url_that_is_not_http_is_declined_without_asking() -> None:
    result, person, _ = await call_with_person("sign_in", [], url="file:///etc/passwd")
    assert result == {"output": "decline"} and person.asked == []


# ---- the whole agent: answered on stdin, on the 3.8 fake ---------------------------------------


def test_a_form_answered_on_stdin_reaches_the_server_as_accept_with_value_and_default(live, clean_env: Path) -> None:
    people_config(clean_env)
    marker = clean_env / "marks.txt"
    got: list[dict[str, Any]] = []
    live(one_call({"id": "b", "name": "people__book", "args": {"marker": str(marker)}}, got))
    log = clean_env / "session.jsonl"
    result = run_agent(*TEXT_ONLY, "--model", "gemini-3.8-live", "--log-file", str(log), input="book a table\nAda\n\n\n")
    assert result.status == 0, result.stderr
    assert marker.read_text() == 'accept {"guests": 2, "name": "Ada", "window": false}\n'  # what the server got
    assert "accept" in json.dumps(got[-1]["response"]) and got[-1]["name"] == "people__book"
    records = [json.loads(line) for line in log.read_text().splitlines()]
    (elicited,) = [r for r in records if r["event"] == "elicitation"]
    assert elicited["action"] == "accept" and "Ada" not in json.dumps(elicited)  # how it ended, not what was typed


def test_url_mode_opens_browser(live, clean_env: Path) -> None:
    people_config(clean_env)
    opened = clean_env / "browser.log"
    got: list[dict[str, Any]] = []
    live(one_call({"id": "s", "name": "people__sign_in", "args": {"url": "https://example.com/sign-in?x=1"}}, got))
    result = run_agent(*TEXT_ONLY, "--model", "gemini-3.8-live", input="sign me in\ny\n", env=browser_env(opened))
    assert result.status == 0, result.stderr
    assert got[-1]["response"] == {"output": {"result": "accept"}}
    deadline = time.monotonic() + WAIT
    while not (opened.exists() and opened.read_text()):
        assert time.monotonic() < deadline, "$BROWSER was not run"
        time.sleep(0.05)
    assert opened.read_text().splitlines() == ["https://example.com/sign-in?x=1"]


def test_a_form_at_the_interactive_input_line(live, term, clean_env: Path) -> None:  # noqa: F811
    people_config(clean_env)
    marker = clean_env / "marks.txt"
    got: list[dict[str, Any]] = []
    live(one_call({"id": "b", "name": "people__book", "args": {"marker": str(marker)}}, got))
    t = term(*TEXT_ONLY, "--model", "gemini-3.8-live")
    t.expect("ready")
    t.line("book a table")
    t.expect("Name — Who the table is for")
    t.expect(r"\(required\) ›")
    t.line("Grace")
    t.expect(r"\(Enter: 2\) ›")
    t.line("")
    t.expect(r"\(Enter: no\) ›")
    t.line("y")
    t.expect("done")
    t.type("\x04")
    assert t.wait_exit() == 0
    assert marker.read_text() == 'accept {"guests": 2, "name": "Grace", "window": true}\n'


# ---- 2026-07-28 servers: input_required ---------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(("answers", "said"), [(["Ada"], 'accept: {"name": "Ada"}'), (["decline"], "decline: null")])
async def test_a_2026_server_asking_through_input_required_gets_the_persons_answer(answers: list[str | None], said: str) -> None:
    questions = Questions(Console(io.StringIO(), io.StringIO()), timeout=WAIT)
    person = Person(questions, answers)
    server = McpServer(McpServerConfig(name="people", command="in-process"), transport=modern_only(build_server("people")))
    server.elicit = Elicitation(questions, "people")
    async with anyio.create_task_group() as tg:
        with anyio.fail_after(60):
            await tg.start(server.run)
        assert server.protocol_version == "2026-07-28"
        tg.start_soon(person.run)
        with anyio.fail_after(WAIT):
            result = await server.call("ask_name", {})
        tg.cancel_scope.cancel()
    assert result == {"output": {"result": said}}
    assert person.asked == ["Your name (required)"]


def test_on_38_a_2026_stdio_server_asks_through_input_required_and_stdin_answers(live, clean_env: Path) -> None:
    command, args = stdio_command("people", "--modern-only")
    (clean_env / "gemini-live.toml").write_text(f"[mcp_servers.people]\ncommand = {json.dumps(command)}\nargs = {json.dumps(args)}\n")
    got: list[dict[str, Any]] = []
    live(one_call({"id": "n", "name": "people__ask_name", "args": {}}, got))
    result = run_agent(*TEXT_ONLY, "--model", "gemini-3.8-live", input="who am I?\nGrace\n")
    assert result.status == 0, result.stderr
    assert got[-1]["response"] == {"output": {"result": 'accept: {"name": "Grace"}'}}
    assert "Who is asking?" in result.stderr
