"""Servers on the 2026-07-28 protocol ask for input by answering `input_required` (SEP-2322).

Instead of the tools/call result, such a server returns `{"resultType": "input_required",
"inputRequests": {...}, "requestState": ...}`; the client fulfils each request (here: elicitation,
through the same callback, so the person answers as for elicitation/create) and calls again with
`inputResponses` and the echoed `requestState`. mcp 2.3 drives those rounds in
`run_input_required_driver` (bounded); the requests go through the session's own callback table.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import mcp_types as types
from mcp import ClientSession
from mcp.client._input_required import run_input_required_driver
from mcp.client.session import ClientRequestContext

INPUT_REQUIRED = "input_required"

Retry = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]  # extra params -> the raw result


def _parsed(raw: dict[str, Any]) -> dict[str, Any] | types.InputRequiredResult:
    if isinstance(raw, dict) and raw.get("resultType") == INPUT_REQUIRED:
        return types.InputRequiredResult.model_validate(raw)
    return raw


async def fulfil(session: ClientSession, raw: dict[str, Any], retry: Retry) -> dict[str, Any]:
    """The final raw result of a call whose server may ask for input first (as it is, if it did not)."""
    first = _parsed(raw)
    if not isinstance(first, types.InputRequiredResult):
        return raw

    async def dispatch(key: str, request: types.InputRequest) -> types.InputResponse | types.ErrorData:
        meta = request.params.meta if request.params else None
        return await session.dispatch_input_request(ClientRequestContext(session=session, request_id=key, meta=meta), request)

    async def again(responses: types.InputResponses | None, state: str | None) -> dict[str, Any] | types.InputRequiredResult:
        extra: dict[str, Any] = {}
        if responses:
            extra["inputResponses"] = {k: v.model_dump(by_alias=True, mode="json", exclude_none=True) for k, v in responses.items()}
        if state is not None:
            extra["requestState"] = state
        return _parsed(await retry(extra))

    final: dict[str, Any] = await run_input_required_driver(first, dispatch=dispatch, retry=again)
    return final
