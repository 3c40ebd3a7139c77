"""A private Xvfb server for screen-capture tests and benchmarks, and a way to paint it.

Not a conftest: tests/conftest.py registers it as a plugin, so tests can ask for the `xvfb` fixture.
Painting goes straight through libX11 with ctypes (a pixmap set as the root window's
background), so it needs nothing beyond the `xvfb` package: no xsetroot, no ImageMagick,
no window manager. XSync makes every paint visible to the next grab, so tests need no polling.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from PIL import Image

Color = tuple[int, int, int]


class XvfbError(RuntimeError):
    """Xvfb could not be started."""


class Xvfb:
    """`Xvfb -displayfd` on a display number it picks itself; a context manager."""

    def __init__(self, width: int = 1920, height: int = 1080, depth: int = 24) -> None:
        self.width, self.height, self.depth = width, height, depth
        self.display = ""
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self, timeout: float = 15.0) -> Xvfb:
        exe = shutil.which("Xvfb")
        if exe is None:
            raise XvfbError("Xvfb is not installed (apt-get install xvfb)")
        # If this process dies without cleaning up (a crash in a C library), take Xvfb with it.
        # PDEATHSIG follows the starting thread, so start servers from a long-lived thread.
        setpriv = shutil.which("setpriv")
        guard = [setpriv, "--pdeathsig", "TERM", "--"] if setpriv else []
        rfd, wfd = os.pipe()
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop(); not a pipe: nobody reads it while the server runs
        try:
            self.proc = subprocess.Popen(
                [*guard, exe, "-displayfd", str(wfd), "-screen", "0",
                 f"{self.width}x{self.height}x{self.depth}", "-nolisten", "tcp", "-noreset"],
                pass_fds=(wfd,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=self._log,
            )
            os.close(wfd)
            wfd = -1
            # Xvfb writes the display number once it accepts connections.
            number = b""
            deadline = time.monotonic() + timeout
            while not number.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([rfd], [], [], left)[0]:
                    raise XvfbError(f"Xvfb did not start within {timeout} s")
                chunk = os.read(rfd, 16)
                if not chunk:
                    self.proc.wait(5)
                    self._log.seek(0)
                    err = self._log.read().decode(errors="replace").strip()[-500:]
                    raise XvfbError(f"Xvfb exited at start-up: {err}")
                number += chunk
        except BaseException:
            self.stop()
            raise
        finally:
            os.close(rfd)
            if wfd >= 0:
                os.close(wfd)
        self.display = f":{int(number)}"
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def cpu_seconds(self) -> float:
        """User + system CPU time the server has used (Linux /proc)."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> Xvfb:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---- painting the root window with libX11 --------------------------------------------------

_ZPIXMAP = 2
_ERROR_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)


def _load_xlib() -> ctypes.CDLL:
    name = ctypes.util.find_library("X11") or "libX11.so.6"
    x = ctypes.CDLL(name)
    vp, ul, c_int, c_uint = ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_uint
    sigs = {
        "XOpenDisplay": ([ctypes.c_char_p], vp),
        "XCloseDisplay": ([vp], c_int),
        "XDefaultScreen": ([vp], c_int),
        "XRootWindow": ([vp, c_int], ul),
        "XDefaultVisual": ([vp, c_int], vp),
        "XDefaultDepth": ([vp, c_int], c_int),
        "XDefaultGC": ([vp, c_int], vp),
        "XCreatePixmap": ([vp, ul, c_uint, c_uint, c_uint], ul),
        "XFreePixmap": ([vp, ul], c_int),
        "XCreateImage": ([vp, vp, c_uint, c_int, c_int, vp, c_uint, c_uint, c_int, c_int], vp),
        "XPutImage": ([vp, ul, vp, vp, c_int, c_int, c_int, c_int, c_uint, c_uint], c_int),
        "XDestroyImage": ([vp], c_int),
        "XSetWindowBackgroundPixmap": ([vp, ul, ul], c_int),
        "XClearWindow": ([vp, ul], c_int),
        "XSync": ([vp, c_int], c_int),
        "XSetErrorHandler": ([_ERROR_HANDLER], vp),
    }
    for fn, (args, res) in sigs.items():
        getattr(x, fn).argtypes, getattr(x, fn).restype = args, res
    return x


