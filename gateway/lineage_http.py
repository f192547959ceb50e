"""``POST /api/v1/lineage``: OpenLineage RunEvents (spec 2-0-2), as Marquez takes them.

Any orchestrator that emits OpenLineage (Airflow, Spark, dbt, custom code)
feeds runs, datasets and lineage edges with no mlmeta-specific code: point its
HTTP transport at this URL with a service token allowed to write. An event is
stored whole or not at all; a malformed one is a 400 saying which field is
wrong.
"""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.http import error_response
from gateway.ingest import STATUS_OF
from sources.errors import AuthenticationError, InputError, MlmetaError, NotAllowedError
from sources.lineage.runevent import parse_run_event


async def lineage_endpoint(request: Request) -> Response:
    resources = request.app.state.resources
    try:
        principal = await resources.authenticator.authenticate(request.headers.get("authorization"))
        if not principal.can_write:
            raise NotAllowedError("posting lineage needs a service token allowed to write")
        try:
            payload = orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            raise InputError(f"the body is not JSON: {exc}") from exc
        result = await resources.lineage.ingestor.ingest(parse_run_event(payload))
    except AuthenticationError as exc:
        return error_response(401, exc.code, exc.message)
    except MlmetaError as exc:
        return error_response(STATUS_OF.get(exc.code, 503), exc.code, exc.message)
    return JSONResponse(
        {
            "executionId": result.execution_id,
            "status": str(result.status),
            "edgesRecorded": result.edges_recorded,
        },
        status_code=201,
    )
