"""Trim one JSON text while it streams in: long strings cut, deep nesting cut, total size bounded.

A server's line can be 50 MB of text or nested thousands of levels deep. Parsers choke on both
(quadratic buffering, recursion limits: pydantic's JSON parser gives up at ~250 levels), so such
lines are passed through `JsonTrimmer` first. It works on bytes with regex searches (C speed), in
one pass and in bounded memory, and always writes valid JSON when it is fed valid JSON:

- a string longer than `max_string` bytes keeps its start plus a note giving its full size;
- a value nested deeper than `max_depth` becomes a note string;
- once `max_kept` bytes are kept, strings keep at most SMALL_STRING bytes and the rest of every
  open container after its next comma becomes one note.

Invalid JSON comes out as some other invalid JSON: the caller's parser reports it as before.
"""

from __future__ import annotations

import re

MAX_STRING = 256 * 1024  # bytes kept per string: far more than a tool result may show the model
MAX_DEPTH = 128  # containers; results and schemas are cut much shallower later, with notes
MAX_KEPT = 8 * 1024 * 1024  # bytes kept per line before the rest is summarised
SMALL_STRING = 1024  # per string once MAX_KEPT/2 is spent

CUT_MARK = "… [cut: {size} bytes in all]"
_CUT_RE = re.compile(r"… \[cut: (\d+) bytes in all\]\Z")
DEEP_NOTE = f'"[nested deeper than {MAX_DEPTH} levels; cut]"'.encode()
REST_NOTE = b'"[cut: too large]"'

_NORMAL_RE = re.compile(rb'["{}\[\],]')  # outside strings: what changes the structure
_SKIP_RE = re.compile(rb'["{}\[\]]')
_STRING_RE = re.compile(rb'["\\]')
_NORMAL, _SKIPPING, _STRING, _SKIP_STRING = range(4)
_QUOTE, _BACKSLASH, _BRACKET = ord('"'), ord("\\"), ord("[")
_OPEN, _CLOSE = (ord("{"), ord("[")), (ord("}"), ord("]"))
_HIGH_SURROGATES = (b"d8", b"d9", b"da", b"db")


def cut_size(text: str) -> int | None:
    """The original size in bytes of a string the trimmer cut, else None."""
    if not text.endswith("]"):
        return None
    match = _CUT_RE.search(text[-64:])
    return int(match.group(1)) if match else None