class _XErrorEvent(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("display", ctypes.c_void_p),
                ("resourceid", ctypes.c_ulong), ("serial", ctypes.c_ulong),
                ("error_code", ctypes.c_ubyte), ("request_code", ctypes.c_ubyte),
                ("minor_code", ctypes.c_ubyte)]


_x_errors: list[tuple[int, int]] = []


@_ERROR_HANDLER
def _record_x_error(_display: int | None, event: int | None) -> int:
    # The default Xlib handler calls exit(); record (error, request) and report it at XSync.
    e = ctypes.cast(event, ctypes.POINTER(_XErrorEvent)).contents
    _x_errors.append((e.error_code, e.request_code))
    return 0


class RootPainter:
    """Sets the root window's background to an image on one X display."""

    def __init__(self, display: str) -> None:
        self._x = _load_xlib()
        self._x.XSetErrorHandler(_record_x_error)
        self._libc = ctypes.CDLL(None)
        self._libc.malloc.argtypes, self._libc.malloc.restype = [ctypes.c_size_t], ctypes.c_void_p
        self._dpy = self._x.XOpenDisplay(display.encode())
        if not self._dpy:
            raise XvfbError(f"cannot open display {display}")
        self._screen = self._x.XDefaultScreen(self._dpy)
        self._root = self._x.XRootWindow(self._dpy, self._screen)
        self._depth = self._x.XDefaultDepth(self._dpy, self._screen)
        if self._depth not in (24, 32):
            raise XvfbError(f"painting needs a 24-bit screen, not {self._depth}")
        self._pixmaps: list[int] = []

    def prepare(self, image: Image.Image) -> int:
        """Upload an image into a server-side pixmap, for cheap switching with `use`."""
        x, dpy = self._x, self._dpy
        rgb = image.convert("RGB")
        w, h = rgb.size
        data = rgb.tobytes("raw", "BGRX")  # 32 bits per pixel, little-endian TrueColor
        buf = self._libc.malloc(len(data))  # XDestroyImage frees it
        ctypes.memmove(buf, data, len(data))
        ximage = x.XCreateImage(dpy, x.XDefaultVisual(dpy, self._screen), self._depth,
                                _ZPIXMAP, 0, buf, w, h, 32, w * 4)
        pixmap = x.XCreatePixmap(dpy, self._root, w, h, self._depth)
        x.XPutImage(dpy, pixmap, x.XDefaultGC(dpy, self._screen), ximage, 0, 0, 0, 0, w, h)
        x.XDestroyImage(ximage)
        self._pixmaps.append(pixmap)
        return pixmap

    def use(self, pixmap: int) -> None:
        """Show a prepared pixmap; on return the next grab sees it."""
        self._x.XSetWindowBackgroundPixmap(self._dpy, self._root, pixmap)
        self._x.XClearWindow(self._dpy, self._root)
        self._sync()

    def show(self, image: Image.Image) -> None:
        """Show an image (tiled from the top-left corner if smaller than the screen)."""
        pixmap = self.prepare(image)
        self.use(pixmap)
        self.free(pixmap)  # the window keeps its own reference

    def fill(self, color: Color) -> None:
        self.show(Image.new("RGB", (64, 64), color))

    def free(self, pixmap: int) -> None:
        self._pixmaps.remove(pixmap)
        self._x.XFreePixmap(self._dpy, pixmap)

    def _sync(self) -> None:
        self._x.XSync(self._dpy, 0)
        if _x_errors:
            codes, _x_errors[:] = list(_x_errors), []
            raise XvfbError(f"X errors while painting: {codes}")

    def close(self) -> None:
        if self._dpy:
            self._x.XCloseDisplay(self._dpy)
            self._dpy = None


# ---- content ------------------------------------------------------------------------------


