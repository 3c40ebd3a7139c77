"""A stdio server that keeps crashing is paused, not abandoned.

After a burst of restarts in a row without a successful call, the server rests for a cool-down
(COOL_DOWN_START seconds, doubling with each burst up to COOL_DOWN_MAX) and is then tried again on
its next use. Calls meanwhile are answered at once as unavailable, saying when it will be tried
again. A call that succeeds ends the sequence: the next burst rests COOL_DOWN_START again.
"""

from __future__ import annotations

import math

import anyio

COOL_DOWN_START = 30.0  # seconds of rest after the first burst
COOL_DOWN_MAX = 300.0


class CoolDown:
    """The rests of one server: how long the next one is, and when the current one ends."""

    def __init__(self, start: float = COOL_DOWN_START, cap: float = COOL_DOWN_MAX) -> None:
        self.start, self.cap = start, max(start, cap)
        self.bursts = 0  # bursts since the last successful call
        self.until: float | None = None  # when the current rest ends (anyio's clock); None: not resting

    async def rest(self) -> None:
        """Rest for the next cool-down (longer after each burst)."""
        seconds = self.next_seconds()
        self.bursts += 1
        self.until = anyio.current_time() + seconds
        try:
            await anyio.sleep(seconds)
        finally:
            self.until = None

    def next_seconds(self) -> float:
        """How long the next rest lasts."""
        return min(self.start * 2 ** min(self.bursts, 32), self.cap)

    @property
    def resting(self) -> bool:
        return self.until is not None

    def seconds_left(self) -> float:
        return 0.0 if self.until is None else max(0.0, self.until - anyio.current_time())

    def succeeded(self) -> None:
        self.bursts = 0


def in_words(seconds: float) -> str:
    """'in 25 s', 'in 2 min 5 s': a rest's remaining time for a person or a model."""
    whole = max(1, math.ceil(seconds))
    if whole < 120:
        return f"in {whole} s"
    minutes, rest = divmod(whole, 60)
    return f"in {minutes} min {rest} s" if rest else f"in {minutes} min"
