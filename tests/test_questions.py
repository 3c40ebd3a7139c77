"""A person in the loop (issue 10, item 4): one question at a time, answered by the next line;
confirmation before destructive tools, declined calls that never reach the server, --yes."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from agent.console import Console
from agent.events import FunctionCall, FunctionResult
from agent.questions import Confirmations, Questions
from agent.tools.base import DiscoveredTool
from agent.tools.catalog import ToolSource, build_catalog
from agent.tools.policy import ToolPolicy
from agent.tools.router import Router
from tests.conftest import TEXT_ONLY, run_agent
from tests.fakes.live_server import FakeConnection
from tests.fakes.mcp_servers import stdio_command
from tests.test_terminal import term as term  # the pty fixture

WAIT = 30


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def quiet_console() -> Console:
    return Console(io.StringIO(), io.StringIO())


async def asked(questions: Questions) -> str:
    with anyio.fail_after(WAIT):
        await questions.wait_asked()
    assert questions.pending is not None
    return questions.pending.text


@pytest.mark.anyio
async def test_the_next_line_answers_one_question_at_a_time() -> None:
    questions = Questions(quiet_console(), timeout=WAIT)
    assert not questions.answer("not a question")  # nothing waits: a user turn
    got: dict[str, str | None] = {}
    async with anyio.create_task_group() as tg:

        async def ask(key: str) -> None:
            got[key] = await questions.ask(f"question {key}", "[y/N]")

        tg.start_soon(ask, "a")
        first = await asked(questions)
        tg.start_soon(ask, "b")  # waits for the first to be answered
        await anyio.sleep(0.05)
        assert questions.pending is not None and questions.pending.text == first
        assert questions.answer(" yes ")
        second = await asked(questions)
        assert second != first
        assert questions.answer("")
    assert got == {first[-1]: "yes", second[-1]: ""}


@pytest.mark.anyio
async def test_unanswered_questions_get_none_and_a_closed_stdin_answers_at_once() -> None:
    questions = Questions(quiet_console(), timeout=0.05)
    assert await questions.ask("anyone?") is None
    assert "no answer within 0.05 s" in questions.why_unanswered()
    questions = Questions(quiet_console(), timeout=WAIT)
    async with anyio.create_task_group() as tg:
        result: list[str | None] = []

        async def ask() -> None:
            result.append(await questions.ask("still there?"))

        tg.start_soon(ask)
        await asked(questions)
        questions.close()
    assert result == [None] and "stdin is closed" in questions.why_unanswered()
    with anyio.fail_after(WAIT):
        assert await questions.ask("after the close") is None


@pytest.mark.anyio
async def test_a_question_names_the_tool_and_its_arguments_without_terminal_escapes() -> None:
    err = io.StringIO()
    questions = Questions(Console(io.StringIO(), err), timeout=WAIT)
    confirm = Confirmations(questions)
    async with anyio.create_task_group() as tg:
        verdict: list[str | None] = []

        async def run() -> None:
            verdict.append(await confirm("notes__delete", "delete", "notes", {"title": "x\x1b[2Jy"}))

        tg.start_soon(run)
        text = await asked(questions)
        questions.answer("n")
    assert "notes__delete" in text and '"title": "x' in text  # JSON escapes the escape: shown, never acted on
    assert "\x1b" not in text and "\x1b" not in err.getvalue()
    assert verdict[0] is not None and "declined" in verdict[0]


class Backend:
    def __init__(self) -> None:
        self.calls: list[str] = []

    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(tool)
        return {"output": "done"}


class Confirming:
    """A router over one tool that asks first (through `questions`, or with nobody to ask)."""

    def __init__(self, questions: Questions | None) -> None:
        self.backend = Backend()
        self.got: list[FunctionResult] = []
        source = ToolSource("t", [DiscoveredTool("t", "wipe")], self.backend, prefix="", policy=lambda tool: ToolPolicy(confirm=True))
        confirm = Confirmations(questions) if questions is not None else None
        self.router = Router(build_catalog([source]), respond=self.respond, confirm=confirm)

    async def respond(self, batch: list[FunctionResult]) -> None:
        self.got.extend(batch)

    async def call(self, then: Any = None) -> None:
        """Submit one call, do `then()` (answer or cancel) and wait until the router is idle."""
        async with anyio.create_task_group() as tg:
            await tg.start(self.router.run)
            self.router.submit([FunctionCall("w", "wipe", {})])
            if then is not None:
                await then()
            with anyio.fail_after(WAIT):
                await self.router.idle()
            tg.cancel_scope.cancel()


@pytest.mark.anyio
@pytest.mark.parametrize(("answer", "ran"), [("y", True), ("YES", True), ("n", False), ("maybe", False), (None, False)])
async def test_the_router_asks_first_and_a_declined_call_never_reaches_the_tool(answer: str | None, ran: bool) -> None:
    questions = Questions(quiet_console(), timeout=WAIT)
    confirming = Confirming(questions)

    async def reply() -> None:
        await asked(questions)
        if answer is None:
            questions.close()
        else:
            questions.answer(answer)

    await confirming.call(reply)
    got = confirming.got
    assert confirming.backend.calls == (["wipe"] if ran else [])
    if ran:
        assert got[0].response == {"output": "done"}
    else:
        assert got[0].response["status"] == "declined" and got[0].response["retryable"] is False


@pytest.mark.anyio
async def test_a_call_cancelled_while_its_question_waits_withdraws_the_question() -> None:
    questions = Questions(quiet_console(), timeout=WAIT)
    confirming = Confirming(questions)

    async def cancel() -> None:
        await asked(questions)
        confirming.router.cancel(["w"])  # toolCallCancellation, or new input cancelling a BLOCKING call on 3.8

    await confirming.call(cancel)
    assert questions.pending is None and not questions.answer("y")  # the late "y" is a user turn again
    assert confirming.backend.calls == [] and confirming.got == []


@pytest.mark.anyio
async def test_yes_approves_without_asking_and_no_confirmer_declines() -> None:
    questions = Questions(quiet_console(), timeout=WAIT)
    assert await Confirmations(questions, assume_yes=True)("a", "b", "c", {}) is None
    assert questions.pending is None
    confirming = Confirming(None)
    await confirming.call()
    assert confirming.backend.calls == [] and confirming.got[0].response["status"] == "declined"


# ---- the whole agent: a destructive tool of a real MCP server, answered on stdin ------------


def people_config(clean_env: Path) -> None:
    command, args = stdio_command("people")
    (clean_env / "gemini-live.toml").write_text(f"[mcp_servers.people]\ncommand = {json.dumps(command)}\nargs = {json.dumps(args)}\n")


def one_call(call: dict[str, Any], got: list[dict[str, Any]]) -> Any:
    async def model(conn: FakeConnection) -> None:
        await conn.expect_text()
        await conn.send_tool_call(call)
        while not got or got[-1].get("will_continue"):
            got.extend(await conn.expect_tool_response(timeout=WAIT))
        await conn.send_text("done")

    return model


@pytest.mark.parametrize(("answer", "flags", "ran"), [("n", (), False), ("y", (), True), ("", ("--yes",), True)])
def test_a_destructive_call_runs_only_after_yes(live, clean_env: Path, answer: str, flags: tuple[str, ...], ran: bool) -> None:
    people_config(clean_env)
    marker = clean_env / "marks.txt"
    got: list[dict[str, Any]] = []
    live(one_call({"id": "d", "name": "people__delete_note", "args": {"title": "shopping", "marker": str(marker)}}, got))
    lines = "delete my shopping note\n" + (f"{answer}\n" if not flags else "")
    result = run_agent(*TEXT_ONLY, "--model", "gemini-3.8-live", *flags, input=lines)
    assert result.status == 0, result.stderr
    (response,) = [r for r in got if r["id"] == "d"]
    assert response["name"] == "people__delete_note"
    asked_ = "people__delete_note (people: delete_note) wants to run with" in result.stderr
    assert asked_ is not bool(flags)
    if ran:
        assert marker.read_text() == "deleted shopping\n" and "deleted shopping" in json.dumps(response["response"])
    else:
        assert not marker.exists()  # the call never reached the server
        assert response["response"]["status"] == "declined" and response["response"]["retryable"] is False
    assert "done" in result.stdout


def test_with_stdin_closed_a_confirmation_is_declined_at_once(live, clean_env: Path) -> None:
    people_config(clean_env)
    marker = clean_env / "marks.txt"
    got: list[dict[str, Any]] = []
    live(one_call({"id": "d", "name": "people__delete_note", "args": {"title": "x", "marker": str(marker)}}, got))
    result = run_agent(*TEXT_ONLY, "--model", "gemini-3.8-live", "--confirm-timeout", "600", input="delete it\n")
    assert result.status == 0, result.stderr
    assert got[-1]["response"]["status"] == "declined" and "stdin is closed" in got[-1]["response"]["error"]
    assert not marker.exists()


# ---- the interactive input line (a real pty) ------------------------------------------------


def test_at_the_interactive_input_line_the_typed_answer_goes_to_the_question(live, term, clean_env: Path) -> None:  # noqa: F811
    people_config(clean_env)
    marker = clean_env / "marks.txt"
    got: list[dict[str, Any]] = []
    server = live(one_call({"id": "d", "name": "people__delete_note", "args": {"title": "milk", "marker": str(marker)}}, got))
    t = term(*TEXT_ONLY, "--model", "gemini-3.8-live")
    t.expect("ready")
    t.line("delete the milk note")
    t.expect("Run it\\?")
    t.expect(r"\[y/N\] ›")  # the prompt says how to answer
    t.line("y")
    t.expect("done")
    t.type("\x04")
    assert t.wait_exit() == 0
    assert marker.read_text() == "deleted milk\n"
    assert server.connections[0].texts() == ["delete the milk note"]  # the answer was not a user turn
