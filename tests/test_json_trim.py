"""JsonTrimmer: valid JSON in, valid (trimmed) JSON out, whatever the pieces and the limits."""

from __future__ import annotations

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.tools.json_trim import JsonTrimmer, cut_size, trim_json

SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=40,
)


def fed_in_pieces(text: bytes, cuts: list[int], **limits: int) -> bytes:
    trimmer = JsonTrimmer(**limits)
    start = 0
    for cut in sorted(c % (len(text) + 1) for c in cuts):
        trimmer.feed(text[start:cut])
        start = cut
    trimmer.feed(text[start:])
    return trimmer.result()


@settings(max_examples=300, deadline=None)
@given(VALUES, st.lists(st.integers(min_value=0), max_size=6), st.booleans())
def test_within_the_limits_the_text_is_unchanged(value: object, cuts: list[int], ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert fed_in_pieces(text, cuts) == text


@settings(max_examples=300, deadline=None)
@given(VALUES, st.lists(st.integers(min_value=0), max_size=6), st.booleans(),
       st.integers(0, 12), st.integers(1, 4), st.integers(0, 200))
def test_any_limits_give_valid_json(value: object, cuts: list[int], ascii_only: bool,
                                    max_string: int, max_depth: int, max_kept: int) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only).encode()
    out = fed_in_pieces(text, cuts, max_string=max_string, max_depth=max_depth, max_kept=max_kept)
    json.loads(out)  # raises if the trimmer broke the syntax


def test_a_long_string_keeps_its_start_and_says_how_long_it_was() -> None:
    text = json.dumps({"content": [{"type": "text", "text": "é" * 1000}]}).encode()
    out = json.loads(trim_json(text, max_string=100))
    kept = out["content"][0]["text"]
    assert kept.startswith("é" * 16 + "…")  # 16 escapes of 6 bytes: each kept whole
    assert cut_size(kept) == len(json.dumps("é" * 1000)) - 2
    assert cut_size("a normal string") is None


def test_multibyte_characters_and_surrogate_pairs_are_never_split() -> None:
    for max_string in range(0, 30):
        for s in ("aé€😀" * 10, "😀" * 10):
            for ascii_only in (True, False):
                text = json.dumps(s, ensure_ascii=ascii_only).encode()
                kept = json.loads(trim_json(text, max_string=max_string))
                body = kept.split("…")[0]
                assert s.startswith(body), (max_string, ascii_only, body)
                body.encode("utf-8")  # no lone surrogate


def test_deep_nesting_is_cut_with_a_note_without_recursion() -> None:
    depth = 100_000
    text = ('{"a":' * depth + "1" + "}" * depth).encode()
    out = json.loads(trim_json(text, max_depth=50))
    level = 0
    while isinstance(out, dict):
        out, level = out["a"], level + 1
    assert level == 50 and "nested deeper" in out


def test_a_spent_budget_summarises_the_rest_of_each_container() -> None:
    value = {"id": 7, "result": {"items": list(range(100_000)), "more": "x" * 10}}
    out = json.loads(trim_json(json.dumps(value), max_kept=1000))
    assert out["id"] == 7
    items = out["result"]["items"]
    assert len(items) < 400 and items[-1] == "[cut: too large]"
    assert out["result"]["\u2026"] == "[cut: too large]"


def test_numbers_literals_and_escapes_pass_through() -> None:
    value = {"n": [1, -2.5e-300, 1e308, True, False, None], "s": 'quote " back \\ tab \t nl \n \u0001 \u2028'}
    text = json.dumps(value).encode()
    assert json.loads(trim_json(text)) == value
    nan = b'{"x": NaN, "y": -Infinity}'
    assert math.isnan(json.loads(trim_json(nan))["x"])


def test_a_character_split_between_pieces_is_not_kept_in_part() -> None:
    """The cut falls right after the first byte of a two-byte character that arrives in two pieces."""
    trimmer = JsonTrimmer(max_string=1)
    trimmer.feed(b'["\xc2')  # the first byte of U+0080 ...
    trimmer.feed(b'\x80"]')  # ... and the second
    assert json.loads(trimmer.result()) == ["… [cut: 2 bytes in all]"]
