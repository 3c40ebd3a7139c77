"""Command-line parsing only: builds a Config, hands it to the app, maps errors to exit codes.

    gemini-live [options]          talk to the model (the default)
    gemini-live tools [--json]     list the tools the configured MCP servers and modules offer
    gemini-live devices            list audio input and output devices
    gemini-live init               write a starter config to the user's config folder
    gemini-live mcp add NAME -- COMMAND ARGS... | --url URL;  mcp list;  mcp remove NAME
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from agent import __version__
from agent.config import DEFAULT_MODEL

SUBCOMMANDS = ("tools", "devices", "login", "logout", "init", "mcp")


def _device(text: str) -> int | str:
    return int(text) if text.strip().isdigit() else text


def _config_options(p: argparse.ArgumentParser) -> None:
    """Options shared by the agent and `tools`: where the config and tools come from."""
    S = argparse.SUPPRESS  # only flags actually given override the config file
    p.add_argument("--config", metavar="FILE", help="config file (default: ./gemini-live.toml, then $XDG_CONFIG_HOME/gemini-live/config.toml)")
    p.add_argument("--mcp-config", metavar="FILE", default=S, help="MCP servers from a Claude Desktop / Cursor (mcpServers) or VS Code (servers) JSON file")
    p.add_argument(
        "--import-functions", metavar="FILE", action="append", default=S,
        help="expose the public functions of a Python file as tools (repeatable; added to the config's list)",
    )
    p.add_argument("-v", "--verbose", action="store_true", default=S, help="print raw server events, one line each")


def build_parser() -> argparse.ArgumentParser:
    S = argparse.SUPPRESS
    B = argparse.BooleanOptionalAction
    p = argparse.ArgumentParser(
        prog="gemini-live",
        description="A voice agent for the Gemini Live API that bridges to MCP tool servers.",
        epilog="Subcommands: `gemini-live tools [--json]` lists the tools the model will see; "
        "`gemini-live devices` lists audio devices; `gemini-live init` writes a starter config; "
        "`gemini-live mcp add|list|remove` edits its MCP servers. In a terminal, type at the input line: Esc stops an "
        "answer, /help lists the commands, Ctrl-D quits. Credentials come from GOOGLE_API_KEY or GEMINI_API_KEY "
        "(or the Vertex AI variables); GOOGLE_GEMINI_BASE_URL and SSL_CERT_FILE are honoured.",
    )
    p.add_argument("--version", action="version", version=f"gemini-live {__version__}")
    _config_options(p)
    g = p.add_argument_group("model")
    g.add_argument("--model", default=S, help=f"Live model name (default {DEFAULT_MODEL}); see the README's model table")
    g.add_argument(
        "--thinking-level", choices=("minimal", "low", "medium", "high"), default=S,
        help="thinking level, for models that take one (e.g. gemini-3.8-live-extended-thinking)",
    )
    g.add_argument("--system-instruction", metavar="TEXT", default=S, help="system instruction for the model")
    g.add_argument("--initial-message", metavar="TEXT", default=S, help="a first user message, sent once the session is set up")
    g.add_argument("--initial-message-delay", metavar="SECONDS", type=float, default=S, help="wait this long before the initial message (default 0)")
    g.add_argument("--voice", default=S, help="prebuilt voice for the model's speech (default Charon)")
    g.add_argument("--search", action=B, default=S, help="Google Search grounding (default on)")
    g.add_argument("--code-execution", action=B, default=S, help="the code execution tool (default off)")

    g = p.add_argument_group("audio")
    g.add_argument("--audio-input", action=B, default=S, help="stream the microphone (default on)")
    g.add_argument("--audio-output", action=B, default=S, help="play the model's voice (default on); off still prints its transcript")
    g.add_argument("--text-output", action=B, default=S, help="the model answers in text instead of audio (disables audio output)")
    g.add_argument("--input-device", metavar="DEVICE", type=_device, default=S, help="microphone: index or name substring (see `gemini-live devices`)")
    g.add_argument("--output-device", metavar="DEVICE", type=_device, default=S, help="speaker: index or name substring")
    g.add_argument("--half-duplex", action=B, default=S, help="mute the mic while the model speaks (for use without headphones)")
    g.add_argument(
        "--push-to-talk", action=B, default=S,
        help="a key (space; --push-to-talk-key) turns the mic on and off; the agent says when you speak instead of the server's voice detection",
    )
    g.add_argument("--push-to-talk-key", metavar="KEY", default=S, help="the push-to-talk key: one character, or space (default) or tab")
    g.add_argument(
        "--echo-cancellation", action=B, default=S,
        help="take the speaker's sound out of the mic, with noise suppression and a high-pass filter (default on while the speaker plays)",
    )
    g.add_argument(
        "--local-barge-in", action=B, default=S,
        help="when you speak over the model, fade it out at once instead of waiting for the server (default on)",
    )
    g.add_argument("--input-audio", metavar="FILE.wav", default=S, help="stream a WAV file instead of the microphone, then finish")
    g.add_argument("--output-audio", metavar="FILE.wav", default=S, help="record the model's audio to a WAV file (24 kHz mono)")

    g = p.add_argument_group("screen")
    g.add_argument("--screen-capture-fps", metavar="FPS", type=float, default=S, help="stream the screen at this many frames per second (default 0: off)")
    g.add_argument("--screen-monitor", metavar="N", type=int, default=S, help="monitor to capture (1 = primary, 0 = all)")
    g.add_argument("--screen-region", metavar="X,Y,W,H", default=S, help="capture only this region")
    g.add_argument("--screen-max-size", metavar="PX", type=int, default=S, help="scale frames to fit this many pixels on the long side (default 1024)")
    g.add_argument("--screen-quality", metavar="Q", type=int, default=S, help="JPEG quality 10-95 (default 70)")
    g.add_argument("--screen-skip-unchanged", action=B, default=S, help="skip frames identical to the last one (default on)")

    g = p.add_argument_group("session")
    g.add_argument("--resume", action="store_true", default=S, help="continue the last conversation (its resumption handle lasts 2 hours)")
    g.add_argument("--session-resumption", action=B, default=S, help="resume through goAway and dropped connections (default on)")
    g.add_argument("--context-compression", action=B, default=S, help="sliding-window context compression (default on; always on with video)")
    g.add_argument("--log-file", metavar="FILE", default=S, help="append a JSONL record of the session's events")
    g.add_argument("--setup-timeout", metavar="SECONDS", type=float, default=S, help="wait at most this long for the server to complete the setup (default 15)")
    g.add_argument(
        "--reply-timeout", metavar="SECONDS", type=float, default=S,
        help="report a stall when the model owes an answer and is silent this long; a headless run then exits 1 (default 45)",
    )
    g.add_argument("--yes", action="store_true", default=S, help="approve every tool that asks for confirmation, without asking (for scripts)")
    g.add_argument(
        "--confirm-timeout", metavar="SECONDS", type=float, default=S,
        help="a confirmation or form question nobody answers this long is declined or cancelled (default 60)",
    )
    g.add_argument(
        "--startup-wait", metavar="SECONDS", type=float, default=S,
        help="start the session after at most this long even if MCP servers are still starting; their tools join when ready (default 5)",
    )
    return p


def build_tools_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gemini-live tools", description="Connect the configured MCP servers and Python modules, list their tools, and exit.")
    _config_options(p)
    p.add_argument("--json", action="store_true", help="print the function declarations the setup message carries, as a JSON array")
    return p


def build_login_parser(command: str) -> argparse.ArgumentParser:
    what = ("Sign in to a remote MCP server that uses OAuth (opens your browser) and store its tokens."
            if command == "login" else "Forget the stored OAuth tokens of a remote MCP server.")
    p = argparse.ArgumentParser(prog=f"gemini-live {command}", description=what)
    _config_options(p)
    p.add_argument("name", metavar="NAME", help="the server's name in the config")
    return p


def build_init_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gemini-live init",
        description="Write a starter config (and the example notes server and functions beside it) to "
        "$XDG_CONFIG_HOME/gemini-live/config.toml, where `gemini-live` finds it from any folder. Never overwrites.",
    )
    p.add_argument("--config", metavar="FILE", help="write this file instead")
    return p


def build_mcp_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gemini-live mcp",
        description="Add, list or remove MCP servers in a config file: --config FILE, else ./gemini-live.toml "
        "if there is one, else $XDG_CONFIG_HOME/gemini-live/config.toml. Comments and layout are kept.",
    )
    sub = p.add_subparsers(dest="action", required=True, metavar="{add,list,remove}")
    add = sub.add_parser("add", help="add a server: NAME -- COMMAND ARGS... (stdio), or NAME --url URL",
                         usage="gemini-live mcp add NAME [options] -- COMMAND [ARGS...]\n       gemini-live mcp add NAME --url URL [options]")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--url", help="a remote server's URL")
    add.add_argument("--transport", choices=("streamable-http", "sse"), help="for --url (default streamable-http)")
    add.add_argument("--header", action="append", default=[], metavar="KEY=VALUE", help="an HTTP header for --url (repeatable)")
    add.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="an environment variable for the command (repeatable)")
    add.add_argument("--prefix", help="declare its tools as PREFIX__tool (default: NAME; \"\" for bare names)")
    add.add_argument("--required", action="store_true", help="refuse to start without this server")
    add.add_argument("--force", action="store_true", help="replace a server of the same name")
    add.add_argument("--config", metavar="FILE", help="the config file to edit")
    ls = sub.add_parser("list", help="list the servers in the config file")
    ls.add_argument("--config", metavar="FILE", help="the config file to read")
    rm = sub.add_parser("remove", help="remove a server")
    rm.add_argument("name", metavar="NAME")
    rm.add_argument("--config", metavar="FILE", help="the config file to edit")
    return p


def run_setup_command(command: str, argv: list[str]) -> int:
    """`init` and `mcp ...`; a stdio command for `mcp add` follows `--`, untouched by the parser."""
    from agent import runner, setup_helpers

    if command == "init":
        args = build_init_parser().parse_args(argv)
        return runner.guarded(lambda: setup_helpers.init(args.config))
    tail: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, tail = argv[:cut], argv[cut + 1 :]
    args = build_mcp_parser().parse_args(argv)
    if args.action == "add":
        return runner.guarded(lambda: setup_helpers.mcp_add(
            args.config, args.name, command=tail, url=args.url, transport=args.transport, env=args.env,
            headers=args.header, prefix=args.prefix, required=args.required, force=args.force,
        ))
    if tail:
        build_mcp_parser().error(f"`mcp {args.action}` takes nothing after --")
    if args.action == "remove":
        return runner.guarded(lambda: setup_helpers.mcp_remove(args.config, args.name))
    return runner.guarded(lambda: setup_helpers.mcp_list(args.config))


def build_devices_parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog="gemini-live devices", description="List audio input and output devices with their default sample rates.")


def overrides_from(args: argparse.Namespace) -> dict[str, Any]:
    values = {k: v for k, v in vars(args).items() if k not in ("config", "json")}
    return values


def _setup_logging(verbose: bool) -> None:
    # The module's name only with -v: a warning is said in the project's words, once.
    logging.basicConfig(level=logging.WARNING, format="gemini-live: %(name)s: %(message)s" if verbose else "gemini-live: %(message)s")
    logging.getLogger("agent").setLevel(logging.INFO if verbose else logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `gemini-live` command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    from agent import runner  # the core never imports the CLI; the CLI imports the core late

    if argv and argv[0] in ("init", "mcp"):
        return run_setup_command(argv[0], argv[1:])

    if argv and argv[0] in ("login", "logout"):
        args = build_login_parser(argv[0]).parse_args(argv[1:])
        _setup_logging(getattr(args, "verbose", False))
        overrides = {k: v for k, v in overrides_from(args).items() if k != "name"}
        return runner.run_login(args.config, overrides, args.name, logout=argv[0] == "logout")

    if argv and argv[0] in SUBCOMMANDS:
        command, rest = argv[0], argv[1:]
        parser = build_tools_parser() if command == "tools" else build_devices_parser()
        args = parser.parse_args(rest)
        _setup_logging(getattr(args, "verbose", False))
        if command == "tools":
            return runner.run_tools(args.config, overrides_from(args), as_json=args.json)
        return runner.run_devices()

    args = build_parser().parse_args(argv)
    _setup_logging(getattr(args, "verbose", False))
    return runner.run_agent(args.config, overrides_from(args))


if __name__ == "__main__":
    raise SystemExit(main())
