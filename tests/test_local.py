"""Local Python modules as tools: loading by path, schemas, calls, results and errors."""

from __future__ import annotations

import json
import textwrap
import threading
from pathlib import Path

import anyio
import pytest

from agent.errors import ConfigError
from agent.tools.local import load_module_tools, to_jsonable

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "config" / "function_examples.py"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(source))
    return path


MODULE = '''
    """A module of tools."""
    import asyncio
    import dataclasses
    import datetime
    import enum
    import threading
    from os.path import join  # an imported function: not a tool

    import pydantic
    from helper import shared_helper  # a sibling module, importable while loading

    class Colour(enum.Enum):
        RED = "red"

    @dataclasses.dataclass
    class Point:
        x: int
        y: int

    class Model(pydantic.BaseModel):
        name: str
        when: datetime.date

    def greet(name: str, excited: bool = False) -> str:
        """Greet someone by name.

        Says hello, politely.

        Args:
            name: Who to greet.
            excited: Add an exclamation mark.
        """
        return f"hello {name}{'!' if excited else ''}"

    async def double(n: int) -> int:
        """Double a number, asynchronously."""
        await asyncio.sleep(0)
        return n * 2

    def thread_name() -> str:
        """Which thread runs this."""
        return threading.current_thread().name

    def point(x: int, y: int) -> Point:
        """Make a point."""
        return Point(x, y)

    def everything() -> dict:
        """Return values of many types."""
        return {
            "model": Model(name="m", when=datetime.date(2024, 5, 1)),
            "set": {3, 1, 2},
            "bytes": b"\\x00" * 10,
            "colour": Colour.RED,
            "tuple": (1, 2),
            "nan": float("nan"),
            "obj": object(),
        }

    def fails(message: str) -> None:
        """Always raises."""
        raise ValueError(message)

    def uses_sibling() -> str:
        """Calls into the sibling module."""
        return shared_helper()

    def take_point(p: Point, when: datetime.date) -> str:
        """Arguments arrive as JSON and are coerced to the hints."""
        return f"{p.x},{p.y} on {when.isoformat()}"

    def _private() -> None:
        """Not a tool."""

    class NotATool:
        pass
'''


@pytest.fixture
def module_path(tmp_path: Path) -> Path:
    write(tmp_path, "helper.py", "def shared_helper():\n    return 'from the sibling'\n")
    return write(tmp_path, "my_tools.py", MODULE)


def test_public_functions_defined_in_the_module_become_tools(module_path: Path) -> None:
    source, tools, _ = load_module_tools(str(module_path))
    assert source == "my_tools"
    assert [t.name for t in tools] == [
        "greet", "double", "thread_name", "point", "everything", "fails", "uses_sibling", "take_point",
    ]
    greet = tools[0]
    assert greet.source == "my_tools"
    assert greet.description == "Greet someone by name.\n\nSays hello, politely."
    assert greet.input_schema["type"] == "object"
    assert greet.input_schema["required"] == ["name"]
    assert greet.input_schema["properties"]["name"]["type"] == "string"
    assert greet.input_schema["properties"]["name"]["description"] == "Who to greet."
    assert greet.input_schema["properties"]["excited"]["default"] is False


def test_the_folder_is_on_sys_path_only_while_importing(module_path: Path) -> None:
    import sys

    load_module_tools(str(module_path))
    assert str(module_path.parent) not in sys.path


@pytest.mark.anyio
async def test_calls_sync_in_a_thread_async_on_the_loop(module_path: Path) -> None:
    _, _, backend = load_module_tools(str(module_path))
    assert await backend.call("greet", {"name": "Ada", "excited": True}) == {"output": "hello Ada!"}
    assert await backend.call("double", {"n": 21}) == {"output": 42}
    thread = (await backend.call("thread_name", {}))["output"]
    assert thread != threading.current_thread().name
    assert await backend.call("uses_sibling", {}) == {"output": "from the sibling"}


@pytest.mark.anyio
async def test_results_are_made_json_able(module_path: Path) -> None:
    _, _, backend = load_module_tools(str(module_path))
    assert await backend.call("point", {"x": 1, "y": 2}) == {"output": {"x": 1, "y": 2}}
    result = await backend.call("everything", {})
    json.dumps(result, allow_nan=False)
    out = result["output"]
    assert out["model"] == {"name": "m", "when": "2024-05-01"}
    assert out["set"] == [1, 2, 3]
    assert out["bytes"] == {"type": "bytes", "bytes": 10}
    assert out["colour"] == "red"
    assert out["tuple"] == [1, 2]
    assert out["nan"] == "nan"
    assert isinstance(out["obj"], str)


@pytest.mark.anyio
async def test_arguments_are_coerced_to_the_type_hints(module_path: Path) -> None:
    _, _, backend = load_module_tools(str(module_path))
    result = await backend.call("take_point", {"p": {"x": 3, "y": "4"}, "when": "2024-01-02"})
    assert result == {"output": "3,4 on 2024-01-02"}
    bad = await backend.call("double", {"n": "not a number"})
    assert bad["error"].startswith("ValidationError: n:")


