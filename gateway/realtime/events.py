"""``POST /api/v1/events/stepfunctions``: Step Functions status changes, pushed.

An EventBridge rule on ``aws.states`` / "Step Functions Execution Status
Change" with an API destination as its target posts each event here (or a list
of them). The connection's API-key authorization sends the shared secret in
the ``X-Mlmeta-Events-Secret`` header. An event only pokes the poller of the
execution, which then fetches it at once: the event itself is never trusted
for the execution's state, so a forged or replayed one costs a poll, no more.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.http import error_response
from sources.errors import InputError, MlmetaError

log = logging.getLogger("mlmeta.realtime")

SECRET_HEADER = "X-Mlmeta-Events-Secret"  # noqa: S105 (a header name, not a secret)
DETAIL_TYPE = "Step Functions Execution Status Change"
SOURCE = "aws.states"
MAX_BATCH = 100
# As ``sources.pipelines.ids`` recognises Step Functions execution ids (their ARN).
_EXECUTION_ARN = re.compile(r"arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:\S{1,1900}")


class Poker(Protocol):
    async def poke(self, execution_id: str) -> None: ...


def stepfunctions_events_endpoint(
    hub: Poker, secret: str
) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint; it answers 404 while ``secret`` is empty (the feature is off)."""
    expected = secret.encode()

    async def endpoint(request: Request) -> Response:
        if not secret:
            return error_response(404, "NotFoundError", "Not found.")
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            return error_response(
                401, "AuthenticationError", f"Missing or wrong {SECRET_HEADER} header."
            )
        try:
            arns = _execution_arns(await request.body())
        except InputError as exc:
            return error_response(400, exc.code, exc.message)
        for arn in dict.fromkeys(arns):
            try:
                await hub.poke(arn)
            except MlmetaError as exc:
                # 5xx: EventBridge retries the delivery later.
                log.warning("could not forward the event of %s: %s", arn, exc.message)
                return error_response(503, exc.code, "Could not forward the event; retry later.")
        return JSONResponse({"accepted": len(arns)}, status_code=202)

    return endpoint


def _execution_arns(body: bytes) -> list[str]:
    """The execution ARN of each event of the body (one event or a list of them)."""
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise InputError("The body is not JSON.") from exc
    events = document if isinstance(document, list) else [document]
    if not events:
        raise InputError("The batch has no event.")
    if len(events) > MAX_BATCH:
        raise InputError(f"A batch holds at most {MAX_BATCH} events.")
    if isinstance(document, list):
        return [_execution_arn(f"Event {i}", event) for i, event in enumerate(events)]
    return [_execution_arn("The event", document)]


def _execution_arn(which: str, event: Any) -> str:
    if not isinstance(event, dict):
        raise InputError(f"{which} is not a JSON object.")
    if event.get("source") != SOURCE or event.get("detail-type") != DETAIL_TYPE:
        raise InputError(f"{which} is not a '{DETAIL_TYPE}' event from '{SOURCE}'.")
    detail = event.get("detail")
    arn = detail.get("executionArn") if isinstance(detail, dict) else None
    if not isinstance(arn, str) or not _EXECUTION_ARN.fullmatch(arn):
        raise InputError(f"{which} has no valid detail.executionArn.")
    return arn
