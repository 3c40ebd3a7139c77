"""Screen capture against a real X server (Xvfb started by tests/screen_env.py)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import AsyncIterator, Callable

import anyio
import pytest
from anyio.streams.memory import MemoryObjectReceiveStream
from PIL import Image, ImageStat

from agent.errors import ConfigError, UserError
from agent.events import VideoFrame
from agent.media.screen import ScreenCapture, parse_region
from agent.media.screen_grab import fit_size, resolve_area
from tests.screen_env import Screen, Xvfb, unused_display

pytestmark = pytest.mark.screen

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# ---- helpers --------------------------------------------------------------------------------


def decode(frame: VideoFrame) -> Image.Image:
    img = Image.open(io.BytesIO(frame.data))
    assert img.format == "JPEG" and frame.mime_type == "image/jpeg"
    assert img.size == (frame.width, frame.height)
    return img.convert("RGB")


def mean(img: Image.Image, box: tuple[float, float, float, float] = (0, 0, 1, 1)) -> tuple[float, ...]:
    """Mean colour of a box given as fractions of the image (inset to avoid edge blur)."""
    w, h = img.size
    x0, y0, x1, y1 = box
    return tuple(ImageStat.Stat(img.crop((int(x0 * w), int(y0 * h), int(x1 * w), int(y1 * h)))).mean)


def near(actual: tuple[float, ...], expected: tuple[int, int, int], tol: float = 12) -> bool:
    return all(abs(a - e) <= tol for a, e in zip(actual, expected, strict=False))  # RGB of RGBA too


async def until(condition: Callable[[], bool]) -> None:
    """Poll a counter; callers bound it with fail_after."""
    while not condition():
        await anyio.sleep(0.02)


@contextlib.asynccontextmanager
async def capturing(
    buffer: int = 1, **kw: object
) -> AsyncIterator[tuple[ScreenCapture, MemoryObjectReceiveStream[VideoFrame]]]:
    send, recv = anyio.create_memory_object_stream[VideoFrame](buffer)
    cap = ScreenCapture(send, **kw)
    with recv:
        async with anyio.create_task_group() as tg:
            with anyio.fail_after(10):
                await tg.start(cap.run)
            yield cap, recv
            tg.cancel_scope.cancel()


# ---- parse_region and sizes -----------------------------------------------------------------


def test_parse_region_accepts_four_whole_numbers() -> None:
    assert parse_region("10,20,640,480") == (10, 20, 640, 480)
    assert parse_region(" 0, 0 ,1, 1 ") == (0, 0, 1, 1)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("10,20,640", "X,Y,W,H"),
        ("", "X,Y,W,H"),
        ("1,2,3,4,5", "X,Y,W,H"),
        ("a,0,10,10", "X must be a whole number"),
        ("0,0,10.5,10", "W must be a whole number"),
        ("-5,0,10,10", "0 or more"),
        ("0,0,0,10", "at least 1 pixel"),
        ("0,0,10,-1", "at least 1 pixel"),
    ],
)
def test_parse_region_rejects_with_a_clear_config_error(text: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_region(text)
    assert info.value.source == "command line" and info.value.key == "--screen-region"
    assert words in str(info.value) and str(info.value).startswith("command line: --screen-region: ")


def test_parse_region_names_the_config_file_when_asked() -> None:
    with pytest.raises(ConfigError, match=r"^gemini-live.toml: screen_region: "):
        parse_region("1,2", source="gemini-live.toml", key="screen_region")


def test_bad_region_text_fails_when_the_capture_is_built() -> None:
    send, recv = anyio.create_memory_object_stream[VideoFrame](1)
    with send, recv, pytest.raises(ConfigError, match="--screen-region"):
        ScreenCapture(send, fps=1, region="1,2,3")


def test_fit_size_scales_down_only() -> None:
    assert fit_size(1920, 1080, 1024) == (1024, 576)
    assert fit_size(1080, 1920, 1024) == (576, 1024)
    assert fit_size(800, 600, 1024) == (800, 600)
    assert fit_size(1024, 10, 1024) == (1024, 10)
    assert fit_size(4000, 1, 100) == (100, 1)


def test_region_counts_from_the_monitor_corner() -> None:
    monitors = [
        {"left": -1280, "top": 0, "width": 3200, "height": 1080},
        {"left": 0, "top": 0, "width": 1920, "height": 1080},
        {"left": -1280, "top": 56, "width": 1280, "height": 1024},
    ]
    assert resolve_area(monitors, 2, (10, 20, 100, 50)) == {"left": -1270, "top": 76, "width": 100, "height": 50}
    assert resolve_area(monitors, 0, None) == {"left": -1280, "top": 0, "width": 3200, "height": 1080}
    with pytest.raises(UserError, match=r"Pick 1–2, or 0"):
        resolve_area(monitors, 3, None)


def test_without_randr_monitor_1_is_the_whole_screen() -> None:
    root = {"left": 0, "top": 0, "width": 800, "height": 600}
    assert resolve_area([root], 1, (0, 0, 80, 60)) == {"left": 0, "top": 0, "width": 80, "height": 60}


# ---- no display -----------------------------------------------------------------------------


def test_no_display_variable_is_a_user_error_with_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    send, recv = anyio.create_memory_object_stream[VideoFrame](1)
    with send, recv, pytest.raises(UserError) as info:
        ScreenCapture(send, fps=1).check()
    msg = str(info.value)
    assert "needs an X display: DISPLAY is not set" in msg
    assert "Xvfb" in msg and "--screen-capture-fps" in msg


def test_display_without_a_server_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    display = unused_display()
    monkeypatch.setenv("DISPLAY", display)
    send, recv = anyio.create_memory_object_stream[VideoFrame](1)
    with send, recv, pytest.raises(UserError) as info:
        ScreenCapture(send, fps=1).check()
    assert f"cannot open X display '{display}'" in str(info.value)
    assert "--screen-capture-fps" in str(info.value)


@pytest.mark.anyio
async def test_run_without_a_display_raises_the_user_error_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPLAY", unused_display())
    send, recv = anyio.create_memory_object_stream[VideoFrame](1)
    with recv, anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            with pytest.raises(UserError, match="cannot open X display"):
                await tg.start(ScreenCapture(send, fps=1).run)
    with pytest.raises(anyio.ClosedResourceError):
        send.send_nowait(VideoFrame(b""))  # run closed its stream on the way out


def test_check_passes_on_a_display(xvfb: Screen) -> None:
    send, recv = anyio.create_memory_object_stream[VideoFrame](1)
    with send, recv:
        ScreenCapture(send, fps=1).check()
        ScreenCapture(send, fps=1, monitor=0, region=(0, 0, 1920, 1080)).check()


def test_monitor_out_of_range_lists_the_monitors(xvfb: Screen) -> None:
    send, recv = anyio.create_memory_object_stream[VideoFrame](1)
    with send, recv, pytest.raises(UserError) as info:
        ScreenCapture(send, fps=1, monitor=3).check()
    msg = str(info.value)
    assert "--screen-monitor 3" in msg and "1 monitor" in msg and "1920×1080 at 0,0" in msg


@pytest.mark.parametrize("region", [(1900, 0, 100, 100), (0, 1000, 10, 81), (0, 0, 1921, 1080)])
def test_region_outside_the_screen_is_a_user_error(xvfb: Screen, region: tuple[int, int, int, int]) -> None:
    send, recv = anyio.create_memory_object_stream[VideoFrame](1)
    expected = r"--screen-region .* does not fit on monitor 1 \(1920×1080"
    with send, recv, pytest.raises(UserError, match=expected):
        ScreenCapture(send, fps=1, region=region).check()


# ---- frames ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_full_screen_frame_is_a_scaled_jpeg_of_the_screen(xvfb: Screen) -> None:
    xvfb.fill(RED)
    async with capturing(fps=5) as (cap, recv):
        with anyio.fail_after(5):
            frame = await recv.receive()
    img = decode(frame)
    assert img.size == (1024, 576)
    assert near(mean(img), RED)
    assert cap.stats.frames_sent == 1 and cap.stats.bytes_sent == len(frame.data)
    assert cap.stats.last_encode_ms > 0 and cap.stats.avg_encode_ms > 0


@pytest.mark.anyio
async def test_frame_shows_the_pattern_in_the_right_places(xvfb: Screen) -> None:
    xvfb.quadrants((RED, GREEN, BLUE, WHITE))
    async with capturing(fps=5, max_size=640, quality=90) as (_cap, recv):
        with anyio.fail_after(5):
            img = decode(await recv.receive())
    assert img.size == (640, 360)
    assert near(mean(img, (0.05, 0.05, 0.45, 0.45)), RED)
    assert near(mean(img, (0.55, 0.05, 0.95, 0.45)), GREEN)
    assert near(mean(img, (0.05, 0.55, 0.45, 0.95)), BLUE)
    assert near(mean(img, (0.55, 0.55, 0.95, 0.95)), WHITE)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("region", "max_size", "size"),
    [
        ((960 - 320, 540 - 240, 640, 480), 1024, (640, 480)),  # small regions are not upscaled
        ((0, 0, 1600, 400), 800, (800, 200)),
        ((960 - 100, 540 - 300, 200, 600), 300, (100, 300)),
    ],
)
async def test_region_capture_is_that_rectangle(xvfb: Screen, region, max_size, size) -> None:
    xvfb.quadrants((RED, GREEN, BLUE, WHITE))
    async with capturing(fps=5, region=region, max_size=max_size, quality=90) as (_cap, recv):
        with anyio.fail_after(5):
            frame = await recv.receive()
    img = decode(frame)
    assert img.size == size
    # Where the region's corners fall on the quadrant pattern.
    x, y, w, h = region
    for fx, fy in ((0.1, 0.1), (0.9, 0.1), (0.1, 0.9), (0.9, 0.9)):
        sx, sy = x + fx * w, y + fy * h
        expected = (RED, GREEN, BLUE, WHITE)[(sx >= 960) + 2 * (sy >= 540)]
        assert near(mean(img, (fx - 0.05, fy - 0.05, fx + 0.05, fy + 0.05)), expected), (fx, fy)


@pytest.mark.anyio
async def test_all_monitors_together(xvfb: Screen) -> None:
    xvfb.fill(BLUE)
    async with capturing(fps=5, monitor=0, max_size=480) as (_cap, recv):
        with anyio.fail_after(5):
            img = decode(await recv.receive())
    assert img.size == (480, 270) and near(mean(img), BLUE)


@pytest.mark.anyio
async def test_frame_rate_holds_when_every_frame_is_sent(xvfb: Screen) -> None:
    xvfb.quadrants((RED, GREEN, BLUE, WHITE))
    fps, n = 5.0, 11
    async with capturing(fps=fps, skip_unchanged=False) as (cap, recv):
        with anyio.fail_after(20):
            await recv.receive()
            t0 = anyio.current_time()
            for _ in range(n - 1):
                await recv.receive()
            elapsed = anyio.current_time() - t0
    # n frames span n-1 periods: never faster than the ticker, and generously not much slower.
    assert (n - 1) / fps * 0.85 <= elapsed <= (n - 1) / fps * 3 + 2
    assert cap.stats.frames_dropped == 0 and cap.stats.frames_skipped == 0
    assert cap.stats.frames_sent >= n


@pytest.mark.anyio
async def test_slow_captures_skip_ticks_instead_of_bunching_up(xvfb: Screen) -> None:
    xvfb.quadrants((RED, GREEN, BLUE, WHITE))
    fps = 1000.0  # a 1 ms period: every full-screen capture overruns it
    async with capturing(fps=fps, skip_unchanged=False) as (cap, recv):
        t0 = anyio.current_time()
        with anyio.fail_after(20):
            for _ in range(10):
                await recv.receive()
        elapsed = anyio.current_time() - t0
        s = cap.stats
        handled = s.frames_sent + s.frames_skipped + s.frames_dropped + s.errors
    assert s.ticks_missed > handled  # most ticks passed over, not run late one after another
    assert handled + s.ticks_missed <= (elapsed + 0.5) * fps  # every tick of the grid accounted once


@pytest.mark.anyio
async def test_unchanged_screen_is_skipped_and_a_change_is_sent(xvfb: Screen) -> None:
    xvfb.fill(BLUE)
    async with capturing(fps=10, keepalive_s=60) as (cap, recv):
        with anyio.fail_after(5):
            assert near(mean(decode(await recv.receive())), BLUE)
            await until(lambda: cap.stats.frames_skipped >= 3)
        with pytest.raises(anyio.WouldBlock):
            recv.receive_nowait()
        assert cap.stats.frames_sent == 1
        xvfb.fill(GREEN)
        with anyio.fail_after(5):
            frame = await recv.receive()
        assert near(mean(decode(frame)), GREEN)
        assert cap.stats.frames_sent == 2 and cap.stats.last_grab_ms > 0


@pytest.mark.anyio
async def test_keepalive_frame_is_sent_for_an_unchanged_screen(xvfb: Screen) -> None:
    xvfb.fill(RED)
    async with capturing(fps=10, keepalive_s=0.5) as (cap, recv):
        with anyio.fail_after(5):
            await recv.receive()
            frame = await recv.receive()
        assert near(mean(decode(frame)), RED)
        # Ticks at 0.1 .. 0.4 s were skipped (fewer if the machine was too busy to run them).
        assert 1 <= cap.stats.frames_skipped <= 4 and cap.stats.frames_sent == 2


@pytest.mark.anyio
async def test_skip_unchanged_off_sends_every_tick(xvfb: Screen) -> None:
    xvfb.fill(RED)
    async with capturing(fps=10, skip_unchanged=False) as (cap, recv):
        with anyio.fail_after(5):
            for _ in range(3):
                await recv.receive()
        assert cap.stats.frames_skipped == 0


@pytest.mark.anyio
async def test_busy_consumer_drops_frames_instead_of_queueing(xvfb: Screen) -> None:
    xvfb.fill(RED)
    async with capturing(fps=20, skip_unchanged=False) as (cap, recv):
        with anyio.fail_after(5):
            await until(lambda: cap.stats.frames_dropped >= 5)
        assert cap.stats.frames_sent == 1  # the one frame the buffer holds
        assert recv.statistics().current_buffer_used == 1
        xvfb.fill(GREEN)
        with anyio.fail_after(5):
            stale = await recv.receive()  # the consumer comes back...
            fresh = await recv.receive()  # ...and the next frame is a current one
        assert near(mean(decode(stale)), RED) and near(mean(decode(fresh)), GREEN)


@pytest.mark.anyio
async def test_change_made_while_the_consumer_was_busy_is_delivered(xvfb: Screen) -> None:
    xvfb.fill(RED)
    async with capturing(fps=20) as (cap, recv):
        with anyio.fail_after(5):
            await recv.receive()
            xvfb.fill(GREEN)
            await until(lambda: cap.stats.frames_sent == 2)  # green waits in the buffer
            xvfb.fill(BLUE)
            await until(lambda: cap.stats.frames_dropped >= 2)
            assert near(mean(decode(await recv.receive())), GREEN)
            assert near(mean(decode(await recv.receive())), BLUE)


@pytest.mark.anyio
async def test_run_ends_when_the_receiver_closes(xvfb: Screen) -> None:
    send, recv = anyio.create_memory_object_stream[VideoFrame](1)
    cap = ScreenCapture(send, fps=20, skip_unchanged=False)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(cap.run)
            await recv.receive()
            recv.close()  # run returns by itself; the task group exits without a cancel
    assert cap.stats.frames_sent >= 1


@pytest.mark.anyio
async def test_lost_display_is_counted_not_fatal(xvfb: Screen, monkeypatch: pytest.MonkeyPatch) -> None:
    with Xvfb(320, 240) as server:
        monkeypatch.setenv("DISPLAY", server.display)
        async with capturing(fps=20, skip_unchanged=False) as (cap, recv):
            with anyio.fail_after(5):
                frame = await recv.receive()
            assert (frame.width, frame.height) == (320, 240)
            server.stop()
            with anyio.fail_after(10):
                await until(lambda: cap.stats.errors >= 2)
