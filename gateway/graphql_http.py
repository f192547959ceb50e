"""GraphQL over HTTP (graphql.github.io/graphql-over-http/draft): media types, status codes.

Two response media types:

- ``application/graphql-response+json`` when the client's Accept prefers it. A
  request that never reached execution (unparsable, invalid, variables that do
  not coerce, a refused persisted query) is HTTP 400 and the body has no
  ``data`` entry, so a client tells "the request was wrong" from "a field failed"
  by the status alone.
- ``application/json`` otherwise (no Accept, ``*/*``, legacy clients): such
  errors stay HTTP 200 with ``data: null``, as every GraphQL client expects.
"""

from __future__ import annotations

from collections.abc import Sequence

from graphql import GraphQLError
from starlette.responses import JSONResponse

from gateway.observability.http import request_id, trace_id

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"


def preferred_media_type(accept: str | None) -> str:
    """``GRAPHQL_RESPONSE_JSON`` when Accept ranks it at least as high as
    ``application/json``; ``JSON`` otherwise (including no Accept, or only ``*/*``)."""
    if not accept:
        return JSON
    ranks = _ranks(accept)
    wanted = ranks.get(GRAPHQL_RESPONSE_JSON)
    if wanted is None or wanted <= 0:
        return JSON
    legacy = max(ranks.get(JSON, 0.0), ranks.get("application/*", 0.0), ranks.get("*/*", 0.0))
    return GRAPHQL_RESPONSE_JSON if wanted >= legacy else JSON


def _ranks(accept: str) -> dict[str, float]:
    ranks: dict[str, float] = {}
    for item in accept.split(","):
        media_type, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media_type:
            ranks[media_type.lower()] = max(quality, ranks.get(media_type.lower(), 0.0))
    return ranks


def is_request_error(data: object, errors: Sequence[GraphQLError] | None) -> bool:
    """True when the operation never executed: no data and no error at a field path.

    A field error that nulls the whole result (a non-null root field failing) has
    a path and is a normal 200 response, per the spec.
    """
    return data is None and bool(errors) and all(e.path is None for e in errors or ())


def request_ids() -> dict[str, str]:
    """``extensions`` of a response with errors: the request's id (its log lines, its
    ``X-Request-Id``) and, when the request is traced, the trace's id."""
    ids = {}
    if (rid := request_id()) is not None:
        ids["requestId"] = rid
    if (tid := trace_id()) is not None:
        ids["traceId"] = tid
    return ids


def error_body_response(
    status: int, code: str, message: str, media_type: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A GraphQL-shaped error for a request refused before GraphQL ran."""
    body: dict[str, object] = {"errors": [{"message": message, "extensions": {"code": code}}]}
    if where := request_ids():
        body["extensions"] = where
    if media_type == JSON:
        body = {"data": None, **body}
    return JSONResponse(
        body, status_code=status, media_type=f"{media_type}; charset=utf-8", headers=headers
    )