def quadrants(size: tuple[int, int], colors: tuple[Color, Color, Color, Color]) -> Image.Image:
    """Top-left, top-right, bottom-left, bottom-right solid quadrants."""
    w, h = size
    img = Image.new("RGB", size)
    for (x, y), c in zip(((0, 0), (w // 2, 0), (0, h // 2), (w // 2, h // 2)), colors, strict=True):
        img.paste(c, (x, y, x + w - w // 2 if x else w // 2, y + h - h // 2 if y else h // 2))
    return img


def busy_desktop(size: tuple[int, int] = (1920, 1080), seed: int = 0) -> Image.Image:
    """A desktop-like picture: gradient, windows full of text, a photo-like area; `seed` varies it."""
    import random

    from PIL import ImageDraw, ImageFilter, ImageFont

    rng = random.Random(seed)
    w, h = size
    img = Image.linear_gradient("L").resize(size).convert("RGB")
    img = Image.merge("RGB", (img.getchannel(0), img.getchannel(0).point(lambda v: v // 2),
                              Image.new("L", size, 90)))
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(14)
    words = ("def", "return", "self", "frame", "screen", "capture", "import", "anyio", "async",
             "await", "monitor", "region", "quality", "=", "(", ")", ":", "0x1f", "42", "None")
    for i in range(4):  # editor / terminal windows
        x0, y0 = rng.randrange(0, w // 2), rng.randrange(0, h // 3)
        x1, y1 = min(w, x0 + rng.randrange(w // 3, w // 2)), min(h, y0 + rng.randrange(h // 3, h // 2 + 200))
        bg = (250, 250, 250) if i % 2 else (30, 30, 36)
        fg = (20, 20, 20) if i % 2 else (200, 220, 200)
        draw.rectangle((x0, y0, x1, y1), fill=bg, outline=(120, 120, 120))
        draw.rectangle((x0, y0, x1, y0 + 24), fill=(60, 90, 160))
        draw.text((x0 + 8, y0 + 4), f"window {seed}-{i}", fill=(255, 255, 255), font=font)
        for ty in range(y0 + 30, y1 - 16, 17):
            indent = " " * rng.randrange(0, 12)
            line = indent + " ".join(rng.choice(words) for _ in range(rng.randrange(2, 14)))
            draw.text((x0 + 8, ty), line, fill=fg, font=font)
    # a photo-like area: smooth colour blobs plus grain
    pw, ph = w // 3, h // 3
    noise = Image.frombytes("RGB", (pw // 16, ph // 16), rng.randbytes(pw // 16 * (ph // 16) * 3))
    photo = noise.resize((pw, ph), Image.BICUBIC).filter(ImageFilter.GaussianBlur(6))
    grain = Image.effect_noise((pw, ph), 18).convert("RGB")
    img.paste(Image.blend(photo, grain, 0.15), (w - pw - 40, h - ph - 60))
    draw.rectangle((0, h - 36, w, h), fill=(40, 40, 48))  # a task bar
    for i in range(20):
        icon = tuple(rng.randrange(256) for _ in range(3))
        draw.rectangle((10 + i * 44, h - 32, 44 + i * 44, h - 4), fill=icon)
    return img


class Screen:
    """What the `xvfb` fixture yields: the display name, its size and painting helpers."""

    def __init__(self, server: Xvfb, painter: RootPainter) -> None:
        self.server, self.painter = server, painter
        self.display = server.display
        self.width, self.height = server.width, server.height

    def fill(self, color: Color) -> None:
        self.painter.fill(color)

    def show(self, image: Image.Image) -> None:
        self.painter.show(image)

    def quadrants(self, colors: tuple[Color, Color, Color, Color]) -> None:
        self.painter.show(quadrants((self.width, self.height), colors))


@contextlib.contextmanager
def running_xvfb(width: int = 1920, height: int = 1080) -> Iterator[Screen]:
    """Start Xvfb, point DISPLAY at it, and undo both afterwards."""
    old = os.environ.get("DISPLAY")
    with Xvfb(width, height) as server:
        painter = RootPainter(server.display)
        os.environ["DISPLAY"] = server.display
        try:
            yield Screen(server, painter)
        finally:
            painter.close()
            if old is None:
                os.environ.pop("DISPLAY", None)
            else:
                os.environ["DISPLAY"] = old


def unused_display() -> str:
    """A display name with no server behind it."""
    for n in range(917, 1017):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return f":{n}"
    raise XvfbError("no unused display number found")


try:
    import pytest
except ImportError:  # the benchmark runs without pytest
    pass
else:

    @pytest.fixture(scope="session")
    def xvfb() -> Iterator[Screen]:
        """A 1920×1080 Xvfb for the whole session, with DISPLAY set to it."""
        if shutil.which("Xvfb") is None:
            if os.environ.get("CI"):
                pytest.fail("Xvfb is not installed: scripts/setup --test installs it")
            pytest.skip("Xvfb is not installed (apt-get install xvfb, or scripts/setup --test)")
        with running_xvfb() as screen:
            yield screen
