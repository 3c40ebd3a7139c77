"""Echo cancellation, local voice activity and local barge-in.

Offline: the EchoCanceller on a simulated room, its alignment of the played reference by DAC
and ADC times, the VoiceActivity detector, the speaker's fade and hold-off. On virtual devices
(PulseAudio with an echo path, tests/audio_env.py), through the whole agent and the fake Live
server: while the model speaks, what the agent sends carries the person's voice, not the
model's. Waits are bounded; nothing asserts timing.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest

from agent.events import SPEAKER_RATE
from agent.media.aec import EchoCanceller
from agent.media.buffers import JitterBuffer
from agent.media.resample import resample
from agent.media.speaker import Speaker
from agent.media.vad import VoiceActivity
from tests.conftest import interrupt, start_agent
from tests.echo_metrics import best_lag, correlation, energy_db, erle_db, model_voice, person_voice
from tests.fakes.live_server import FakeConnection
from tests.test_audio_e2e import voiced_seconds

MIC, FAR = 16_000, 24_000


@pytest.fixture(scope="module")
def voices() -> tuple[np.ndarray, np.ndarray]:
    """(the model at 24 kHz, 8 s; the person at 16 kHz)."""
    return model_voice(FAR, 8.0), person_voice(MIC)


def envelope_corr(x: np.ndarray, y: np.ndarray, frame: int = 320) -> float:
    """Correlation of two signals' 20 ms level envelopes (dB): the same syllables, whatever the waveform."""
    n = min(len(x), len(y)) // frame * frame
    ex = 10 * np.log10(np.mean(x[:n].astype(np.float64).reshape(-1, frame) ** 2, axis=1) + 1)
    ey = 10 * np.log10(np.mean(y[:n].astype(np.float64).reshape(-1, frame) ** 2, axis=1) + 1)
    return float(np.corrcoef(ex, ey)[0, 1])


