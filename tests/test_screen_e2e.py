"""Screen capture from the CLI, on a real X server, against the fake Live server."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image, ImageStat

from tests.conftest import TEXT_ONLY, run_agent
from tests.fakes.live_server import FakeConnection

pytestmark = pytest.mark.screen

FRAMES = 3


async def look_then_answer(conn: FakeConnection) -> None:
    """Answer the question only after a few frames of video have arrived."""
    await conn.expect_text()
    for _ in range(FRAMES):
        await conn.expect("realtime_input", lambda m: m.video is not None, timeout=20)
    await conn.send_text("I see a red screen.")


def test_cli_streams_frames_of_the_screen(live, xvfb) -> None:
    xvfb.fill((200, 20, 20))
    server = live(look_then_answer)
    result = run_agent(*TEXT_ONLY, "--screen-capture-fps", "4", "--no-screen-skip-unchanged", "--no-context-compression",
                       input="what do you see?\n")
    assert result.status == 0, result.stderr
    assert result.stdout == "I see a red screen.\n"
    conn = server.connections[0]
    # Video makes the session end after 2 minutes without compression: it is on regardless.
    assert conn.setup["context_window_compression"] == {"sliding_window": {}}
    frames = [m.video for m in conn.received if m.video is not None]
    assert len(frames) >= FRAMES
    for data, mime in frames:
        assert mime == "image/jpeg"
        image = Image.open(io.BytesIO(data))
        assert image.format == "JPEG" and image.size == (1024, 576)
        r, g, b = ImageStat.Stat(image.convert("RGB")).mean
        assert r > 150 and g < 60 and b < 60


def test_cli_region_and_size(live, xvfb) -> None:
    xvfb.fill((20, 20, 200))
    server = live(look_then_answer)
    result = run_agent(*TEXT_ONLY, "--screen-capture-fps", "4", "--no-screen-skip-unchanged",
                       "--screen-region", "100,100,800,400", "--screen-max-size", "400", input="look\n")
    assert result.status == 0, result.stderr
    sizes = {Image.open(io.BytesIO(m.video[0])).size for m in server.connections[0].received if m.video}
    assert sizes == {(400, 200)}


def test_no_display_is_a_clear_error(clean_env) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env["GOOGLE_API_KEY"] = "k"
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "agent", *TEXT_ONLY, "--screen-capture-fps", "1"],
                          input="", capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2
    assert "DISPLAY" in proc.stderr and "--screen-capture-fps" in proc.stderr
    assert "Traceback" not in proc.stderr
