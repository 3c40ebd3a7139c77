"""Capture the `tools/list` of published MCP servers into benchmarks/data/tool_corpus.json.

    .venv/bin/python benchmarks/capture_tool_corpus.py [--dir .tmp/corpus-servers] [--only NAME ...]

Installs each server as .ci/install-test-servers does (npm packages into one node_modules, each
PyPI server in a venv of its own, so a server built on mcp 1.x never meets our mcp 2.x), starts
it over stdio with placeholder credentials where it wants some at start-up, and keeps what its
`tools/list` says (name, description, inputSchema, annotations) through gemini-live's own MCP
client. A server that does not install or start here (it needs a browser download, a network
service or a real token) is skipped and said so. The JSON it writes is committed, so
bench_tool_search.py runs offline; run this again to refresh it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import anyio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.config import McpServerConfig  # noqa: E402
from agent.tools.mcp_server import McpServer  # noqa: E402

OUT = ROOT / "benchmarks" / "data" / "tool_corpus.json"
DUMMY = "placeholder-not-a-real-token"


@dataclass(frozen=True)
class Published:
    name: str
    registry: str  # "npm" | "pypi"
    package: str
    run: tuple[str, ...] = ()  # npm: the bin (default: the package's only bin) and its args; pypi: `-m module` args
    env: dict[str, str] = field(default_factory=dict)


SERVERS = [
    Published("everything", "npm", "@modelcontextprotocol/server-everything"),
    Published("filesystem", "npm", "@modelcontextprotocol/server-filesystem", ("", "/tmp")),
    Published("memory", "npm", "@modelcontextprotocol/server-memory"),
    Published("sequential-thinking", "npm", "@modelcontextprotocol/server-sequential-thinking"),
    Published("github", "npm", "@modelcontextprotocol/server-github", env={"GITHUB_PERSONAL_ACCESS_TOKEN": DUMMY}),
    Published("gitlab", "npm", "@modelcontextprotocol/server-gitlab", env={"GITLAB_PERSONAL_ACCESS_TOKEN": DUMMY}),
    Published("gitlab-zereight", "npm", "@zereight/mcp-gitlab", env={"GITLAB_PERSONAL_ACCESS_TOKEN": DUMMY, "USE_PIPELINE": "true",
                                                                   "USE_MILESTONE": "true", "USE_GITLAB_WIKI": "true"}),
    Published("postgres", "npm", "@modelcontextprotocol/server-postgres", ("", "postgresql://localhost/none")),
    Published("redis", "npm", "@modelcontextprotocol/server-redis", ("", "redis://localhost:6379")),
    Published("slack", "npm", "@modelcontextprotocol/server-slack", env={"SLACK_BOT_TOKEN": DUMMY, "SLACK_TEAM_ID": "T0"}),
    Published("brave-search", "npm", "@modelcontextprotocol/server-brave-search", env={"BRAVE_API_KEY": DUMMY}),
    Published("google-maps", "npm", "@modelcontextprotocol/server-google-maps", env={"GOOGLE_MAPS_API_KEY": DUMMY}),
    Published("desktop-commander", "npm", "@wonderwhy-er/desktop-commander"),
    Published("context7", "npm", "@upstash/context7-mcp"),
    Published("notion", "npm", "@notionhq/notion-mcp-server", env={"NOTION_TOKEN": DUMMY}),
    Published("firecrawl", "npm", "firecrawl-mcp", env={"FIRECRAWL_API_KEY": DUMMY}),
    Published("kubernetes", "npm", "mcp-server-kubernetes"),
    Published("tavily", "npm", "tavily-mcp", env={"TAVILY_API_KEY": DUMMY}),
    Published("exa", "npm", "exa-mcp-server", env={"EXA_API_KEY": DUMMY}),
    Published("heroku", "npm", "@heroku/mcp-server", env={"HEROKU_API_KEY": DUMMY}),
    Published("supabase", "npm", "@supabase/mcp-server-supabase", ("", "--access-token", DUMMY)),
    Published("mysql", "npm", "@benborla29/mcp-server-mysql"),
    Published("hubspot", "npm", "@hubspot/mcp-server", env={"PRIVATE_APP_ACCESS_TOKEN": DUMMY}),
    Published("stripe", "npm", "@stripe/mcp", ("", "--tools=all", f"--api-key=sk_test_{DUMMY}")),
    Published("mongodb", "npm", "mongodb-mcp-server"),
    Published("elasticsearch", "npm", "@elastic/mcp-server-elasticsearch", env={"ES_URL": "http://localhost:9200", "ES_API_KEY": DUMMY}),
    Published("neon", "npm", "@neondatabase/mcp-server-neon", ("", "start", DUMMY)),
    Published("figma", "npm", "figma-developer-mcp", ("", "--stdio"), env={"FIGMA_API_KEY": DUMMY}),
    Published("azure-devops", "npm", "@azure-devops/mcp", ("", "example-org")),
    Published("sentry", "npm", "@sentry/mcp-server", ("", f"--access-token={DUMMY}")),
    Published("youtube-transcript", "npm", "@kimtaeyoon83/mcp-server-youtube-transcript"),
    Published("shopify-dev", "npm", "@shopify/dev-mcp"),
    Published("task-master", "npm", "task-master-ai"),
    Published("git", "pypi", "mcp-server-git", ("-m", "mcp_server_git")),
    Published("fetch", "pypi", "mcp-server-fetch", ("-m", "mcp_server_fetch")),
    Published("time", "pypi", "mcp-server-time", ("-m", "mcp_server_time")),
    Published("sqlite", "pypi", "mcp-server-sqlite", ("-m", "mcp_server_sqlite", "--db-path", "/tmp/corpus.db")),
    Published("qdrant", "pypi", "mcp-server-qdrant", ("-m", "mcp_server_qdrant.main"),
              env={"QDRANT_URL": "http://localhost:6333", "COLLECTION_NAME": "c", "EMBEDDING_PROVIDER": "fastembed"}),
    Published("arxiv", "pypi", "arxiv-mcp-server", ("-m", "arxiv_mcp_server")),
    Published("duckduckgo", "pypi", "duckduckgo-mcp-server", ("-m", "duckduckgo_mcp_server.server")),
    Published("docker", "pypi", "mcp-server-docker", ("-m", "mcp_server_docker")),
    Published("calculator", "pypi", "mcp-server-calculator", ("-m", "mcp_server_calculator")),
    Published("wikipedia", "pypi", "wikipedia-mcp", ("-m", "wikipedia_mcp")),
    Published("excel", "pypi", "excel-mcp-server", ("-m", "excel_mcp", "stdio")),
    Published("word", "pypi", "office-word-mcp-server", ("-m", "word_document_server.main")),
    Published("atlassian", "pypi", "mcp-atlassian", ("-m", "mcp_atlassian"),
              env={"JIRA_URL": "https://example.atlassian.net", "JIRA_USERNAME": "a@example.com", "JIRA_API_TOKEN": DUMMY,
                   "CONFLUENCE_URL": "https://example.atlassian.net/wiki", "CONFLUENCE_USERNAME": "a@example.com",
                   "CONFLUENCE_API_TOKEN": DUMMY}),
    Published("grafana", "pypi", "mcp-grafana", ("-m", "mcp_grafana"), env={"GRAFANA_URL": "http://localhost:3000"}),
    Published("neo4j-memory", "pypi", "mcp-neo4j-memory", ("-m", "mcp_neo4j_memory")),
    Published("clickhouse", "pypi", "mcp-clickhouse", ("-m", "mcp_clickhouse.main"), env={"CLICKHOUSE_HOST": "localhost"}),
    Published("obsidian", "pypi", "mcp-obsidian", ("-m", "mcp_obsidian"), env={"OBSIDIAN_API_KEY": DUMMY}),
    Published("markitdown", "pypi", "markitdown-mcp", ("-m", "markitdown_mcp")),
]


def run(cmd: list[str], cwd: Path | None = None) -> bool:
    done = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        print(f"  {' '.join(cmd[:4])}…: {done.stderr.strip().splitlines()[-1:] or done.returncode}", file=sys.stderr)
    return done.returncode == 0


def install(server: Published, directory: Path) -> tuple[str, list[str], str] | None:
    """(command, args, version) to run it, installing it first if needed; None if it cannot be had."""
    if server.registry == "npm":
        pkg_dir = directory / "node_modules" / server.package
        if not (pkg_dir / "package.json").exists():
            (directory / "package.json").exists() or (directory / "package.json").write_text('{"private": true}')
            if not run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "--ignore-scripts", server.package], cwd=directory):
                return None
        meta = json.loads((pkg_dir / "package.json").read_text())
        bins = meta.get("bin") or {}
        bins = {meta["name"].split("/")[-1]: bins} if isinstance(bins, str) else bins
        wanted = server.run[0] if server.run and server.run[0] else None
        target = bins.get(wanted) if wanted else next(iter(bins.values()), None)
        if target is None:
            return None
        return "node", [str(pkg_dir / target), *server.run[1:]], meta.get("version", "")
    venv = directory / "venvs" / server.name
    python = venv / "bin" / "python"
    installed = python.exists() or (run([sys.executable, "-m", "venv", str(venv)]) and
                                     run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", server.package]))
    if not installed:
        return None
    version = subprocess.run([str(python), "-m", "pip", "show", server.package], capture_output=True, text=True).stdout
    version = next((line.split(":", 1)[1].strip() for line in version.splitlines() if line.startswith("Version:")), "")
    return str(python), list(server.run), version


async def capture(server: Published, command: str, args: list[str]) -> list[dict] | str:
    cfg = McpServerConfig(name=server.name, command=command, args=args, env=server.env, startup_timeout=60)
    mcp = McpServer(cfg)
    async with anyio.create_task_group() as tg:
        await tg.start(mcp.run)
        tg.cancel_scope.cancel()
    if mcp.state == "failed":
        return mcp.error or "failed"
    return [{"name": t.name, "description": t.description, "inputSchema": t.input_schema,
             **({"annotations": t.annotations} if t.annotations else {})} for t in mcp.tools]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=str(ROOT / ".tmp" / "corpus-servers"))
    parser.add_argument("--only", nargs="*", default=None)
    opts = parser.parse_args()
    directory = Path(opts.dir)
    directory.mkdir(parents=True, exist_ok=True)
    corpus = json.loads(OUT.read_text()) if OUT.exists() else {"servers": []}
    kept = {s["name"]: s for s in corpus["servers"]}
    for server in SERVERS:
        if opts.only and server.name not in opts.only:
            continue
        began = time.perf_counter()
        got = install(server, directory)
        if got is None:
            print(f"{server.name}: not installed here, skipped")
            continue
        command, args, version = got
        tools = anyio.run(capture, server, command, args)
        if isinstance(tools, str):
            print(f"{server.name}: did not start here, skipped: {tools.splitlines()[0][:200]}")
            continue
        kept[server.name] = {"name": server.name, "registry": server.registry, "package": server.package, "version": version, "tools": tools}
        print(f"{server.name}: {len(tools)} tools ({time.perf_counter() - began:.1f} s)")
    servers = [kept[s.name] for s in SERVERS if s.name in kept]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"captured_with": "benchmarks/capture_tool_corpus.py", "servers": servers}, indent=1, ensure_ascii=False) + "\n")
    print(f"{sum(len(s['tools']) for s in servers)} tools of {len(servers)} servers in {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
