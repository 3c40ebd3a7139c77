"""Audio device discovery: lazy sounddevice import, `gemini-live devices`, --mic/--speaker lookup.

sounddevice is imported inside functions only: without the PortAudio library `import sounddevice`
raises OSError, and the rest of the agent (text mode, WAV input/output) must still work.
"""

from __future__ import annotations

import ctypes
import logging
import sys
import threading
from typing import Any, Literal

from agent.errors import UserError

log = logging.getLogger(__name__)

Kind = Literal["input", "output"]

# PortAudio's API is not thread-safe: stream open/close and device queries done from worker
# threads (Mic and Speaker start concurrently) take this lock.
PORTAUDIO_LOCK = threading.RLock()

NO_PORTAUDIO_HINT = (
    "install libportaudio2 (apt-get install libportaudio2) "
    "or run with --no-audio-input --no-audio-output"
)


# alsa-lib prints "ALSA lib pcm.c:...: underrun occurred" and similar straight to stderr, over
# the console and status line. Route those messages to logging (and a counter) instead.
_alsa_handler: Any = None
alsa_messages = 0  # ALSA library messages seen (underrun recoveries and the like)


def _route_alsa_messages() -> None:
    global _alsa_handler
    if _alsa_handler is not None or not sys.platform.startswith("linux"):
        return
    try:
        lib = ctypes.CDLL("libasound.so.2")
        set_handler = lib.snd_lib_error_set_handler
    except (OSError, AttributeError):
        return
    # void (*)(const char *file, int line, const char *function, int err, const char *fmt, ...):
    # the variadic tail is ignored (the format arguments are not needed to count and log).
    proto = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p)

    def handler(file: bytes | None, line: int, function: bytes | None, err: int, fmt: bytes | None) -> None:
        global alsa_messages
        alsa_messages += 1
        log.debug("ALSA %s:%d (%s) err=%d: %s", (file or b"?").decode(errors="replace"), line,
                  (function or b"?").decode(errors="replace"), err, (fmt or b"").decode(errors="replace"))

    _alsa_handler = proto(handler)  # kept referenced for the life of the process
    set_handler.argtypes = [proto]
    set_handler(_alsa_handler)


def import_sounddevice() -> Any:
    """Import sounddevice, turning a missing PortAudio library into a UserError."""
    try:
        import sounddevice
    except OSError as exc:  # "PortAudio library not found"
        raise UserError(f"audio is unavailable: {exc}; {NO_PORTAUDIO_HINT}") from exc
    except ImportError as exc:
        raise UserError(
            f"audio is unavailable: the sounddevice package is not installed ({exc}); "
            "pip install sounddevice, or run with --no-audio-input --no-audio-output"
        ) from exc
    _route_alsa_messages()
    return sounddevice


def _channels_key(kind: Kind) -> str:
    return "max_input_channels" if kind == "input" else "max_output_channels"


def _query(sd: Any) -> list[dict[str, Any]]:
    try:
        return [dict(d) for d in sd.query_devices()]
    except sd.PortAudioError as exc:
        raise UserError(f"cannot list audio devices: {exc}; {NO_PORTAUDIO_HINT}") from exc


def _default_index(sd: Any, kind: Kind) -> int | None:
    try:
        pair = sd.default.device
        idx = pair[0] if kind == "input" else pair[1]
        if idx is None or idx < 0:
            info = sd.query_devices(kind=kind)
            idx = info["index"]
        return int(idx)
    except (sd.PortAudioError, ValueError, TypeError, KeyError):
        return None


def _hostapi_names(sd: Any) -> list[str]:
    try:
        return [h["name"] for h in sd.query_hostapis()]
    except sd.PortAudioError:
        return []


def _no_devices_message(kind: str) -> str:
    return (
        f"no audio {kind} devices found: is a sound server (PulseAudio/PipeWire) running and "
        "reachable (PULSE_SERVER)? Run with --no-audio-input --no-audio-output to go without audio"
    )


def list_devices_text() -> str:
    """Human-readable table of input and output devices, defaults marked with '*'."""
    sd = import_sounddevice()
    devices = _query(sd)
    apis = _hostapi_names(sd)
    lines: list[str] = []
    for kind, title in (("input", "Input devices"), ("output", "Output devices")):
        key = _channels_key(kind)  # type: ignore[arg-type]
        default = _default_index(sd, kind)  # type: ignore[arg-type]
        rows = [d for d in devices if d.get(key, 0) > 0]
        lines.append(f"{title}:")
        if not rows:
            lines.append(f"  (none) {_no_devices_message(kind)}")
        for d in rows:
            mark = "*" if d["index"] == default else " "
            api = apis[d["hostapi"]] if 0 <= d["hostapi"] < len(apis) else str(d["hostapi"])
            lines.append(
                f"{mark} {d['index']:>3}  {d['name']}  [{api}]  "
                f"{d[key]} ch  {d['default_samplerate']:g} Hz"
            )
        lines.append("")
    lines.append("* = default. Choose a device by its index or by part of its name.")
    return "\n".join(lines)


def resolve_device(spec: str | int | None, kind: Kind) -> int | None:
    """Map an index or a case-insensitive name substring to a device index; None = default."""
    if spec is None:
        return None
    text = str(spec).strip()
    if not text:
        return None
    sd = import_sounddevice()
    devices = _query(sd)
    key = _channels_key(kind)
    usable = [d for d in devices if d.get(key, 0) > 0]
    if not usable:
        raise UserError(_no_devices_message(kind))
    if isinstance(spec, int) or text.lstrip("-").isdigit():
        idx = int(text)
        for d in devices:
            if d["index"] == idx:
                if d.get(key, 0) <= 0:
                    raise UserError(
                        f"audio device {idx} ({d['name']}) has no {kind} channels; "
                        f"choose one of:\n{_listing(usable, key)}\n(see `gemini-live devices`)"
                    )
                return idx
        raise UserError(
            f"no audio {kind} device with index {idx}; choose one of:\n"
            f"{_listing(usable, key)}\n(see `gemini-live devices`)"
        )
    needle = text.casefold()
    exact = [d for d in usable if d["name"].casefold() == needle]
    if len(exact) == 1:
        return int(exact[0]["index"])
    matches = exact or [d for d in usable if needle in d["name"].casefold()]
    if len(matches) == 1:
        return int(matches[0]["index"])
    if not matches:
        if needle == "default":
            return None
        raise UserError(
            f"no audio {kind} device matches {text!r}; {kind} devices are:\n"
            f"{_listing(usable, key)}\nRun `gemini-live devices` to list them, "
            "then pass an index or a longer part of a name."
        )
    raise UserError(
        f"audio {kind} device name {text!r} is ambiguous, it matches:\n{_listing(matches, key)}\n"
        "Pass the index or a longer part of the name (see `gemini-live devices`)."
    )


def _listing(devices: list[dict[str, Any]], key: str) -> str:
    return "\n".join(f"  {d['index']:>3}  {d['name']}  ({d[key]} ch)" for d in devices)


def device_info(index: int | None, kind: Kind) -> dict[str, Any]:
    """sounddevice's info dict for a device index (None = the default device of that kind)."""
    sd = import_sounddevice()
    try:
        return dict(sd.query_devices(index, kind=kind) if index is None else sd.query_devices(index))
    except (sd.PortAudioError, ValueError) as exc:
        raise UserError(f"no default audio {kind} device: {exc}; " + _no_devices_message(kind)) from exc
