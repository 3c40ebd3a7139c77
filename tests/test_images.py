"""Images reach the model (issue 10, item 6): image content and image resources in a tool result go
in the FunctionResponse's parts where the model's profile takes them, else as an image input
right after the response; the JSON describes them and never carries their base64."""

from __future__ import annotations

import base64
import contextlib
import json
from pathlib import Path
from typing import Any

from agent.profiles import profile_for
from agent.tools.images import IMAGES, MAX_IMAGES, ImagePart, images_in, take_images
from agent.tools.json_trim import CUT_MARK
from agent.tools.mcp_results import format_call_result
from tests.conftest import TEXT_ONLY, run_agent
from tests.fakes.live_server import FakeConnection, b64decode
from tests.fakes.mcp_servers import PNG
from tests.test_questions import people_config

WAIT = 30
PNG64 = base64.b64encode(PNG).decode()


def test_images_are_taken_from_image_blocks_and_image_resources_within_bounds() -> None:
    blocks = [
        {"type": "text", "text": "hi"},
        {"type": "image", "mimeType": "image/png", "data": PNG64},
        {"type": "resource", "resource": {"uri": "file:///a.jpg", "mimeType": "image/jpeg", "blob": PNG64}},
        {"type": "resource", "resource": {"uri": "file:///a.bin", "mimeType": "application/octet-stream", "blob": PNG64}},
        {"type": "image", "mimeType": "image/x-icon", "data": PNG64},
        {"type": "image", "mimeType": "image/png", "data": "not base64!"},
        {"type": "image", "mimeType": "image/png", "data": "AAAA" + CUT_MARK.format(size=9_000_000)},
    ]
    images, notes = images_in(blocks)
    assert images == [ImagePart("image/png", PNG), ImagePart("image/jpeg", PNG)]
    assert len(notes) == 3 and any("image/x-icon" in n for n in notes) and any("too large" in n for n in notes)
    many, notes = images_in([blocks[1]] * (MAX_IMAGES + 2))
    assert len(many) == MAX_IMAGES and notes == [f"more than {MAX_IMAGES} images: the rest were not shown to you"]
    assert "bytes" in repr(images[0]) and "\\x89PNG" not in repr(images[0])


def test_a_result_keeps_its_description_for_the_model_and_hands_the_image_on() -> None:
    raw = {"content": [{"type": "text", "text": "the screen"}, {"type": "image", "mimeType": "image/png", "data": PNG64}]}
    answer, images = take_images(format_call_result(raw))
    assert images == (ImagePart("image/png", PNG),) and IMAGES not in answer
    assert answer == {"output": {"text": "the screen", "content": [{"type": "image", "mimeType": "image/png", "bytes": len(PNG)}]}}
    assert PNG64[:20] not in json.dumps(answer)


def test_which_models_take_images_in_the_response() -> None:
    assert profile_for("gemini-3.8-live")[0].response_images and profile_for("gemini-3.8-live-extended-thinking")[0].response_images
    assert not profile_for("gemini-3.1-flash-live-preview")[0].response_images
    assert not profile_for("gemini-2.5-flash-native-audio-preview-09-2025")[0].response_images
    assert profile_for("gemini-3.1-flash-live-preview", {"response_images": True})[0].response_images


def screenshot_model(got: list[dict[str, Any]], after: list[Any]) -> Any:
    async def model(conn: FakeConnection) -> None:
        await conn.expect_text()
        await conn.send_tool_call({"id": "s", "name": "people__screenshot", "args": {}})
        got.extend(await conn.expect_tool_response(timeout=WAIT))
        with contextlib.suppress(TimeoutError):  # what the client sends next: an image input, or nothing
            after.append(await conn.expect("realtime_input", lambda m: m.video is not None, timeout=1.5))
        await conn.send_text("I see it.")

    return model


def test_on_38_the_picture_goes_in_the_function_response_parts(live, clean_env: Path) -> None:
    people_config(clean_env)
    got: list[dict[str, Any]] = []
    after: list[Any] = []
    live(screenshot_model(got, after))
    result = run_agent(*TEXT_ONLY, "--model", "gemini-3.8-live", input="look at my screen\n")
    assert result.status == 0, result.stderr
    (response,) = got
    assert response["name"] == "people__screenshot"
    (part,) = response["parts"]
    assert part["inline_data"]["mime_type"] == "image/png" and b64decode(part["inline_data"]["data"]) == PNG
    assert response["response"]["output"]["content"] == [{"type": "image", "mimeType": "image/png", "bytes": len(PNG)}]
    assert after == []  # not sent a second time


def test_on_31_the_picture_follows_the_response_as_an_image_input(live, clean_env: Path) -> None:
    people_config(clean_env)
    got: list[dict[str, Any]] = []
    after: list[Any] = []
    server = live(screenshot_model(got, after))
    result = run_agent(*TEXT_ONLY, "--model", "gemini-3.1-flash-live-preview", input="look at my screen\n")
    assert result.status == 0, result.stderr
    (response,) = got
    assert "parts" not in response
    (frame,) = after
    assert frame.video == (PNG, "image/png")
    assert server.connections[0].violation is None  # sent once the call was answered, so 3.1 takes it