def trim_json(data: bytes | str, **limits: int) -> bytes:
    """One whole JSON text, trimmed (see the module docstring)."""
    trimmer = JsonTrimmer(**limits)
    trimmer.feed(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
    return trimmer.result()


class JsonTrimmer:
    """Feed a JSON text's bytes in pieces; `result()` is the trimmed JSON text."""

    def __init__(self, max_string: int = MAX_STRING, max_depth: int = MAX_DEPTH, max_kept: int = MAX_KEPT) -> None:
        self.max_string, self.max_depth, self.max_kept = max_string, max_depth, max_kept
        self.cut = False  # whether anything was left out
        self._out: list[bytes] = []
        self._kept = 0
        self._stack: list[int] = []  # ord("{") / ord("[") of the open containers
        self._mode = _NORMAL
        self._skip_depth = 0  # containers open inside what is being skipped
        self._room = 0  # bytes the current string may still keep
        self._size = 0  # bytes the current string had so far
        self._string_cut = False
        self._carry = b""  # an escape sequence split between two pieces
        self._escape = False  # skipping: the previous piece ended in a backslash

    def feed(self, data: bytes) -> None:
        """Take the next piece of the text."""
        if self._carry:
            data, self._carry = self._carry + data, b""  # at most 11 bytes carried: no quadratic cost
        i, n = 0, len(data)
        while i < n:
            if self._mode == _NORMAL:
                i = self._normal(data, i)
            elif self._mode == _STRING:
                i = self._string(data, i)
            else:
                i = self._skip(data, i)

    def result(self) -> bytes:
        """The trimmed text so far (all of it once the whole text was fed)."""
        return b"".join(self._out)

    # ---- outside strings ----------------------------------------------------------------

    def _emit(self, data: bytes) -> None:
        self._out.append(data)
        self._kept += len(data)

    def _normal(self, data: bytes, i: int) -> int:
        m = _NORMAL_RE.search(data, i)
        if m is None:
            self._emit(data[i:])  # numbers, literals, whitespace
            return len(data)
        j = m.start()
        if j > i:
            self._emit(data[i:j])
        c = data[j]
        if c == _QUOTE:
            self._emit(b'"')
            self._mode, self._size, self._string_cut = _STRING, 0, False
            self._room = self.max_string if self._kept < self.max_kept // 2 else SMALL_STRING
        elif c in _OPEN:
            if len(self._stack) >= self.max_depth:
                self._start_skip(DEEP_NOTE)  # the whole value becomes the note
            else:
                self._stack.append(c)
                self._emit(data[j : j + 1])
        elif c in _CLOSE:
            if self._stack:
                self._stack.pop()
            self._emit(data[j : j + 1])
        elif self._kept >= self.max_kept and self._stack:  # a comma, with the budget spent
            opener = self._stack.pop()
            if opener == _BRACKET:
                self._start_skip(b"," + REST_NOTE + b"]")
            else:
                self._start_skip(b',"\\u2026":' + REST_NOTE + b"}")
        else:
            self._emit(b",")
        return j + 1

    # ---- strings ------------------------------------------------------------------------

    def _string(self, data: bytes, i: int) -> int:
        m = _STRING_RE.search(data, i)
        j = len(data) if m is None else m.start()
        if j > i:
            self._keep(data, i, j)
        if m is None:
            return j
        if data[j] == _QUOTE:  # the closing quote
            if self._string_cut:
                self._emit(CUT_MARK.format(size=self._size).encode())
            self._emit(b'"')
            self._mode = _NORMAL
            return j + 1
        # an escape (\n, \", \uXXXX) is kept whole or not at all; a surrogate pair likewise
        length = 6 if data[j + 1 : j + 2] == b"u" else 2
        pair = length == 6 and data[j + 2 : j + 4].lower() in _HIGH_SURROGATES
        need = 12 if pair else length
        if j + need > len(data):
            self._carry = data[j:]
            return len(data)
        self._size += length
        if self._room >= need and not self._string_cut:
            self._room -= length
            self._emit(data[j : j + length])
        else:
            self._room, self._string_cut, self.cut = 0, True, True
        return j + length

    def _keep(self, data: bytes, i: int, j: int) -> None:
        size = j - i
        self._size += size
        if self._string_cut:
            return
        if self._room >= size:
            self._room -= size
            self._emit(data[i:j])
            return
        end = i + self._room
        while end > i and (data[end] & 0xC0) == 0x80:  # not in the middle of a UTF-8 character
            end -= 1
        if end > i:
            self._emit(data[i:end])
        else:
            self._drop_partial_character()
        self._room, self._string_cut, self.cut = 0, True, True

    def _drop_partial_character(self) -> None:
        """A character split between two fed pieces may have been kept in part: drop that part."""
        last = self._out[-1] if self._out else b""
        tail = 0  # continuation bytes at the end
        while tail < min(3, len(last) - 1) and (last[-1 - tail] & 0xC0) == 0x80:
            tail += 1
        lead = last[-1 - tail] if len(last) > tail else 0
        need = 2 if lead & 0xE0 == 0xC0 else 3 if lead & 0xF0 == 0xE0 else 4 if lead & 0xF8 == 0xF0 else 1
        if need > tail + 1:
            self._out[-1] = last[: len(last) - tail - 1]
            self._kept -= tail + 1

    # ---- skipping a value (or the rest of a container) ----------------------------------

    def _start_skip(self, note: bytes) -> None:
        """Write `note` in place of what is left of the innermost container, then skip that."""
        self._emit(note)
        self.cut = True
        self._mode, self._skip_depth = _SKIPPING, 1

    def _skip(self, data: bytes, i: int) -> int:
        n = len(data)
        while i < n:
            if self._mode == _SKIP_STRING:
                if self._escape:
                    self._escape, i = False, i + 1
                    continue
                m = _STRING_RE.search(data, i)
                if m is None:
                    return n
                i = m.end()
                if data[m.start()] == _BACKSLASH:
                    self._escape = True
                else:
                    self._mode = _SKIPPING
                continue
            m = _SKIP_RE.search(data, i)
            if m is None:
                return n
            i = m.end()
            c = data[m.start()]
            if c == _QUOTE:
                self._mode = _SKIP_STRING
            elif c in _OPEN:
                self._skip_depth += 1
            else:
                self._skip_depth -= 1
                if self._skip_depth == 0:
                    self._mode = _NORMAL
                    return i
        return n
