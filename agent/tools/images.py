"""Images in tool results reach the model: taken from MCP content (image blocks, image resources),
decoded and bounded here; the router attaches them to the call's FunctionResult.

Where the model's profile takes them (`response_images`), they go in the FunctionResponse's
`parts` as inline data; elsewhere as an image input (realtime video) right after the response.
The model's JSON still describes each image (type, MIME type, size), never its base64.
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass
from typing import Any

from agent.tools.json_trim import cut_size

logger = logging.getLogger(__name__)

IMAGES = "\0images"  # the key of a backend's answer that carries images; the router takes it off
MAX_IMAGES = 4  # per result
MAX_IMAGE_BYTES = 4 * 1024 * 1024  # decoded, per image
MIME_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/heic", "image/heif", "image/gif"})


@dataclass(frozen=True)
class ImagePart:
    """One image for the model."""

    mime_type: str
    data: bytes

    def __repr__(self) -> str:  # never the bytes in logs
        return f"ImagePart({self.mime_type}, {len(self.data):,} bytes)"


def image_of(block: Any) -> tuple[ImagePart | None, str]:
    """The image a content block carries (an image, or an embedded image resource), or why not ("" if none)."""
    if not isinstance(block, dict):
        return None, ""
    if block.get("type") == "image":
        mime, data = block.get("mimeType"), block.get("data")
    elif block.get("type") == "resource" and isinstance(block.get("resource"), dict):
        mime, data = block["resource"].get("mimeType"), block["resource"].get("blob")
    else:
        return None, ""
    if not isinstance(mime, str) or mime.lower() not in MIME_TYPES or not isinstance(data, str):
        return None, "" if block.get("type") == "resource" else f"an image of type {mime!r} the model cannot take"
    if cut_size(data) is not None:
        return None, "an image too large to read whole from the server's output"
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None, "an image whose data is not valid base64"
    if len(raw) > MAX_IMAGE_BYTES:
        return None, f"an image of {len(raw):,} bytes (more than {MAX_IMAGE_BYTES:,})"
    return ImagePart(mime.lower(), raw), ""


def images_in(blocks: list[Any]) -> tuple[list[ImagePart], list[str]]:
    """The images of a result's content (at most MAX_IMAGES), and notes on those left out."""
    found: list[ImagePart] = []
    notes: list[str] = []
    for block in blocks:
        image, why = image_of(block)
        if image is not None and len(found) < MAX_IMAGES:
            found.append(image)
        elif image is not None:
            notes.append(f"more than {MAX_IMAGES} images: the rest were not shown to you")
        elif why:
            notes.append(why + " was not shown to you")
    return found, list(dict.fromkeys(notes))


def take_images(result: Any) -> tuple[Any, tuple[ImagePart, ...]]:
    """A backend's answer without its images, and the images."""
    if isinstance(result, dict) and IMAGES in result:
        result = dict(result)
        images = result.pop(IMAGES)
        return result, tuple(i for i in images if isinstance(i, ImagePart))
    return result, ()