def simulate(aec: EchoCanceller, far: np.ndarray, mic: np.ndarray, *, latency: float = 0.04) -> np.ndarray:
    """Play `far` and capture `mic` in 20 ms blocks as the two device threads would, with times."""
    out = bytearray()
    t0 = 1000.0
    fb, mb = FAR // 50, MIC // 50
    for i in range(len(mic) // mb):
        now = t0 + i * 0.02
        aec.played(far[i * fb : (i + 1) * fb].astype("<i2").tobytes(), FAR, now + latency)  # reaches the DAC later
        out += aec.process(mic[i * mb : (i + 1) * mb].astype("<i2").tobytes(), now - 0.02)  # left the ADC 20 ms ago
    return np.frombuffer(bytes(out), "<i2")


# ---- offline ---------------------------------------------------------------------------------


def test_echo_canceller_removes_the_echo_and_keeps_the_person(voices: tuple[np.ndarray, np.ndarray]) -> None:
    far, person = voices
    far16 = resample(far, FAR, MIC).astype(np.float64)
    # The room: played audio reaches the DAC 40 ms after its callback, comes back 60 ms later at half level.
    delay = int(0.1 * MIC)
    echo = np.zeros(len(far16))
    echo[delay:] = far16[:-delay] * 0.5
    mic = echo.copy()
    at = 5 * MIC
    mic[at : at + len(person)] += person[: len(mic) - at]
    out = simulate(EchoCanceller(), far, np.clip(mic, -32768, 32767).astype(np.int16))
    echo_on = np.zeros(len(out) // 320, dtype=bool)
    echo_on[2 * 50 : at // 320] = True  # 2 s in, until the person speaks
    assert erle_db(mic, out, echo_on & (energy_of(echo, 320)[: len(echo_on)] > 40), MIC) > 25
    span = slice(at, min(len(out), at + len(person)))
    kept = out[span]
    assert envelope_corr(kept, person) > 0.6  # the person's syllables are there
    assert correlation(kept, far16[span.start - delay : span.stop - delay], 400)[0] < 0.2  # the model's voice is not


def energy_of(x: np.ndarray, w: int) -> np.ndarray:
    f = x[: len(x) // w * w].astype(np.float64).reshape(-1, w)
    return 10 * np.log10(np.mean(f * f, axis=1) + 1e-9)


def test_reference_goes_in_only_once_it_has_been_played() -> None:
    aec = EchoCanceller()
    block = bytes(2 * FAR // 50)  # 20 ms played
    aec.played(block, FAR, dac_time=10.0)  # reaches the DAC at t=10 s
    aec.process(bytes(2 * MIC // 50), adc_time=9.5)  # captured before that: no reference yet
    assert aec.stats.reference_frames == 0 and aec.stats.frames == 2
    aec.process(bytes(2 * MIC // 50), adc_time=10.005)  # 10.005 and 10.015: the first played 10 ms, then both
    assert aec.stats.reference_frames == 2
    assert not aec.warming_up()  # silence played: no playback to warm up on


def test_odd_block_sizes_come_out_whole() -> None:
    aec = EchoCanceller()
    got = b"".join(aec.process(bytes(2 * 250), adc_time=1.0 + i * 0.015) for i in range(8))  # 15.6 ms blocks
    assert len(got) == (8 * 250 // 160) * 320 and aec.stats.errors == 0


def test_warm_up_after_playback_starts() -> None:
    aec = EchoCanceller()
    loud = (np.ones(480) * 3000).astype("<i2").tobytes()
    aec.played(loud, FAR, dac_time=50.0)
    assert aec.warming_up(now=50.1) and not aec.warming_up(now=51.0)
    aec.played(bytes(960), FAR, dac_time=51.0)  # a pause ...
    aec.played(loud, FAR, dac_time=51.3)
    assert not aec.warming_up(now=51.4)  # ... is not a new start
    aec.played(bytes(960), FAR, dac_time=52.0)  # the end of the turn
    aec.played(loud, FAR, dac_time=54.0)  # the next one warms up anew
    assert aec.warming_up(now=54.1)


def test_voice_activity_starts_on_speech_once_and_ends_in_silence(voices: tuple[np.ndarray, np.ndarray]) -> None:
    _, person = voices
    vad = VoiceActivity()
    starts: list[bool] = []
    vad.on_start(lambda: starts.append(True))
    noise = (np.random.default_rng(0).standard_normal(MIC) * 30).astype("<i2")  # -60 dBFS hiss
    vad.feed(noise.tobytes())
    assert not vad.speaking and not starts
    pcm = person.astype("<i2").tobytes()
    for i in range(0, len(pcm), 640):
        vad.feed(pcm[i : i + 640])
    assert starts  # at least one utterance (pauses between sentences may end one)
    vad.feed(bytes(2 * MIC))  # a second of silence
    assert not vad.speaking and vad.starts == len(starts) <= 3


def test_fade_out_keeps_a_ramp_and_drops_the_rest() -> None:
    jb = JitterBuffer(prebuffer=0)
    jb.write((np.ones(2400) * 10000).astype("<i2").tobytes())
    out = bytearray(960)
    jb.read_into(memoryview(out), 480)  # playing
    dropped = jb.fade_out(240)
    assert dropped == 2400 - 480 - 240 and jb.buffered == 240
    jb.read_into(memoryview(out), 480)
    ramp = np.frombuffer(bytes(out), "<i2")
    assert ramp[0] == 10000 and np.all(np.diff(ramp[:240].astype(int)) <= 0) and not ramp[240:].any()


def test_barge_in_holds_off_the_rest_of_the_turn_until_the_server_says() -> None:
    spk = Speaker()
    tone = (np.ones(4800) * 5000).astype("<i2").tobytes()
    spk.write(tone)
    spk.barge_in()
    spk.write(tone)  # still on its way from the server: dropped
    assert spk.stats.barge_ins == 1 and spk.stats.gated_frames == 4800 and spk.stats.buffered_ms == 0
    spk.flush()  # the server's interrupted
    spk.write(tone)  # the next turn plays
    assert spk.stats.buffered_ms == pytest.approx(200)
    spk.end_turn()
    spk.barge_in()  # after turnComplete nothing more of that turn comes: nothing to hold off
    spk.write(tone)
    assert spk.stats.gated_frames == 4800


# ---- on virtual devices, through the agent ---------------------------------------------------


class TalkingModel:
    """Speaks `reply` as soon as the session is up (faster than it plays, as the service does),
    never interrupts, and keeps the connection open."""

    def __init__(self, reply: np.ndarray) -> None:
        self.reply = reply.astype("<i2").tobytes()
        self.spoke_at = 0.0
        self.conn: FakeConnection | None = None

    async def __call__(self, conn: FakeConnection) -> None:
        self.conn = conn
        await asyncio.sleep(1.5)  # the mic opens after setupComplete
        self.spoke_at = time.monotonic()
        await conn.send_audio(self.reply)
        await conn.turn_complete()
        await conn.wait_closed(timeout=120)


def sent_between(conn: FakeConnection, start: float, end: float) -> np.ndarray:
    pcm = b"".join(m.audio for m in conn.received if m.audio is not None and start <= m.at < end)
    return np.frombuffer(pcm, "<i2")


@pytest.mark.audio
@pytest.mark.parametrize("cancel", [True, False], ids=["echo-cancellation", "without"])
def test_while_the_model_speaks_the_server_hears_the_person_not_the_model(live, clean_env: Path, pulse, voices, cancel: bool) -> None:
    far, person = voices
    model = TalkingModel(far)
    server = live(model)
    flags = () if cancel else ("--no-echo-cancellation", "--no-local-barge-in")
    with pulse.echo_path(60, -6.0):
        proc = start_agent("--no-search", *flags, env=pulse.env, cwd=clean_env)
        try:
            server.wait_for(lambda: model.spoke_at > 0, timeout=30)
            with pulse.capture() as played:
                time.sleep(3.0)  # the model alone
                talk_at = time.monotonic()
                pulse.feed(person.astype("<i2").tobytes()).wait(timeout=30)
                time.sleep(1.0)
            status, _, err = interrupt(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert status == 130, err
    conn = model.conn
    assert conn is not None
    far16 = resample(far, FAR, MIC)
    echo_only = sent_between(conn, model.spoke_at + 1.0, talk_at)  # after the warm-up, before the person
    around_person = sent_between(conn, talk_at - 0.2, talk_at + len(person) / MIC + 0.8)
    at = best_lag(around_person, person, MIC)
    with_person = around_person[at : at + len(person)]
    heard_model = max(correlation(echo_only, far16[i : i + len(echo_only)], 1600)[0] for i in range(0, 2 * MIC, 800))
    model_played = voiced_seconds(played.data, SPEAKER_RATE)  # 8 s of speech with pauses: ~5.8 s voiced
    if not cancel:  # the rig works: the model's own voice comes back to the server, and plays on
        assert energy_db(echo_only) - 90.3 > -40 and heard_model > 0.3
        assert model_played > 4.5
        return
    # The model's voice no longer reaches the server at a level a VAD would take for speech ...
    assert energy_db(echo_only) - 90.3 < -50, energy_db(echo_only) - 90.3
    assert heard_model < 0.1
    # ... while the person's speech over it does.
    assert envelope_corr(with_person, person[: len(with_person)]) > 0.5
    assert energy_db(with_person) - 90.3 > -45
    # And the local voice activity faded the model out (3 s in) without waiting for an `interrupted`.
    assert model_played < 4.5
