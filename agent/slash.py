"""Slash commands at the interactive input line: /help, /tools, /mute, /prompts, /read, /quit ...

Only the interactive terminal runs them: a piped line that starts with "/" (a path, say) is
sent to the model as text, as it always was. Everything a server supplied (names,
descriptions, prompt and resource text shown here) is made printable first.
"""

from __future__ import annotations

import base64
import shlex
from collections.abc import Awaitable, Callable
from typing import Any

from agent.console import safe_text
from agent.events import VideoFrame

HELP = """commands:
  /help                      this list
  /tools                     tool sources: state and tool count of each MCP server and module
  /mute, /unmute             stop and restart sending the microphone
  /prompts                   the MCP servers' prompts
  /prompt NAME [key=value…]  send an MCP prompt's messages as your turn (SERVER:NAME if two share a name)
  /resources                 the MCP servers' resources
  /read URI                  send a resource (text or image) to the model as context
  /quit                      end the session (also Ctrl-D; Ctrl-C when nothing is being answered)
keys: Esc stops the model's answer; Up/Down recall earlier lines (kept between sessions)"""

MAX_SHOWN = 160  # characters of a description shown in a listing
MAX_CONTEXT = 100_000  # characters of a resource's text sent to the model


def _one_line(text: Any, limit: int = MAX_SHOWN) -> str:
    text = " ".join(safe_text(str(text or "")).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class SlashCommands:
    """Runs one command line; says what went wrong in a line instead of raising."""

    def __init__(self, agent: Any, ui: Any) -> None:
        self.agent = agent
        self.ui = ui
        self.commands: dict[str, Callable[[list[str]], Awaitable[None]]] = {
            "help": self._help,
            "tools": self._tools,
            "mute": self._mute,
            "unmute": self._unmute,
            "prompts": self._prompts,
            "prompt": self._prompt,
            "resources": self._resources,
            "read": self._read,
            "quit": self._quit,
            "exit": self._quit,
        }

    def say(self, text: str) -> None:
        self.agent.console.info(text)

    async def run(self, line: str) -> None:
        try:
            words = shlex.split(line[1:])
        except ValueError as e:
            self.say(f"cannot read that command: {e}")
            return
        name = words[0].lower() if words else "help"
        command = self.commands.get(name)
        if command is None:
            from difflib import get_close_matches

            close = get_close_matches(name, list(self.commands), n=1)
            hint = f"; did you mean /{close[0]}?" if close else ""
            self.say(f"unknown command /{_one_line(name, 40)}{hint} (/help lists them)")
            return
        try:
            await command(words[1:])
        except Exception as e:  # noqa: BLE001 - a command that fails says so and the session goes on
            self.say(f"/{name} failed: {type(e).__name__}: {_one_line(e)}")

    # ---- commands ------------------------------------------------------------------------

    async def _help(self, args: list[str]) -> None:
        self.say(HELP)

    async def _quit(self, args: list[str]) -> None:
        self.ui.quit(0)

    async def _tools(self, args: list[str]) -> None:
        catalog, toolset = self.agent.catalog, self.agent.toolset
        if catalog is None or toolset is None:
            self.say("no tools yet")
            return
        declared: dict[str, int] = {}
        for row in catalog.rows:
            declared[row.server] = declared.get(row.server, 0) + (1 if row.declared_name else 0)
        lines = []
        servers = {s.name: s for s in toolset.hub.servers}
        for name, server in servers.items():
            state = server.state
            detail = f": {_one_line(server.error)}" if server.error and state in ("failed", "crashed", "restarting", "paused") else ""
            kind = server.cfg.kind
            lines.append(f"  {safe_text(name)} ({kind}) {state}, {declared.get(name, 0)} tools{detail}")
        for name, count in declared.items():
            if name not in servers:
                lines.append(f"  {safe_text(name)} (Python functions) {count} tools")
        self.say("tools:\n" + "\n".join(lines) if lines else "no tool sources configured (see `gemini-live mcp add`)")

    async def _mute(self, args: list[str]) -> None:
        self._set_mute(True)

    async def _unmute(self, args: list[str]) -> None:
        self._set_mute(False)

    def _set_mute(self, muted: bool) -> None:
        mic = self.agent.mic
        if mic is None:
            self.say("no microphone in this session")
            return
        if not getattr(self.ui, "mute_installed", False):
            before = mic.muted
            mic.muted = lambda: self.ui.mic_muted or bool(before and before())
            self.ui.mute_installed = True
        self.ui.mic_muted = muted
        self.say("🔇 mic muted (/unmute to speak again)" if muted else "🎤 mic on")

    # ---- MCP prompts and resources ---------------------------------------------------------

    def _servers(self) -> list[Any]:
        toolset = self.agent.toolset
        return list(toolset.hub.ready) if toolset is not None else []

    async def _request(self, server: Any, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        conn = await server._connection_for_call()  # the server's current connection, as a tool call gets it
        if isinstance(conn, str):
            raise RuntimeError(conn)
        result = await conn.request(method, params or {})
        return result if isinstance(result, dict) else {}

    async def _list(self, method: str, key: str) -> list[tuple[Any, dict[str, Any]]]:
        """(server, item) for every item every ready server lists; servers without the feature are skipped."""
        found = []
        for server in self._servers():
            try:
                result = await self._request(server, method)
            except Exception:  # noqa: BLE001 - a server without prompts/resources answers "method not found"
                continue
            found += [(server, item) for item in result.get(key) or [] if isinstance(item, dict)]
        return found

    async def _prompts(self, args: list[str]) -> None:
        prompts = await self._list("prompts/list", "prompts")
        if not prompts:
            self.say("no MCP server offers prompts")
            return
        lines = []
        for server, p in prompts:
            arguments = " ".join(f"{a.get('name')}=…" + ("" if a.get("required") else "?") for a in p.get("arguments") or [] if isinstance(a, dict))
            desc = f" — {_one_line(p.get('description'))}" if p.get("description") else ""
            lines.append(f"  {safe_text(server.name)}:{_one_line(p.get('name'), 80)} {_one_line(arguments, 200)}".rstrip() + desc)
        self.say("prompts (/prompt NAME key=value …):\n" + "\n".join(lines))

    async def _prompt(self, args: list[str]) -> None:
        if not args:
            self.say("usage: /prompt NAME [key=value …] (/prompts lists them)")
            return
        wanted, values = args[0], {}
        for arg in args[1:]:
            key, eq, value = arg.partition("=")
            if not eq:
                self.say(f"{_one_line(arg, 60)}: arguments are key=value")
                return
            values[key] = value
        server_name, _, prompt_name = wanted.rpartition(":")
        matches = [(s, p) for s, p in await self._list("prompts/list", "prompts")
                   if p.get("name") == prompt_name and (not server_name or s.name == server_name)]
        if not matches:
            self.say(f"no prompt named {_one_line(wanted, 80)} (/prompts lists them)")
            return
        if len(matches) > 1:
            self.say(f"{len(matches)} servers have a prompt {prompt_name!r}: say which, e.g. /prompt {matches[0][0].name}:{prompt_name}")
            return
        server, _ = matches[0]
        result = await self._request(server, "prompts/get", {"name": prompt_name, "arguments": values})
        texts = []
        for message in result.get("messages") or []:
            content = message.get("content") if isinstance(message, dict) else None
            for part in content if isinstance(content, list) else [content]:
                texts += _texts_of(part)
        text = "\n\n".join(t for t in texts if t.strip())
        if not text:
            self.say(f"prompt {prompt_name!r} has no text to send")
            return
        self.say(f"› sending prompt {prompt_name} ({len(text)} characters)")
        await self.ui.send_turn(text)

    async def _resources(self, args: list[str]) -> None:
        resources = await self._list("resources/list", "resources")
        if not resources:
            self.say("no MCP server lists resources")
            return
        lines = []
        for server, r in resources:
            name = f" ({_one_line(r.get('name'), 60)})" if r.get("name") else ""
            lines.append(f"  {_one_line(r.get('uri'), 200)}{name} — {safe_text(server.name)}")
        self.say("resources (/read URI):\n" + "\n".join(lines))

    async def _read(self, args: list[str]) -> None:
        if len(args) != 1:
            self.say("usage: /read URI (/resources lists them)")
            return
        uri = args[0]
        listed = [s for s, r in await self._list("resources/list", "resources") if r.get("uri") == uri]
        candidates = listed or self._servers()
        last_error = "no MCP server is running"
        for server in candidates:
            try:
                result = await self._request(server, "resources/read", {"uri": uri})
            except Exception as e:  # noqa: BLE001 - try the next server; report the last failure
                last_error = f"{server.name}: {_one_line(e)}"
                continue
            await self._send_contents(uri, result.get("contents") or [])
            return
        self.say(f"cannot read {_one_line(uri, 200)}: {last_error}")

    async def _send_contents(self, uri: str, contents: list[Any]) -> None:
        texts, images = [], 0
        for item in contents:
            if not isinstance(item, dict):
                continue
            if isinstance(item.get("text"), str):
                texts.append(item["text"])
            elif isinstance(item.get("blob"), str) and str(item.get("mimeType", "")).startswith("image/") and self.agent.session is not None:
                data = base64.b64decode(item["blob"])
                await self.agent.session.send_video(VideoFrame(data=data, mime_type=item["mimeType"]))
                images += 1
        text = "\n".join(texts)
        if len(text) > MAX_CONTEXT:
            text = text[:MAX_CONTEXT] + f"\n… [trimmed: {len(text) - MAX_CONTEXT} more characters]"
        if not text and not images:
            self.say(f"{_one_line(uri, 200)} has no text or image content to send")
            return
        what = ", ".join(x for x in (f"{len(text)} characters" if text else "", f"{images} image(s)" if images else "") if x)
        self.say(f"› sending {_one_line(uri, 200)} as context ({what})")
        intro = f"Here is the content of {uri} as context"
        await self.ui.send_turn(f"{intro}:\n\n{text}" if text else f"{intro} (the image I just shared).")


def _texts_of(part: Any) -> list[str]:
    """The text of a prompt message's content: text, or an embedded resource's text."""
    if not isinstance(part, dict):
        return []
    if part.get("type") == "text" and isinstance(part.get("text"), str):
        return [part["text"]]
    resource = part.get("resource")
    if part.get("type") == "resource" and isinstance(resource, dict) and isinstance(resource.get("text"), str):
        return [resource["text"]]
    return []
