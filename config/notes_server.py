"""A small MCP server for notes and a to-do list, kept in a JSON file (stdio transport).

The example config runs it with the Python that runs gemini-live:

    [mcp_servers.notes]
    command = "${GEMINI_LIVE_PYTHON}"
    args = ["${CONFIG_DIR}/notes_server.py"]

NOTES_FILE picks the file (default: notes.json in $XDG_DATA_HOME/gemini-live).
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from mcp.server.mcpserver import MCPServer

server = MCPServer("notes")


def _path() -> Path:
    default = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "gemini-live" / "notes.json"
    return Path(os.environ.get("NOTES_FILE") or default)


def _load() -> dict[str, list[dict]]:
    try:
        return json.loads(_path().read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"notes": [], "todos": []}


def _save(data: dict[str, list[dict]]) -> None:
    path = _path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@server.tool()
def add_note(text: str, tags: list[str] | None = None) -> dict:
    """Save a note. Tags help find it again later."""
    data = _load()
    note = {"id": len(data["notes"]) + 1, "text": text, "tags": tags or [], "created": _now()}
    data["notes"].append(note)
    _save(data)
    return note


@server.tool()
def search_notes(query: str = "", tag: str | None = None, limit: int = 10) -> list[dict]:
    """Find notes whose text contains `query` (case-insensitive), optionally with a tag; newest first."""
    q = query.lower()
    found = [n for n in _load()["notes"] if q in n["text"].lower() and (tag is None or tag in n["tags"])]
    return list(reversed(found))[:limit]


@server.tool()
def add_todo(task: str, priority: Literal["low", "normal", "high"] = "normal") -> dict:
    """Add an item to the to-do list."""
    data = _load()
    todo = {"id": len(data["todos"]) + 1, "task": task, "priority": priority, "done": False, "created": _now()}
    data["todos"].append(todo)
    _save(data)
    return todo


@server.tool()
def list_todos(include_done: bool = False) -> list[dict]:
    """The to-do list, high priority first."""
    order = {"high": 0, "normal": 1, "low": 2}
    todos = [t for t in _load()["todos"] if include_done or not t["done"]]
    return sorted(todos, key=lambda t: (order[t["priority"]], t["id"]))


@server.tool()
def complete_todo(todo_id: int) -> dict:
    """Mark a to-do item as done, by its id."""
    data = _load()
    for todo in data["todos"]:
        if todo["id"] == todo_id:
            todo["done"] = True
            _save(data)
            return todo
    raise ValueError(f"no to-do item with id {todo_id}")


if __name__ == "__main__":
    server.run("stdio")
