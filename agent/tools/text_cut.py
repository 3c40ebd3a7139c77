"""Cutting a server's long text (a tool or parameter description) where a reader would: after a
sentence, else after a word, never in the middle of one; the cut is marked so the model knows."""

from __future__ import annotations

import re

# The end of a sentence or a paragraph: ". " "! " "? " (also before a closing quote or bracket),
# a blank line, or a line break before a list item or heading.
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*(?=\s)|\n\s*\n|\n(?=\s*(?:[-*•#]|\d+[.)])\s)")
_WORD_END = re.compile(r"\S(?=\s)")
SENTENCE_FLOOR = 0.5  # cut at a sentence only if that keeps at least half of what fits


def cut_text(text: str, limit: int, marker: str = "…") -> str:
    """`text` (already stripped of control characters) within `limit` characters, `marker` included."""
    if len(text) <= limit:
        return text
    room = limit - len(marker)
    if room <= 0:
        return text[: max(0, limit)]
    head = text[: room + 1]  # one more: a sentence may end exactly at the limit
    end = _last_end(_SENTENCE_END, head, room)
    if end < room * SENTENCE_FLOOR:
        end = max(end, _last_end(_WORD_END, head, room))
    if end <= 0:
        end = room  # one long word: cut it
    return text[:end].rstrip() + marker


def _last_end(pattern: re.Pattern[str], text: str, room: int) -> int:
    """The end of the last match of `pattern` that fits in `room` characters (0 if none)."""
    best = 0
    for m in pattern.finditer(text):
        end = m.end() if m.group().strip() else m.start()  # a blank line ends before itself
        if end <= room:
            best = end
    return best