@pytest.mark.anyio
async def test_failures_become_error_results(module_path: Path) -> None:
    _, _, backend = load_module_tools(str(module_path))
    assert await backend.call("fails", {"message": "no luck"}) == {"error": "ValueError: no luck"}
    missing = await backend.call("greet", {})
    assert missing["error"].startswith("TypeError:") and "name" in missing["error"]
    extra = await backend.call("greet", {"name": "x", "colour": "blue"})
    assert extra["error"].startswith("TypeError:")
    assert (await backend.call("nope", {}))["error"].startswith("KeyError:")


@pytest.mark.anyio
async def test_cancelling_a_sync_call_returns_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "blocking.py", '''
        import threading
        release = threading.Event()
        entered = threading.Event()

        def block() -> str:
            """Block until released."""
            entered.set()
            release.wait(30)
            return "released"
    ''')
    _, _, backend = load_module_tools(str(path))
    module = backend.functions["block"].__globals__
    try:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(backend.call, "block", {})
                await anyio.to_thread.run_sync(module["entered"].wait, 10)
                tg.cancel_scope.cancel()
    finally:
        module["release"].set()


def test_all_limits_the_functions(tmp_path: Path) -> None:
    path = write(tmp_path, "limited.py", '''
        __all__ = ["kept"]
        def kept() -> int:
            """Kept."""
            return 1
        def dropped() -> int:
            """Not in __all__."""
            return 2
    ''')
    assert [t.name for t in load_module_tools(str(path))[1]] == ["kept"]


def test_same_file_name_in_two_folders_are_two_modules(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = write(tmp_path / "a", "tools.py", "def one() -> int:\n    return 1\n")
    second = write(tmp_path / "b", "tools.py", "def two() -> int:\n    return 2\n")
    assert [t.name for t in load_module_tools(str(first))[1]] == ["one"]
    assert [t.name for t in load_module_tools(str(second))[1]] == ["two"]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (None, "not found"),
        ("def broken(:\n    pass\n", "syntax error at line 1"),
        ("import no_such_module_anywhere\n", "ModuleNotFoundError"),
        ("raise RuntimeError('bad at import')\n", "RuntimeError: bad at import"),
        ("import sys\nsys.exit(3)\n", "SystemExit"),
    ],
)
def test_load_errors_are_config_errors_naming_the_file(tmp_path: Path, source: str | None, expected: str) -> None:
    path = tmp_path / "bad_tools.py"
    if source is not None:
        path.write_text(source)
    with pytest.raises(ConfigError) as caught:
        load_module_tools(str(path))
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)


def test_to_jsonable_leaves_plain_values_alone() -> None:
    value = {"a": [1, 2.5, "x", None, True], "b": {"c": {}}}
    assert to_jsonable(value) == value


# ---- the shipped example module ------------------------------------------------------------


def test_example_module_loads_with_documented_tools() -> None:
    source, tools, _ = load_module_tools(str(EXAMPLES))
    assert source == "function_examples"
    names = [t.name for t in tools]
    assert names == ["current_time", "days_between", "convert_units", "roll_dice", "random_choice", "calculate"]
    for tool in tools:
        assert tool.description and tool.input_schema["type"] == "object"
        for prop in tool.input_schema["properties"].values():
            assert prop.get("description"), f"{tool.name}: undocumented argument"


@pytest.mark.anyio
async def test_example_functions_work() -> None:
    _, _, backend = load_module_tools(str(EXAMPLES))
    now = (await backend.call("current_time", {"timezone": "Asia/Tokyo"}))["output"]
    assert now["timezone"] == "Asia/Tokyo" and now["utc_offset"] == "+0900"
    assert "Europe/Paris" in (await backend.call("current_time", {"timezone": "paris"}))["error"]
    assert await backend.call("days_between", {"start": "2024-01-01", "end": "2024-03-01"}) == {"output": 60}
    assert await backend.call("convert_units", {"value": 100, "from_unit": "C", "to_unit": "F"}) == {"output": 212}
    assert await backend.call("convert_units", {"value": 1, "from_unit": "mi", "to_unit": "km"}) == {"output": 1.609344}
    assert "cannot convert" in (await backend.call("convert_units", {"value": 1, "from_unit": "kg", "to_unit": "m"}))["error"]
    dice = (await backend.call("roll_dice", {"notation": "3d6+2"}))["output"]
    assert len(dice["rolls"]) == 3 and dice["total"] == sum(dice["rolls"]) + 2 and 5 <= dice["total"] <= 20
    picked = (await backend.call("random_choice", {"options": ["a", "b", "c"], "count": 2}))["output"]
    assert len(set(picked)) == 2 and set(picked) <= {"a", "b", "c"}
    assert await backend.call("calculate", {"expression": "2 * (3 + 4) ** 2 / 7"}) == {"output": 14}
    assert await backend.call("calculate", {"expression": "sqrt(2)^2"}) == {"output": pytest.approx(2)}
    assert await backend.call("calculate", {"expression": "sin(30)", "angle_unit": "degrees"}) == {
        "output": pytest.approx(0.5)
    }
    for unsafe in ("__import__('os').system('true')", "().__class__", "open('x')", "9 ** 9 ** 9", "lambda: 1"):
        assert (await backend.call("calculate", {"expression": unsafe}))["error"].startswith("ValueError")
    assert (await backend.call("calculate", {"expression": "1/0"}))["error"].startswith("ZeroDivisionError")
