"""Which MCP protocol a server speaks: the 2025 `initialize` handshake, or stateless 2026-07-28.

mcp 2.3 can speak both. Its own `mode="auto"` (`mcp.client._probe.negotiate_auto`) probes
`server/discover` first and falls back to `initialize`. We go the other way round, with the same SDK
calls: `ClientSession.initialize()` first and, when a server refuses it as only a 2026-07-28 server
would (UNSUPPORTED_PROTOCOL_VERSION naming its versions, or no such method, or a request without
the per-request envelope refused), `ClientSession.discover()`, the SDK's probe (one retry at a mutual
version, then `adopt`). The reason is that mcp's servers, and others, are dual-era: probed first,
they would all move to the stateless protocol, where tool-list changes come only through a
`subscriptions/listen` stream, a server may not ask the person anything (elicitation/create) and
log messages need a per-request opt-in. The handshake keeps all of that for every server that
speaks it; a server that speaks only 2026-07-28 still works.

On a 2026-07-28 connection every request carries its envelope (protocol version, client info and
capabilities, the log level) in `_meta` and the matching headers. Our tools/list and tools/call are
raw requests (see mcp_server), so they are stamped here with the session's own stamp, as mcp's
`subscriptions` module stamps its raw requests.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from mcp import ClientSession
from mcp.shared.dispatcher import CallOptions
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, UNSUPPORTED_PROTOCOL_VERSION
from pydantic import ValidationError

logger = logging.getLogger(__name__)

# Errors to `initialize` that a server speaking only 2026-07-28 gives: worth a `server/discover`.
REFUSED_AS_MODERN = frozenset({UNSUPPORTED_PROTOCOL_VERSION, METHOD_NOT_FOUND, INVALID_PARAMS, INVALID_REQUEST})


@dataclass(frozen=True)
class Negotiated:
    """What the handshake (or discovery) settled."""

    protocol_version: str
    server_info: types.Implementation | None
    capabilities: types.ServerCapabilities
    stateless: bool  # 2026-07-28: requests are stamped (see `stamped`)


async def negotiate(session: ClientSession, label: str = "") -> Negotiated:
    """The 2025 handshake; for a server that refuses it as a 2026-07-28 server does, `server/discover`."""
    try:
        init = await session.initialize()
    except MCPError as refused:
        if refused.code not in REFUSED_AS_MODERN:
            raise
        try:
            found = await session.discover()
        except (MCPError, RuntimeError, ValidationError) as e:  # not a 2026-07-28 server either: its first answer says why
            logger.debug("MCP server %s: server/discover failed too: %s", label, e)
            raise refused from None
        version = session.protocol_version or found.supported_versions[-1]
        logger.info("MCP server %s speaks the stateless protocol %s (it refused initialize: %s)", label, version, refused.message)
        return Negotiated(version, session.server_info, found.capabilities, stateless=True)
    return Negotiated(init.protocol_version, init.server_info, init.capabilities, stateless=False)


def stamped(session: ClientSession, method: str, params: dict[str, Any] | None, options: CallOptions) -> dict[str, Any]:
    """`params` with the session's per-request envelope (and `options` with its headers), for a raw request."""
    data: dict[str, Any] = {"method": method, "params": {**(params or {})}}
    if isinstance(meta := data["params"].get("_meta"), dict):
        data["params"]["_meta"] = {**meta}
    options["headers"] = {**(options.get("headers") or {})}  # the stamp adds to them: never to a shared dict
    session._stamp(data, options)  # noqa: SLF001 - mcp has no public way to stamp a raw request (its subscriptions module does this)
    result: dict[str, Any] = data["params"]
    return result
