"""A fake model with resumable state, for session-lifetime tests.

The real service keeps the conversation behind a resumption handle: a connection that sets
up with a handle continues from the state that handle names. This model does the same: it
keeps each handle's history (the user turns it has taken in), issues a new handle after each
answered turn, and can be scripted to send goAway, drop the TCP connection or close with an
error at given turns. Time is scaled in the server: a "minute" of conversation is one turn.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from tests.fakes.live_server import FakeConnection


@dataclass
class Fault:
    kind: str  # "go_away" | "abort" | "close"
    code: int = 1011
    reason: str = "Internal error encountered."
    time_left: str = "2s"


@dataclass
class ResumableModel:
    """Scenario: answers `echo: <text>`; faults keyed by the global turn number (1-based)."""

    faults: dict[int, Fault] = field(default_factory=dict)
    tool_every: int = 0  # every Nth turn first calls the tool `tool_name` with {"n": turn}
    tool_name: str = ""
    histories: dict[str, tuple[str, ...]] = field(default_factory=dict)
    setups: list[str | None] = field(default_factory=list)  # the handle each connection set up with
    turn: int = 0  # user turns taken in, over all connections
    tool_calls: list[str] = field(default_factory=list)  # ids of the calls issued
    tool_answers: list[str] = field(default_factory=list)  # ids answered
    _handles: int = 0

    @property
    def final_history(self) -> tuple[str, ...]:
        """The conversation as the newest handle holds it."""
        return self.histories[f"h{self._handles}"] if self._handles else ()

    def _issue(self, history: list[str]) -> str:
        self._handles += 1
        handle = f"h{self._handles}"
        self.histories[handle] = tuple(history)
        return handle

    async def __call__(self, conn: FakeConnection) -> None:
        handle = (conn.setup.get("session_resumption") or {}).get("handle")
        self.setups.append(handle)
        if handle is not None and handle not in self.histories:
            await conn.close(1008, "Session resumption handle is invalid or expired.")
            return
        history = list(self.histories.get(handle, ())) if handle else []
        deadline: float | None = None
        while True:
            timeout = None if deadline is None else max(0.01, deadline - asyncio.get_running_loop().time())
            try:
                text = await conn.expect_text(timeout=3600 if timeout is None else timeout)
            except TimeoutError:
                conn.abort()  # goAway's time ran out: the service cuts the connection
                return
            self.turn += 1
            history.append(text)
            fault = self.faults.pop(self.turn, None)
            if fault and fault.kind in ("abort", "close"):
                await conn.send_text("partial answer…", complete=False)
                await asyncio.sleep(0.05)
                if fault.kind == "abort":
                    conn.abort()
                else:
                    await conn.close(fault.code, fault.reason)
                return
            if self.tool_every and self.turn % self.tool_every == 0:
                call_id = f"call-{self.turn}"
                self.tool_calls.append(call_id)
                await conn.send_tool_call({"id": call_id, "name": self.tool_name, "args": {"n": self.turn}})
                if fault and fault.kind == "go_away":
                    # goAway while the tool call is in flight: the answer must still come.
                    await conn.go_away(fault.time_left)
                    deadline = asyncio.get_running_loop().time() + float(fault.time_left.rstrip("s"))
                    fault = None
                responses = await conn.expect_tool_response()
                self.tool_answers += [r["id"] for r in responses]
            await conn.send_text(f"echo: {text}")
            await conn.resumption_update(self._issue(history))
            if fault and fault.kind == "go_away":
                await conn.go_away(fault.time_left)
                deadline = asyncio.get_running_loop().time() + float(fault.time_left.rstrip("s"))
