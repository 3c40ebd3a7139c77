"""How much of one tool's schema the compiler declares: a hostile or careless server's schema
(a 2 MB description, a 100,000-value enum, thousands of properties) must not become a setup
message of megabytes. What goes over a limit is cut and reported as a loss."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Per-declaration bounds; `budget` counts the characters of descriptions, enums and names."""

    description: int = 500  # characters per node's description or title
    enum_values: int = 256  # more than this: a plain value, with examples in its description
    enum_chars: int = 8_000  # all of one enum's values together
    properties: int = 100  # per object; required ones are kept first
    pattern: int = 1_000  # characters of one regex pattern
    default_chars: int = 200  # a longer string default/example is not declared
    budget: int = 40_000  # over it, the schema is compiled again with TIGHT


DEFAULT = Limits()
TIGHT = Limits(description=100, enum_values=32, enum_chars=1_000, properties=32, pattern=200, default_chars=50, budget=40_000)
TIGHT_DEPTH = 4
TIGHT_NODES = 200
