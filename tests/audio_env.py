"""A private PulseAudio daemon with virtual devices, for audio tests and benchmarks.

Devices (see /work/shared/audio-testing.md):
  vspeaker   null sink, 24 kHz mono: the default output; capture it from `vspeaker.monitor`
  vmic_feed  null sink, 16 kHz mono: play into it to "speak into the mic"
  vmic       remap of vmic_feed.monitor: the default input
An ALSA config also names them for PortAudio: vmic, vmic_feed, vspeaker, vspeaker_monitor.

`pa.echo_path(delay_ms, gain_db)` makes a room: what the speaker plays comes back into the mic
(vspeaker.monitor looped into vmic_feed by module-loopback) after about `delay_ms` and `gain_db`
quieter; near-end speech is mixed in with `pa.feed(...)` as usual.

Use the session-scoped `pulse` fixture (import it into conftest.py or a test module), or
`with running_pulse() as pa:` in scripts.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

ENV_KEYS = ("PULSE_SERVER", "PULSE_RUNTIME_PATH", "PULSE_STATE_PATH", "ALSA_CONFIG_PATH")
ALSA_NAMES = {"vmic": "vmic", "vmic_feed": "vmic_feed", "vspeaker": "vspeaker",
              "vspeaker_monitor": "vspeaker.monitor"}


class Capture:
    """PCM16 mono recorded from a PulseAudio source by `parec` (filled in while running)."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._buf = bytearray()
        self._lock = threading.Lock()

    def _append(self, chunk: bytes) -> None:
        with self._lock:
            self._buf += chunk

    @property
    def data(self) -> bytes:
        with self._lock:
            return bytes(self._buf[: len(self._buf) // 2 * 2])

    @property
    def samples(self) -> np.ndarray:
        return np.frombuffer(self.data, dtype="<i2")


class PulseAudio:
    """Start/stop a private PulseAudio daemon in `root` and talk to it with pactl/pacat."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.run_dir = self.root / "run"
        self.state_dir = self.root / "state"
        self.socket = self.run_dir / "native"
        self.env = {
            "PULSE_SERVER": f"unix:{self.socket}",
            "PULSE_RUNTIME_PATH": str(self.run_dir),
            "PULSE_STATE_PATH": str(self.state_dir),
            "ALSA_CONFIG_PATH": str(self.root / "asound.conf"),
        }
        self._saved_env: dict[str, str | None] = {}
        self.pid: int | None = None

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        for tool in ("pulseaudio", "pactl", "pacat"):
            if shutil.which(tool) is None:
                raise RuntimeError(f"{tool} not found: apt-get install pulseaudio pulseaudio-utils")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        for stale in ("pid", "native"):  # left behind by a killed daemon
            (self.run_dir / stale).unlink(missing_ok=True)
        (self.root / "daemon.pa").write_text(
            "load-module module-native-protocol-unix auth-anonymous=1 auth-cookie-enabled=0 "
            f"socket={self.socket}\n"
        )
        (self.root / "asound.conf").write_text(
            "</usr/share/alsa/alsa.conf>\n"
            + "".join(
                f'pcm.{alsa} {{ type pulse device "{pulse}" '
                f'hint {{ show on description "virtual {pulse}" }} }}\n'
                for alsa, pulse in ALSA_NAMES.items()
            )
        )
        self._set_env()
        subprocess.run(
            ["pulseaudio", "-n", "-F", str(self.root / "daemon.pa"), "--daemonize=yes",
             "--exit-idle-time=-1", "--disallow-exit=yes",
             f"--log-target=file:{self.root / 'pa.log'}"],
            env=self.proc_env(), check=True, timeout=30,
        )
        pid_file = self.run_dir / "pid"
        if pid_file.exists():
            self.pid = int(pid_file.read_text().split()[0])
        self.pactl("load-module", "module-null-sink", "sink_name=vspeaker", "rate=24000",
                   "channels=1", "channel_map=mono", "norewinds=1")
        self.pactl("load-module", "module-null-sink", "sink_name=vmic_feed", "rate=16000",
                   "channels=1", "channel_map=mono", "norewinds=1")
        self.pactl("load-module", "module-remap-source", "master=vmic_feed.monitor",
                   "source_name=vmic", "channels=1", "channel_map=mono")
        self.pactl("set-default-sink", "vspeaker")
        self.pactl("set-default-source", "vmic")
        reinit_portaudio()

    def stop(self) -> None:
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and _alive(self.pid):
                time.sleep(0.02)
            if _alive(self.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
            self.pid = None
        for stale in ("pid", "native"):
            (self.run_dir / stale).unlink(missing_ok=True)
        self._restore_env()

    def _set_env(self) -> None:
        for k in ENV_KEYS:
            self._saved_env.setdefault(k, os.environ.get(k))
        os.environ.update(self.env)

    def _restore_env(self) -> None:
        for k, v in self._saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        self._saved_env.clear()

    def proc_env(self) -> dict[str, str]:
        """Environment for subprocesses that should use this daemon."""
        return {**os.environ, **self.env}

    # ---- helpers -----------------------------------------------------------------------------

    def pactl(self, *args: str) -> str:
        out = subprocess.run(["pactl", *args], env=self.proc_env(), check=True, timeout=30,
                             capture_output=True, text=True)
        return out.stdout

    @contextlib.contextmanager
    def echo_path(self, delay_ms: int = 60, gain_db: float = -6.0) -> Iterator[int]:
        """The speaker heard by the mic: vspeaker.monitor -> vmic_feed, delayed and attenuated.

        module-loopback keeps its latency near `delay_ms` (measure the actual lag from the
        signals: it is a target, not an exact figure). Yields the loopback's sink-input index.
        """
        module = self.pactl("load-module", "module-loopback", "source=vspeaker.monitor", "sink=vmic_feed",
                            f"latency_msec={delay_ms}", "source_dont_move=true", "sink_dont_move=true",
                            "remix=true").strip()
        try:
            index = None
            deadline = time.monotonic() + 10
            while index is None and time.monotonic() < deadline:
                rows = [line.split() for line in self.pactl("list", "short", "sink-inputs").splitlines()]
                index = next((int(r[0]) for r in rows if r[3:4] == ["module-loopback.c"]), None)  # index, sink, -, driver
                if index is None:
                    time.sleep(0.05)
            if index is None:
                raise RuntimeError("module-loopback made no sink input")
            self.pactl("set-sink-input-volume", str(index), f"{gain_db:+.1f}dB")
            yield index
        finally:
            with contextlib.suppress(subprocess.SubprocessError):
                self.pactl("unload-module", module)

    def feed(self, pcm: bytes, rate: int = 16000, device: str = "vmic_feed") -> subprocess.Popen[bytes]:
        """Start playing PCM16 mono into `device` (default: the mic feed); wait() on the result."""
        fd, raw = tempfile.mkstemp(suffix=".raw", dir=self.root)
        with os.fdopen(fd, "wb") as f:
            f.write(pcm)
        return subprocess.Popen(
            ["pacat", "--playback", f"--device={device}", f"--rate={rate}", "--channels=1",
             "--format=s16le", "--latency-msec=20", "--raw", raw],
            env=self.proc_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    @contextlib.contextmanager
    def capture(self, device: str = "vspeaker.monitor", rate: int = 24000) -> Iterator[Capture]:
        """Record `device` (default: what the speaker plays) as PCM16 mono while the block runs."""
        cap = Capture(rate)
        proc = subprocess.Popen(
            ["parec", f"--device={device}", f"--rate={rate}", "--channels=1", "--format=s16le",
             "--latency-msec=10", "--raw"],
            env=self.proc_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        assert proc.stdout is not None
        stdout = proc.stdout

        def pump() -> None:
            while chunk := stdout.read1(65536):
                cap._append(chunk)

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        try:
            yield cap
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            reader.join(timeout=5)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child counts as dead.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def reinit_portaudio() -> None:
    """PortAudio enumerates devices at initialisation: re-initialise if it already happened."""
    sd = sys.modules.get("sounddevice")
    if sd is not None:
        sd._terminate()
        sd._initialize()


@contextlib.contextmanager
def running_pulse(root: str | os.PathLike[str] | None = None) -> Iterator[PulseAudio]:
    """Run a private PulseAudio daemon for the duration of the block (for scripts)."""
    tmp = None
    if root is None:
        tmp = tempfile.mkdtemp(prefix="gl-pulse-")
        root = tmp
    pa = PulseAudio(root)
    try:
        pa.start()
        yield pa
    finally:
        pa.stop()
        reinit_portaudio()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def pulse() -> Iterator[PulseAudio]:
    """A private PulseAudio daemon with vmic/vspeaker; sets PULSE_SERVER etc. in os.environ."""
    missing = [t for t in ("pulseaudio", "pactl", "pacat", "parec") if shutil.which(t) is None]
    # Under CI a missing package is a failure of the set-up, not a reason to skip.
    unavailable = pytest.fail if os.environ.get("CI") else pytest.skip
    if missing:
        unavailable(f"PulseAudio tools missing ({', '.join(missing)}): scripts/setup --test installs them")
    try:
        import sounddevice  # noqa: F401
    except OSError as exc:
        unavailable(f"PortAudio unavailable: {exc} (scripts/setup installs libportaudio2)")
    # Keep the path short: unix socket paths are limited to 107 bytes.
    root = Path(tempfile.mkdtemp(prefix="gl-pa-"))
    with running_pulse(root) as pa:
        yield pa
    shutil.rmtree(root, ignore_errors=True)
