"""Make text from a tool server safe to print: no terminal escape sequences, no control characters.

Tool names, descriptions, stderr lines and error messages come from servers we do not control; a
raw ESC sequence in one can clear the screen, retitle the window or hide what follows, and a
carriage return or bidi override can make a line read differently from what it says.
"""

from __future__ import annotations

import re

# ESC sequences whole (CSI, OSC up to BEL/ST, DCS/PM/APC up to ST, two-byte ones), so their
# parameters do not stay behind as "[31m"; then every other C0/C1 control, DEL and bidi control.
_SEQUENCES = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]?|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[PX^_][^\x1b]*(?:\x1b\\)?|.?)|\x9b[0-?]*[ -/]*[@-~]?",
    re.S,
)
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile("[\t\n\u2028\u2029]")
# Zero-width spaces and joiners: kept in prose (emoji sequences need the joiner), but in a name or
# a one-line message from a server they only hide or spoof characters.
_INVISIBLE = re.compile("[\u200b-\u200d]")


def printable(text: str, *, one_line: bool = False) -> str:
    """`text` without escape sequences and control characters (newlines and tabs kept unless `one_line`)."""
    if text.isprintable() and not one_line:  # the common case: nothing to strip
        return text
    text = _CONTROLS.sub("", _SEQUENCES.sub("", text))
    return _LINE_BREAKS.sub(" ", _INVISIBLE.sub("", text)) if one_line else text
