"""Plain-HTTP metric ingestion for training code that does not speak GraphQL.

``POST /api/v1/executions/{execution}/metrics`` with a bearer token and a body
of JSON lines, one point per line: ``{"name": "loss", "value": 0.42, "step": 3,
"timestamp": 1763892000000}`` (step defaults to 0, timestamp is epoch ms and
optional). Same semantics as ``logMetrics``: all or nothing, idempotent on
(run, name, step) and on the ``Idempotency-Key`` header.
"""

from __future__ import annotations

import math

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.http import error_response
from resolvers.metrics_write import log_metrics
from sources.errors import AuthenticationError, InputError, MlmetaError
from sources.metrics.model import MAX_BATCH_POINTS, PointIn

STATUS_OF = {
    "InputError": 400,
    "AuthenticationError": 401,
    "NotAllowedError": 403,
    "NotFoundError": 404,
    "ConflictError": 409,
}


def parse_lines(body: bytes) -> list[PointIn]:
    points: list[PointIn] = []
    for number, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        if len(points) == MAX_BATCH_POINTS:
            raise _bad(f"more than {MAX_BATCH_POINTS} points in one request")
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise _bad(f"line {number} is not JSON: {exc}") from exc
        if not isinstance(item, dict):
            raise _bad(f"line {number} is not a JSON object")
        name, value = item.get("name"), item.get("value")
        step, timestamp = item.get("step", 0), item.get("timestamp")
        if not isinstance(name, str):
            raise _bad(f"line {number}: 'name' must be a string")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _bad(f"line {number}: 'value' must be a number")
        if isinstance(step, bool) or not isinstance(step, int):
            raise _bad(f"line {number}: 'step' must be an integer")
        if timestamp is not None and (
            isinstance(timestamp, bool) or not isinstance(timestamp, int)
        ):
            raise _bad(f"line {number}: 'timestamp' must be epoch milliseconds")
        if not math.isfinite(float(value)):
            raise _bad(f"line {number}: 'value' must be finite")
        points.append(PointIn(name=name, value=float(value), step=step, timestamp_ms=timestamp))
    if not points:
        raise _bad("no points in the body (one JSON object per line)")
    return points


def _bad(message: str) -> MlmetaError:
    return InputError(message)


async def metrics_endpoint(request: Request) -> Response:
    resources = request.app.state.resources
    try:
        principal = await resources.authenticator.authenticate(request.headers.get("authorization"))
        points = parse_lines(await request.body())
        result = await log_metrics(
            resources,
            principal,
            request.path_params["execution"],
            points,
            request.headers.get("idempotency-key"),
        )
    except AuthenticationError as exc:
        return error_response(401, exc.code, exc.message)
    except MlmetaError as exc:
        return error_response(STATUS_OF.get(exc.code, 503), exc.code, exc.message)
    return JSONResponse({"accepted": result.accepted, "duplicates": result.duplicates})
