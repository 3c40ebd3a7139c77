"""Example local tools for gemini-live: load with `--import-functions config/function_examples.py`.

Every public function defined here becomes a tool. Its docstring is the description the model
reads, its type hints become the argument schema, and what it returns is sent back as the result.
Helpers whose names start with `_` stay private. Everything here works offline.
"""

from __future__ import annotations

import ast
import math
import operator
import random
import re
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones


def current_time(timezone: str = "UTC") -> dict[str, str]:
    """Get the current date and time in a time zone.

    Args:
        timezone: An IANA time zone name such as "Europe/Paris", "America/New_York" or "UTC".
    """
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        matches = sorted(z for z in available_timezones() if timezone.lower().replace(" ", "_") in z.lower())
        hint = f" Did you mean one of: {', '.join(matches[:5])}?" if matches else ""
        raise ValueError(f"unknown time zone {timezone!r}.{hint}") from None
    now = datetime.now(zone)
    return {
        "timezone": timezone,
        "datetime": now.isoformat(timespec="seconds"),
        "weekday": now.strftime("%A"),
        "utc_offset": now.strftime("%z"),
    }


def days_between(start: str, end: str) -> int:
    """Count the days from one date to another (negative when `end` is earlier).

    Args:
        start: A date as YYYY-MM-DD, or "today".
        end: A date as YYYY-MM-DD, or "today".
    """
    return (_parse_date(end) - _parse_date(start)).days


# factor to the base unit of each dimension (metre, kilogram, litre, metre per second)
_UNITS: dict[str, tuple[str, float]] = {
    "mm": ("length", 0.001), "cm": ("length", 0.01), "m": ("length", 1.0), "km": ("length", 1000.0),
    "in": ("length", 0.0254), "ft": ("length", 0.3048), "yd": ("length", 0.9144), "mi": ("length", 1609.344),
    "nmi": ("length", 1852.0),
    "mg": ("mass", 1e-6), "g": ("mass", 0.001), "kg": ("mass", 1.0), "t": ("mass", 1000.0),
    "oz": ("mass", 0.028349523125), "lb": ("mass", 0.45359237), "st": ("mass", 6.35029318),
    "ml": ("volume", 0.001), "l": ("volume", 1.0), "tsp": ("volume", 0.00492892159375),
    "tbsp": ("volume", 0.01478676478125), "cup": ("volume", 0.2365882365), "pt": ("volume", 0.473176473),
    "gal": ("volume", 3.785411784),
    "m/s": ("speed", 1.0), "km/h": ("speed", 1 / 3.6), "mph": ("speed", 0.44704), "kn": ("speed", 1852 / 3600),
}
_TEMPERATURES = ("c", "f", "k")


def convert_units(value: float, from_unit: str, to_unit: str) -> float:
    """Convert a quantity between units of length, mass, volume, speed or temperature.

    Units: mm cm m km in ft yd mi nmi | mg g kg t oz lb st | ml l tsp tbsp cup pt gal (US) |
    m/s km/h mph kn | C F K.

    Args:
        value: The quantity to convert.
        from_unit: The unit it is in, e.g. "km".
        to_unit: The unit wanted, e.g. "mi".
    """
    src, dst = from_unit.strip().lower(), to_unit.strip().lower()
    if src in _TEMPERATURES and dst in _TEMPERATURES:
        kelvin = {"c": value + 273.15, "f": (value - 32) * 5 / 9 + 273.15, "k": value}[src]
        result = {"c": kelvin - 273.15, "f": (kelvin - 273.15) * 9 / 5 + 32, "k": kelvin}[dst]
        return round(result, 6)
    if src not in _UNITS or dst not in _UNITS:
        unknown = src if src not in _UNITS else dst
        raise ValueError(f"unknown unit {unknown!r}; known: {', '.join(_UNITS)}, C, F, K")
    (src_dim, src_factor), (dst_dim, dst_factor) = _UNITS[src], _UNITS[dst]
    if src_dim != dst_dim:
        raise ValueError(f"cannot convert {src_dim} ({from_unit}) to {dst_dim} ({to_unit})")
    return round(value * src_factor / dst_factor, 9)


