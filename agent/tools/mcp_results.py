"""Turn raw MCP results (wire dicts) into what the router sends back: {"output": ...} or {"error": ...}.

Works on the raw JSON-RPC result rather than mcp's pydantic models, so a server whose result
is slightly off-spec still gets its answer through. Binary content is summarised, never passed
on as base64; long text is trimmed with a note saying so.
"""

from __future__ import annotations

import json
import logging
import math
import reprlib
from typing import Any

from agent.tools.base import DiscoveredTool
from agent.tools.images import IMAGES, images_in
from agent.tools.json_trim import cut_size
from agent.tools.results import no_results

logger = logging.getLogger(__name__)

MAX_TEXT_CHARS = 32_000  # per result; a Live tool response is context the model has to read
MAX_CONTENT_SUMMARIES = 50  # non-text content blocks described per result
MAX_RESULT_DEPTH = 32  # nesting of structuredContent; the SDK cannot serialise ~250 levels
DEEP_NOTE = f"[nested deeper than {MAX_RESULT_DEPTH} levels; cut]"
_REPR = reprlib.Repr()  # odd values shown bounded in depth and size (repr() itself recurses without end)
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlist, _REPR.maxdict = 6, 200, 200, 20, 20


def trim(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """Cut `text` to `limit` characters, saying how much was left out."""
    original = cut_size(text)  # the stdio reader already cut it while reading
    if original is None and len(text) <= limit:
        return text
    if original is None:
        return f"{text[:limit]}\n[truncated: the result had {len(text):,} characters; only the first {limit:,} are shown]"
    shown = text[: min(limit, text.rfind("… [cut:"))]
    return f"{shown}\n[truncated: the result had about {original:,} bytes; only the first {len(shown):,} characters are shown]"


def base64_size(data: Any) -> int | None:
    """Decoded size in bytes of a base64 string, without decoding it."""
    if not isinstance(data, str):
        return None
    original = cut_size(data)
    if original is not None:  # cut while reading: its full length is known, its padding is not
        return original * 3 // 4
    body = "".join(data.split())
    return len(body) * 3 // 4 - (len(body) - len(body.rstrip("=")))


def plain_json(value: Any, depth: int = 0) -> Any:
    """`value` as JSON the API accepts: NaN and infinities as strings, nesting cut with a note."""
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)  # as local functions send them
    if isinstance(value, dict):
        if depth >= MAX_RESULT_DEPTH:
            return DEEP_NOTE
        return {str(k): plain_json(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return DEEP_NOTE if depth >= MAX_RESULT_DEPTH else [plain_json(v, depth + 1) for v in value]
    return value


def _summary(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, **{k: v for k, v in fields.items() if v is not None}}


def summarise_block(block: Any) -> tuple[str | None, dict[str, Any] | None]:
    """One content block -> (text to show, summary of something that is not text)."""
    if not isinstance(block, dict):
        return None, _summary("unknown", value=_REPR.repr(block))
    kind = block.get("type")
    if kind == "text":
        text = block.get("text")
        return (text if isinstance(text, str) else str(text)), None
    if kind in ("image", "audio"):
        return None, _summary(kind, mimeType=block.get("mimeType"), bytes=base64_size(block.get("data")))
    if kind == "resource":
        res = block.get("resource")
        res = res if isinstance(res, dict) else {}
        uri, mime = res.get("uri"), res.get("mimeType")
        if isinstance(res.get("text"), str):
            return None, _summary("resource", uri=uri, mimeType=mime, text=res["text"])
        return None, _summary("resource", uri=uri, mimeType=mime, bytes=base64_size(res.get("blob")))
    if kind == "resource_link":
        return None, _summary(
            "resource_link",
            uri=block.get("uri"),
            name=block.get("name"),
            mimeType=block.get("mimeType"),
            description=block.get("description"),
            bytes=block.get("size"),
        )
    return None, _summary(str(kind), keys=sorted(block)[:10])


def _fits(value: Any, limit: int) -> tuple[bool, str]:
    try:
        dumped = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        dumped = str(value)
    return len(dumped) <= limit, dumped


def _same_as_text(structured: Any, text: str) -> bool:
    """Whether `text` says nothing the structured content does not (its JSON, or a wrapped scalar)."""
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: JSON text nested too deep to parse
        parsed = text
    if parsed == structured:
        return True
    # MCPServer wraps a non-object return value as {"result": value}
    if isinstance(structured, dict) and len(structured) == 1:
        (value,) = structured.values()
        return parsed == value or text == str(value)
    return False


def format_call_result(raw: Any) -> dict[str, Any]:
    """A raw `tools/call` result -> {"output": ...} or {"error": "..."}."""
    if not isinstance(raw, dict):
        return {"error": f"the MCP server sent a malformed tools/call result: {_REPR.repr(raw)}"}
    content = raw.get("content")
    blocks = content if isinstance(content, list) else []
    texts: list[str] = []
    others: list[dict[str, Any]] = []
    for block in blocks:
        text, other = summarise_block(block)
        if text is not None:
            texts.append(text)
        if other is not None:
            others.append(other)
    text = "\n".join(texts)

    if raw.get("isError") is True:
        detail = text or "; ".join(json.dumps(o) for o in others)
        return {"error": trim(detail) or "the tool reported an error without a message"}

    structured = plain_json(raw.get("structuredContent"))
    budget = MAX_TEXT_CHARS
    parts: dict[str, Any] = {}
    if structured is not None:
        fits, dumped = _fits(structured, budget)
        if text and _same_as_text(structured, text):
            # the text only repeats the structured content (MCPServer sends both): keep one
            if not fits:
                structured, fits = None, True  # the plain text trims more readably than JSON
            else:
                text = ""
        if structured is not None:
            parts["structuredContent"] = structured if fits else trim(dumped, budget)
            budget = max(budget - len(dumped), 1_000)
    if text:
        parts["text"] = trim(text, budget)
        budget -= len(parts["text"])
    for other in others:  # embedded text resources share what is left
        if isinstance(other.get("text"), str):
            other["text"] = trim(other["text"], max(budget, 200))
            budget -= len(other["text"])
    if len(others) > MAX_CONTENT_SUMMARIES:
        left_out = len(others) - MAX_CONTENT_SUMMARIES
        others = [*others[:MAX_CONTENT_SUMMARIES], {"type": "note", "text": f"{left_out} more content blocks left out"}]
    if others:
        parts["content"] = others

    if not parts:  # an empty answer reads as a failure to 3.8, which calls again: say it plainly
        return no_results()
    images, notes = images_in(blocks)  # the pictures themselves go to the model beside the JSON
    if notes:
        parts.setdefault("content", []).extend({"type": "note", "text": note} for note in notes)
    answer: dict[str, Any] = {"output": parts}
    if list(parts) == ["text"]:
        answer = {"output": parts["text"]}
    elif list(parts) == ["structuredContent"]:
        answer = {"output": parts["structuredContent"]}
    if images:
        answer[IMAGES] = images
    return answer


def tools_from_raw(source: str, raw_tools: Any) -> list[DiscoveredTool]:
    """Raw `tools/list` entries -> DiscoveredTool, skipping (and logging) only entries with no name."""
    tools = []
    for entry in raw_tools if isinstance(raw_tools, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
            logger.warning("MCP server %s listed a tool without a name: %.200r", source, entry)
            continue
        schema = entry.get("inputSchema")
        if not isinstance(schema, dict):
            schema = {}
        # Passed on as sent, even {"$schema": ...} alone (zod 4): the schema compiler decides.
        annotations = entry.get("annotations")
        description = entry.get("description")
        if not isinstance(description, str):
            description = entry.get("title") if isinstance(entry.get("title"), str) else ""
        tools.append(
            DiscoveredTool(
                source=source,
                name=entry["name"],
                description=description or "",
                input_schema=schema,
                annotations=annotations if isinstance(annotations, dict) else None,
            )
        )
    return tools
