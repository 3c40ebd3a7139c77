"""The blocking half of screen capture: opening the display, grabbing, scaling and JPEG encoding.

Everything here runs on one worker thread (see `screen.py`); mss instances stay on the thread
that created them. Errors a user can fix become `UserError`s with a hint, never tracebacks.
"""

from __future__ import annotations

import io
import logging
import os
import platform
import re
import time
from dataclasses import dataclass
from typing import Any

from PIL import Image

from agent.errors import ConfigError, UserError

log = logging.getLogger(__name__)

# Pillow's BOX filter is area averaging: as sharp as BILINEAR on text when shrinking by less
# than 2×, a little cheaper, and far cheaper than LANCZOS (benchmarks/bench_screen.py).
RESAMPLE = Image.Resampling.BOX
DROP_HINT = "or drop --screen-capture-fps"

Region = tuple[int, int, int, int]  # x, y, width, height
Area = dict[str, int]  # mss's monitor dict: left, top, width, height


def parse_region(text: str, source: str = "command line", key: str = "--screen-region") -> Region:
    """'X,Y,W,H' (pixels, relative to the captured monitor) -> (x, y, w, h), or ConfigError."""

    def bad(message: str) -> ConfigError:
        return ConfigError(source, key, f"{message}, got {text!r}")

    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != 4:
        example = "e.g. 0,0,1280,720 for the top-left 1280×720 pixels"
        raise bad(f"expected X,Y,W,H (four whole numbers, {example})")
    for name, part in zip("XYWH", parts, strict=True):
        if not re.fullmatch(r"[+-]?\d+", part):
            raise bad(f"{name} must be a whole number of pixels, not {part!r}")
    x, y, w, h = (int(p) for p in parts)
    if x < 0 or y < 0:
        raise bad("X and Y must be 0 or more (they count from the monitor's top-left corner)")
    if w <= 0 or h <= 0:
        raise bad("width and height must be at least 1 pixel")
    return x, y, w, h


def fit_size(width: int, height: int, max_size: int) -> tuple[int, int]:
    """Scale to fit max_size on the long side, keeping the aspect ratio; never upscale."""
    long_side = max(width, height)
    if long_side <= max_size:
        return width, height
    scale = max_size / long_side
    return max(1, round(width * scale)), max(1, round(height * scale))


def open_display(monitor: int, region: Region | None) -> tuple[Any, Area]:
    """An mss instance and the area to grab, or a UserError that says what to do."""
    if platform.system() == "Linux" and not os.environ.get("DISPLAY"):
        why = "DISPLAY is not set"
        if os.environ.get("WAYLAND_DISPLAY"):
            why += " (a Wayland session without XWayland?)"
        raise UserError(
            f"screen capture needs an X display: {why}. "
            f"Run under a desktop session, or start Xvfb, {DROP_HINT}."
        )
    try:
        import mss
        from mss.exception import ScreenShotError
    except ImportError as e:  # pragma: no cover - mss is a dependency
        raise UserError(f"screen capture needs the mss package: {e}. Reinstall, {DROP_HINT}.") from None
    sct = None
    try:
        sct = mss.MSS()
        monitors = sct.monitors
    except (ScreenShotError, OSError) as e:
        if sct is not None:
            close_quietly(sct)
        where = f"X display {os.environ.get('DISPLAY')!r}" if platform.system() == "Linux" else "the screen"
        raise UserError(
            f"screen capture cannot open {where}: {e}. Check that the X server is running and that "
            f"DISPLAY (and XAUTHORITY) point at it, {DROP_HINT}."
        ) from None
    try:
        return sct, resolve_area(monitors, monitor, region)
    except BaseException:
        close_quietly(sct)
        raise


