"""Push-to-talk: the key reader, the setup without automatic activity detection, and
activityStart / audio / activityEnd in order through the fake Live server.

The mic test runs on the private PulseAudio daemon; waits are bounded, nothing asserts timing.
"""

from __future__ import annotations

import contextlib
import io
import os
import pty
import termios
import threading
import time
from pathlib import Path

import anyio
import numpy as np
import pytest

from agent.config import load_config
from agent.events import AudioChunk
from agent.live_config import build_live_config
from agent.media.buffers import ActivityEnd, ActivityStart, AudioQueue
from agent.media.mic import Mic
from agent.media.wavfile import read_wav_16k_mono, stream_clip
from agent.ptt import PTT_LINE, PushToTalk, key_char
from tests.conftest import interrupt, run_agent, start_agent
from tests.fakes.live_server import ClientMessage, FakeConnection
from tests.test_audio_e2e import RATE_IN, speech_wav, tone

# ---- the key ---------------------------------------------------------------------------------


def test_toggle_tells_listeners_once_per_change() -> None:
    ptt = PushToTalk("k")
    seen: list[bool] = []
    ptt.on_change(seen.append)
    assert ptt.key == "k" and ptt.muted()
    assert ptt.toggle() is True and not ptt.muted()
    ptt.set(True)  # no change, no call
    assert ptt.toggle() is False
    assert seen == [True, False] and ptt.presses == 2
    assert key_char("space") == " " and key_char("tab") == "\t"


def test_piped_stdin_toggles_on_the_ptt_line_and_passes_text() -> None:
    ptt = PushToTalk()
    stdin = ptt.wrap(io.StringIO(f"{PTT_LINE}\nhello\n {PTT_LINE} \n"))
    assert not stdin.isatty()
    assert stdin.readline() == "hello\n" and ptt.talking
    assert stdin.readline() == "" and not ptt.talking


def test_terminal_key_toggles_on_an_empty_line_and_typed_text_is_edited() -> None:
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    ptt = PushToTalk()
    with open(slave, encoding="utf-8", closefd=True) as tty:
        stdin = ptt.wrap(tty)
        assert stdin.isatty()
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(iter(stdin.readline, "")), daemon=True)
        reader.start()
        deadline = time.monotonic() + 10
        while termios.tcgetattr(slave)[3] & termios.ICANON and time.monotonic() < deadline:
            time.sleep(0.01)  # until the reader has the terminal in single-key mode
        os.write(master, b" ")  # empty line: the key toggles
        os.write(master, b"hi there\x7f\x7fre\r")  # a space inside text is text; backspace edits
        os.write(master, b"\x1b[A")  # an arrow key is skipped
        os.write(master, b" ")  # toggles back
        os.write(master, b"\x04")  # Ctrl-D on an empty line: end of input
        reader.join(timeout=10)
        assert not reader.is_alive()
        assert lines == ["hi there\n"] and ptt.presses == 2 and not ptt.talking
        echoed = _drain(master)
        assert "hi the" in echoed and "\b \b" in echoed
        assert not termios.tcgetattr(slave)[3] & termios.ICANON  # keys one at a time while the agent runs
        stdin.restore()
        assert termios.tcgetattr(slave)[3] == before[3]  # and the terminal as it was afterwards
    os.close(master)


def _drain(fd: int) -> str:
    os.set_blocking(fd, False)
    out = b""
    with contextlib.suppress(BlockingIOError, OSError):
        while chunk := os.read(fd, 4096):
            out += chunk
    return out.decode(errors="replace")


# ---- the setup and the file input ------------------------------------------------------------


def test_setup_turns_automatic_activity_detection_off_only_with_push_to_talk() -> None:
    on = build_live_config(load_config(None, {"push_to_talk": True}))
    assert on.realtime_input_config is not None
    assert on.realtime_input_config.automatic_activity_detection is not None
    assert on.realtime_input_config.automatic_activity_detection.disabled is True
    assert build_live_config(load_config(None, {})).realtime_input_config is None


@pytest.mark.anyio
async def test_clip_in_push_to_talk_is_one_bracketed_utterance() -> None:
    q = AudioQueue(maxsize=100)
    await stream_clip(bytes(640 * 3), q, block_ms=20, realtime=False, activity=True)
    kinds = [type(q.get_nowait()).__name__ for _ in range(len(q))]
    assert kinds == ["ActivityStart", "AudioChunk", "AudioChunk", "AudioChunk", "ActivityEnd", "InputClosed"]


def kinds_of(messages: list[ClientMessage]) -> list[str]:
    """activity_start / audio / activity_end / audio_stream_end per realtime_input, runs of audio merged."""
    out: list[str] = []
    for m in messages:
        if m.kind != "realtime_input":
            continue
        for key in ("activity_start", "audio", "activity_end", "audio_stream_end"):
            if key in m.body and not (key == "audio" and out and out[-1] == "audio"):
                out.append(key)
    return out


