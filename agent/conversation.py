"""The session's one listener: server events become output, tool calls and interaction state.

It prints text and transcripts, feeds model audio to the audio sinks (speaker, WAV recorder),
flushes them on `interrupted`, hands tool calls to the router, records what happened, and
reports every turn change to the InteractionState, which owns whose turn it is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from agent import live_events as ev
from agent.console import Console
from agent.events import SPEAKER_RATE
from agent.interaction import InteractionState
from agent.metrics import Metrics
from agent.record import Recorder

log = logging.getLogger(__name__)


class AudioSink(Protocol):
    def write(self, pcm: bytes, rate: int = SPEAKER_RATE) -> None: ...
    def flush(self) -> None: ...
    def end_turn(self) -> None: ...


class ToolCalls(Protocol):
    def submit(self, calls: list[ev.FunctionCall]) -> None: ...
    def cancel(self, ids: list[str]) -> None: ...
    def reject(self, call: ev.FunctionCall, reason: str) -> None: ...


class Conversation:
    """What the model says, where it goes, and who is waiting on whom."""

    def __init__(self, console: Console, recorder: Recorder, metrics: Metrics, state: InteractionState) -> None:
        self.console = console
        self.recorder = recorder
        self.metrics = metrics
        self.state = state
        self.sinks: list[AudioSink] = []
        self.tools: ToolCalls | None = None
        self.is_blocking: Callable[[str], bool] = lambda name: False  # declared BLOCKING?
        self._text: list[str] = []
        self._user: list[str] = []

    def on_event(self, event: ev.ServerEvent) -> None:
        """Handle one event from the session, in wire order."""
        match event:
            case ev.ModelText(text):
                self.state.model_activity()
                self._model_words(text)
            case ev.ModelAudio(data, rate):
                self.state.model_activity()
                self.metrics.model_audio()  # the first of a turn closes the speech -> answer timing
                for sink in self.sinks:
                    sink.write(data, rate)
            case ev.Transcript("model", text):
                self.state.model_activity()
                self._model_words(text)
            case ev.Transcript(_, text):
                self._user.append(text)
                self.console.user_transcript(text)
                self._cancel_blocking("the user spoke")
            case ev.Interrupted():
                for sink in self.sinks:
                    sink.flush()
                self.recorder.event("interrupted")
                self.state.interrupted()
            case ev.ToolCall(calls):
                self.state.calls_started({c.id: c.name for c in calls})
                if self.tools is None:
                    log.warning("tool call with no tools configured: %s", [c.name for c in calls])
                else:
                    self.tools.submit(list(calls))
            case ev.InvalidToolCall(call, reason):
                self.state.calls_started({call.id: call.name})
                if self.tools is not None:
                    self.tools.reject(call, reason)
            case ev.ToolCallCancelled(ids):
                if self.tools is not None:
                    self.tools.cancel(list(ids))
                self.state.calls_dropped(list(ids))
            case ev.TurnComplete():
                self._turn_end(event)
            case ev.ResumptionUpdate(handle, resumable):
                if handle and resumable:
                    self.state.handle_issued()
            case ev.Usage(fields):
                self.recorder.event("usage", **fields)
            case ev.Grounding(sources, queries):
                self.console.sources(list(sources), list(queries))
                self.recorder.event("grounding", queries=list(queries), sources=[{"title": t, "uri": u} for t, u in sources])
            case ev.Code(language, code):
                self.console.code(language, code)
                self.recorder.event("code", language=language, code=code)
            case ev.CodeResult(outcome, output):
                self.console.code_result(outcome, output)
                self.recorder.event("code_result", outcome=outcome, output=output)
            case _:
                pass  # GoAway is the session's; GenerationComplete and VoiceActivity change nothing here

    def user_text_sent(self, text: str) -> None:
        """A typed turn went out: on models that cancel BLOCKING calls on new input, they are gone."""
        self.recorder.event("user_text", text=text)
        self._cancel_blocking("new input")

    def _model_words(self, text: str) -> None:
        self._text.append(text)
        self.console.model_text(text)

    def _cancel_blocking(self, why: str) -> None:
        """On 3.8, new input cancels a running BLOCKING call, with or without a toolCallCancellation."""
        if not self.state.profile.blocking_cancelled_by_input:
            return
        ids = [call_id for call_id, name in self.state.calls.items() if self.is_blocking(name)]
        if ids:
            log.info("%s: the server cancels blocking call(s) %s", why, ids)
            self.recorder.event("calls_cancelled_by_input", ids=ids)
            if self.tools is not None:
                self.tools.cancel(ids)
            self.state.calls_dropped(ids)

    def _turn_end(self, event: ev.TurnComplete) -> None:
        done = self.state.turn_ended(turn_complete=event.turn_complete, interaction=event.interaction)
        if event.turn_complete:
            self.console.turn_complete()
            if self._user:
                self.recorder.event("user_transcript", text="".join(self._user))
            if self._text:
                self.recorder.event("model_text", text="".join(self._text))
            self._user.clear()
            self._text.clear()
            for sink in self.sinks:
                sink.end_turn()  # play out the rest without waiting for a prebuffer
        self.recorder.event("turn_complete", reason=event.reason, interaction=event.interaction, done=done)

    def record_setup(self, session_id: str | None, tools: int) -> None:
        self.recorder.event("setup_complete", session_id=session_id, tools=tools)