_DICE = re.compile(r"^\s*(\d*)\s*d\s*(\d+)\s*(?:([+-])\s*(\d+))?\s*$", re.I)


def roll_dice(notation: str = "1d6") -> dict[str, object]:
    """Roll dice written in standard notation, such as "1d6", "2d20" or "3d6+2".

    Args:
        notation: NdS[+M]: N dice with S sides each, plus an optional modifier M.
    """
    m = _DICE.match(notation)
    if not m:
        raise ValueError(f"not dice notation: {notation!r} (try '2d6' or '1d20+3')")
    count, sides = int(m.group(1) or 1), int(m.group(2))
    if not 1 <= count <= 100 or not 2 <= sides <= 1000:
        raise ValueError("use 1 to 100 dice with 2 to 1000 sides")
    modifier = int(m.group(4) or 0) * (-1 if m.group(3) == "-" else 1)
    rolls = [random.randint(1, sides) for _ in range(count)]
    return {"rolls": rolls, "modifier": modifier, "total": sum(rolls) + modifier}


def random_choice(options: list[str], count: int = 1, unique: bool = True) -> list[str]:
    """Pick at random from a list of options, e.g. to decide where to eat.

    Args:
        options: The options to choose from.
        count: How many to pick.
        unique: Whether an option may be picked only once.
    """
    if not options:
        raise ValueError("give at least one option")
    if unique:
        return random.sample(options, min(count, len(options)))
    return random.choices(options, k=count)


_BINARY = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCTIONS = {
    "sqrt": math.sqrt, "sin": math.sin, "cos": math.cos, "tan": math.tan, "asin": math.asin,
    "acos": math.acos, "atan": math.atan, "log": math.log, "log10": math.log10, "log2": math.log2,
    "exp": math.exp, "abs": abs, "round": round, "floor": math.floor, "ceil": math.ceil,
    "radians": math.radians, "degrees": math.degrees, "factorial": math.factorial,
}
_CONSTANTS = {"pi": math.pi, "e": math.e, "tau": math.tau}


def calculate(expression: str, angle_unit: Literal["radians", "degrees"] = "radians") -> float:
    """Evaluate an arithmetic expression exactly as written, e.g. "2 * (3 + 4) ** 2 / 7".

    Supports + - * / // % ** (or ^), parentheses, pi, e, tau and the functions sqrt, sin, cos,
    tan, asin, acos, atan, log (natural, or log(x, base)), log10, log2, exp, abs, round, floor,
    ceil, radians, degrees, factorial.

    Args:
        expression: The expression to evaluate.
        angle_unit: The unit sin, cos and tan take their argument in.
    """
    try:
        tree = ast.parse(expression.replace("^", "**").replace("×", "*").replace("÷", "/"), mode="eval")
    except SyntaxError:
        raise ValueError(f"not an arithmetic expression: {expression!r}") from None
    result = _evaluate(tree.body, angle_unit)
    return int(result) if isinstance(result, float) and result.is_integer() and abs(result) < 2**53 else result


def _evaluate(node: ast.AST, angle_unit: str) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand, angle_unit))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left, angle_unit), _evaluate(node.right, angle_unit)
        if isinstance(node.op, ast.Pow) and (abs(right) > 1000 or abs(left) > 1e100):
            raise ValueError("exponent too large")
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS:
        if node.keywords or not 1 <= len(node.args) <= 2:
            raise ValueError(f"{node.func.id}() takes one or two plain arguments")
        args = [_evaluate(a, angle_unit) for a in node.args]
        if node.func.id in ("sin", "cos", "tan") and angle_unit == "degrees":
            args[0] = math.radians(args[0])
        if node.func.id == "factorial" and not 0 <= args[0] <= 1000:
            raise ValueError("factorial() takes 0 to 1000")
        value = _FUNCTIONS[node.func.id](*args)
        if node.func.id in ("asin", "acos", "atan") and angle_unit == "degrees":
            value = math.degrees(value)
        return value
    raise ValueError(f"unsupported in a calculation: {ast.unparse(node)!r}")


def _parse_date(text: str) -> date:
    if text.strip().lower() == "today":
        return date.today()
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"not a date: {text!r} (use YYYY-MM-DD)") from None