class ManualActivityModel:
    """A model with automatic activity detection off: it answers after each activityEnd."""

    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.utterances: list[bytes] = []

    async def __call__(self, conn: FakeConnection) -> None:
        rt = conn.setup.get("realtime_input_config") or {}
        assert rt.get("automatic_activity_detection", {}).get("disabled") is True, conn.setup
        while True:
            await conn.expect("realtime_input", lambda m: "activity_start" in m.body, timeout=3600)
            audio = bytearray()
            while True:
                msg = await conn.expect("realtime_input", timeout=60)
                assert "audio_stream_end" not in msg.body  # meaningless without automatic detection
                if msg.audio is not None:
                    audio += msg.audio
                if "activity_end" in msg.body:
                    break
            self.utterances.append(bytes(audio))
            await conn.send_audio(self.reply)
            await conn.send_transcript("Done.")
            await conn.turn_complete()


def test_push_to_talk_with_a_wav_file_sends_activity_markers(live, clean_env: Path) -> None:
    question = speech_wav(clean_env / "question.wav")
    model = ManualActivityModel(tone(0.3))
    server = live(model)
    result = run_agent("--push-to-talk", "--input-audio", str(question), "--no-audio-output", "--no-search", input="", timeout=90)
    assert result.status == 0, result.stderr
    assert kinds_of(server.connections[0].received) == ["activity_start", "audio", "activity_end"]
    assert model.utterances == [read_wav_16k_mono(question)]
    assert "Done." in result.stdout


# ---- the mic, on virtual devices -------------------------------------------------------------


@pytest.mark.audio
@pytest.mark.anyio
async def test_mic_brackets_each_talking_stretch(pulse) -> None:
    q = AudioQueue(maxsize=1000)
    ptt = PushToTalk()
    mic = Mic(q, muted=ptt.muted, activity_markers=True)
    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            await tg.start(mic.run)
            for _ in range(2):
                await _blocks(mic, 5)  # muted: nothing goes out
                ptt.toggle()
                sent = mic.stats.sent
                while mic.stats.sent < sent + 5:
                    await anyio.sleep(0.02)
                ptt.toggle()
            await _blocks(mic, 5)
            tg.cancel_scope.cancel()
    items = [q.get_nowait() for _ in range(len(q))]
    kinds = [type(i).__name__ for i in items]
    runs = [k for i, k in enumerate(kinds) if i == 0 or k != kinds[i - 1]]
    assert runs == ["ActivityStart", "AudioChunk", "ActivityEnd"] * 2  # no AudioStreamEnd, nothing outside
    assert isinstance(items[0], ActivityStart) and isinstance(items[-1], ActivityEnd)
    assert all(isinstance(i, AudioChunk) for i in items[1:-1] if not isinstance(i, ActivityStart | ActivityEnd))


async def _blocks(mic: Mic, n: int) -> None:
    seen = mic.stats.blocks
    while mic.stats.blocks < seen + n:
        await anyio.sleep(0.02)


@pytest.mark.audio
def test_push_to_talk_mic_end_to_end(live, clean_env: Path, pulse) -> None:
    """`/ptt` on stdin toggles: the server sees activityStart, the speech, activityEnd, and answers."""
    speech = read_wav_16k_mono(speech_wav(clean_env / "speech.wav", "Push to talk works."))
    model = ManualActivityModel(tone(0.5))
    server = live(model)
    # Without echo cancellation the speech arrives as fed, so it can be compared sample for sample.
    proc = start_agent("--push-to-talk", "--no-echo-cancellation", "--no-search", env=pulse.env, cwd=clean_env)
    try:
        server.wait_for(lambda: len(server.connections) == 1, timeout=30)
        conn = server.connections[0]
        time.sleep(1.0)  # the mic opens after setupComplete; nothing may be sent before the key
        assert proc.stdin is not None
        proc.stdin.write(PTT_LINE + "\n")
        proc.stdin.flush()
        server.wait_for(lambda: any("activity_start" in m.body for m in conn.received), timeout=30)
        pulse.feed(speech).wait(timeout=30)
        time.sleep(0.3)  # the tail of the speech through the mic
        proc.stdin.write(PTT_LINE + "\n")
        proc.stdin.flush()
        server.wait_for(lambda: len(model.utterances) == 1, timeout=30)
        status, out, err = interrupt(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert status == 130, err
    assert kinds_of(conn.received) == ["activity_start", "audio", "activity_end"]
    heard = np.frombuffer(model.utterances[0], "<i2").astype(np.float64)
    said = np.frombuffer(speech, "<i2").astype(np.float64)
    corr = np.abs(np.fft.irfft(np.fft.rfft(heard, 2 * len(heard) + len(said)) * np.conj(np.fft.rfft(said, 2 * len(heard) + len(said)))))
    assert corr.max() / (np.linalg.norm(heard) * np.linalg.norm(said)) > 0.8
    assert len(model.utterances[0]) >= len(speech) * 0.9 and len(model.utterances[0]) > RATE_IN  # the whole stretch


def test_status_shows_the_key_and_talking() -> None:
    from types import SimpleNamespace

    from agent.interaction import InteractionState
    from agent.profiles import profile_for
    from agent.status import describe

    ptt = PushToTalk()
    agent = SimpleNamespace(tool_activity=None, mic=None, speaker=None, screen=None, ptt=ptt,
                            state=InteractionState(profile_for("gemini-3.8-live")[0]))
    assert describe(agent).endswith("space: talk")
    ptt.toggle()
    assert describe(agent).startswith("🎙 talking (space to send)")
