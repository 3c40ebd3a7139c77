"""The one owner of turn and interaction state, with an awaitable idle.

It knows which user turns still await an answer (and which of them the server's state already
holds), whether the model is producing a turn, whether an interaction is still in progress on
models that report `interactionStatus`, and which function calls are in flight. The headless
exit, the goAway handoff, the replay after a resume, the stall watchdog and the status line all
read it; nobody polls it: every change wakes the waiters.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import anyio

from agent.profiles import ModelProfile

log = logging.getLogger(__name__)


@dataclass
class UserTurn:
    text: str
    realtime: bool  # sent as realtimeInput.text (else a clientContent turn)
    begun: bool = False  # the model has started answering it
    held: bool = False  # a resumption handle issued after its answer began covers it


class InteractionState:
    """Whose turn it is. Every mutation goes through a method here and wakes the waiters."""

    def __init__(self, profile: ModelProfile) -> None:
        self.profile = profile
        self.turns: list[UserTurn] = []  # sent, not yet answered, oldest first
        self.model_active = False  # model output seen since the last turn end
        self.in_progress = False  # the server said IN_PROGRESS and has not said IDLE yet
        self.calls: dict[str, str] = {}  # call id -> function name, in flight
        self.continuation_owed = False  # tool answers were sent: the model goes on from them
        self.audio_reply_until = 0.0  # audio input ended: a reply may come until then
        self._audio_grace = 0.0
        self.completed_turns = 0
        self.last_activity = time.monotonic()  # last model activity, or last user turn sent
        self._changed = anyio.Event()

    # ---- reading -----------------------------------------------------------------------

    @property
    def owed(self) -> bool:
        """The model owes something: an answer, the rest of a turn, or the end of an interaction."""
        return bool(self.turns) or self.model_active or self.in_progress or self.continuation_owed

    @property
    def idle(self) -> bool:
        """Nothing owed, no call in flight, and no audio reply expected."""
        return not self.owed and not self.calls and time.monotonic() >= self.audio_reply_until

    @property
    def waiting_on_model(self) -> bool:
        """Something is owed and nothing of ours (a tool call) is what it waits for."""
        return self.owed and not self.calls

    def phase(self) -> str:
        """`tool`, `answering`, `thinking` (interaction in progress, model quiet), `waiting` or `idle`."""
        if self.calls:
            return "tool"
        if self.model_active:
            return "answering"
        if self.in_progress:
            return "thinking"
        if self.turns or self.continuation_owed:
            return "waiting"
        return "idle"

    def replayable(self) -> list[UserTurn]:
        """Unanswered turns the resumed server state does not hold: to be sent again."""
        return [t for t in self.turns if not t.held]

    async def wait_idle(self) -> None:
        """Until idle. Wakes on every change; the audio reply grace ends by timer."""
        while not self.idle:
            changed = self._changed
            left = self.audio_reply_until - time.monotonic()
            with anyio.move_on_after(left if left > 0 and not self.owed and not self.calls else None):
                await changed.wait()

    async def wait_changed(self) -> None:
        await self._changed.wait()

    # ---- user side ---------------------------------------------------------------------

    def user_turn_sent(self, text: str, *, realtime: bool) -> None:
        self.turns.append(UserTurn(text, realtime))
        self.last_activity = time.monotonic()
        self._touch()

    def audio_input_ended(self, grace: float) -> None:
        """Audio stopped: the server's VAD may answer, but nothing guarantees it will."""
        self._audio_grace = grace
        self.audio_reply_until = time.monotonic() + grace
        self._touch()

    # ---- model side --------------------------------------------------------------------

    def model_activity(self) -> None:
        """The model produced output (text, audio, transcript, a call): a turn is running."""
        self.last_activity = time.monotonic()
        self.audio_reply_until = 0.0
        self.continuation_owed = False
        if self.turns:
            self.turns[0].begun = True
        if not self.model_active:
            self.model_active = True
            self._touch()

    def turn_ended(self, *, turn_complete: bool, interaction: str | None) -> bool:
        """A turnComplete and/or interactionStatus arrived; True when the interaction is over."""
        self.last_activity = time.monotonic()
        if turn_complete:
            self.model_active = False
            self.completed_turns += 1
        if interaction is not None:
            done = interaction == "IDLE"  # IN_PROGRESS: the model keeps working after this turn
            self.in_progress = not done
        else:
            done = turn_complete
        if done:
            if self.turns:
                self.turns.pop(0)
            self.continuation_owed = False
            self.audio_reply_until = 0.0
        self._touch()
        return done

    def interrupted(self) -> None:
        self.last_activity = time.monotonic()
        self._touch()

    def handle_issued(self) -> None:
        """A resumption handle arrived: the server state now holds every turn whose answer began."""
        for turn in self.turns:
            if turn.begun:
                turn.held = True

    def connection_replaced(self) -> None:
        """A new connection: no model turn is running on it; held turns will not be answered."""
        dropped = [t for t in self.turns if t.held]
        if dropped:
            log.info("%d turn(s) answered in part before the connection dropped are not sent again", len(dropped))
        self.turns = [t for t in self.turns if not t.held]
        for turn in self.turns:
            turn.begun = False
        if (self.model_active or self.in_progress) and self._audio_grace:
            # A spoken question was being answered: the resumed model may go on, for a while.
            self.audio_reply_until = time.monotonic() + self._audio_grace
        self.model_active = False
        self.in_progress = False
        self.last_activity = time.monotonic()
        self._touch()

    # ---- calls -------------------------------------------------------------------------

    def calls_started(self, calls: dict[str, str]) -> None:
        self.calls.update(calls)
        self.model_activity()
        self._touch()

    def calls_answered(self, ids: list[str], *, reply_expected: bool = True) -> None:
        """Answers went out; the model goes on from them (unless scheduled silently)."""
        for call_id in ids:
            self.calls.pop(call_id, None)
        if reply_expected:
            self.continuation_owed = True
        self.last_activity = time.monotonic()
        self._touch()

    def calls_dropped(self, ids: list[str]) -> None:
        """Calls that will get no answer: cancelled by the server, or by new input on a BLOCKING call."""
        for call_id in ids:
            self.calls.pop(call_id, None)
        self._touch()

    # ---- internals ---------------------------------------------------------------------

    def _touch(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()


async def watch_stalls(state: InteractionState, timeout: float, on_stall: Callable[[float], None]) -> None:
    """Report once per stall when the model owes something and has been silent for `timeout` s."""
    while True:
        while not state.waiting_on_model:
            await state.wait_changed()
        quiet = time.monotonic() - state.last_activity
        if quiet < timeout:
            with anyio.move_on_after(timeout - quiet):
                await state.wait_changed()
            continue
        on_stall(quiet)
        mark = state.last_activity
        while state.last_activity == mark and state.waiting_on_model:
            await state.wait_changed()  # re-armed by the next activity or once nothing is owed