def resolve_area(monitors: list[dict[str, Any]], monitor: int, region: Region | None) -> Area:
    """The rectangle for a monitor number (0 = all) and an optional region inside it."""
    count = len(monitors) - 1
    if count == 0 and monitor == 1:
        monitor = 0  # no RandR (some VNC servers): mss lists only the whole screen
    if not 0 <= monitor <= count:
        listing = "; ".join(f"{i or '0 = all'}: {_describe(m)}" for i, m in enumerate(monitors))
        choices = "1" if count == 1 else f"1–{count}"
        raise UserError(
            f"--screen-monitor {monitor}: this display has {count} monitor{'s' * (count != 1)} "
            f"({listing}). Pick {choices}, or 0 for all of them together."
        )
    mon = monitors[monitor]
    area = {k: int(mon[k]) for k in ("left", "top", "width", "height")}
    if region is None:
        return area
    x, y, w, h = region
    if x + w > area["width"] or y + h > area["height"]:
        raise UserError(
            f"--screen-region {x},{y},{w},{h} does not fit on monitor {monitor} ({_describe(mon)}): "
            f"it must lie within 0,0,{area['width']},{area['height']} (X,Y count from the monitor's "
            "top-left corner)."
        )
    return {"left": area["left"] + x, "top": area["top"] + y, "width": w, "height": h}


def _describe(mon: dict[str, Any]) -> str:
    return f"{mon['width']}×{mon['height']} at {mon['left']},{mon['top']}"


@dataclass(frozen=True, slots=True)
class Shot:
    """What one grab produced: the raw pixels, a JPEG (None when unchanged), how long it took."""

    raw: bytearray
    jpeg: bytes | None = None
    size: tuple[int, int] = (0, 0)
    grab_ms: float = 0.0
    total_ms: float = 0.0


class Grabber:
    """Owns one mss instance; every method must be called on the same thread."""

    def __init__(self, monitor: int, region: Region | None, max_size: int, quality: int) -> None:
        self.monitor, self.region, self.max_size, self.quality = monitor, region, max_size, quality
        self._sct: Any = None
        self._area: Area | None = None

    def open(self) -> Area:
        """Connect (again) if needed; raises UserError."""
        if self._sct is None:
            self._sct, self._area = open_display(self.monitor, self.region)
        assert self._area is not None
        return self._area

    def capture(self, last_raw: bytes | bytearray | None, force: bool) -> Shot:
        """Grab; unless forced, stop early when the pixels equal last_raw; else scale and encode."""
        t0 = time.perf_counter()
        area = self.open()
        try:
            shot = self._sct.grab(area)
        except Exception:
            self.close()  # reconnect on the next tick (server restarted, screen resized...)
            raise
        raw = shot.raw
        # A memcmp with the last frame sent: 0.6 ms for 1920×1080, where crc32 takes 3 ms.
        unchanged = not force and raw == last_raw
        t1 = time.perf_counter()
        if unchanged:
            return Shot(raw, grab_ms=(t1 - t0) * 1000, total_ms=(t1 - t0) * 1000)
        jpeg, size = encode(raw, tuple(shot.size), self.max_size, self.quality)
        t2 = time.perf_counter()
        return Shot(raw, jpeg, size, (t1 - t0) * 1000, (t2 - t0) * 1000)

    def close(self) -> None:
        sct, self._sct, self._area = self._sct, None, None
        if sct is not None:
            close_quietly(sct)


def close_quietly(sct: Any) -> None:
    """Close an mss instance exactly once, even if its connection is already lost."""
    try:
        sct.close()
    except Exception as e:  # noqa: BLE001 - mss raises when the X server has gone; a second close would double-free
        log.debug("closing mss: %s", e)


def encode(
    bgrx: bytes | bytearray, size: tuple[int, int], max_size: int, quality: int
) -> tuple[bytes, tuple[int, int]]:
    """BGRX pixels -> JPEG bytes scaled to fit max_size (never upscaled), and the JPEG's size."""
    img = Image.frombuffer("RGB", size, bgrx, "raw", "BGRX", 0, 1)
    target = fit_size(*size, max_size)
    if target != img.size:
        img = img.resize(target, RESAMPLE)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue(), img.size
