"""Plain HTTP pieces of the gateway: error bodies, the body-size limit, probes, SDL."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def error_response(status: int, code: str, message: str) -> JSONResponse:
    """A GraphQL-shaped error body, so clients handle it like any other error."""
    return JSONResponse(
        {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]},
        status_code=status,
        headers={"WWW-Authenticate": "Bearer"} if status == 401 else None,
    )


DRAIN_FLOOR_BYTES = 4 * 1024 * 1024


class BodySizeLimit:
    """Refuse request bodies over ``limit`` bytes, declared or streamed, with 413.

    Before answering, the rest of the body is read and thrown away, up to
    ``drain_limit`` bytes (twice the limit, at least 4 MiB): a client that writes
    its whole body before reading (curl, most HTTP libraries) would otherwise see
    the connection reset, because closing a socket with unread data sends an RST
    that destroys the 413 before the client reads it. Past that bound the
    connection is closed anyway: draining must not become a way to make the
    server read without limit.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.drain_limit = max(2 * limit, DRAIN_FLOOR_BYTES)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        message = f"Request body exceeds the limit of {self.limit} bytes."
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            if declared.isdigit() and int(declared) <= self.drain_limit:
                await _drain(receive, self.drain_limit)
            await error_response(413, "REQUEST_TOO_LARGE", message)(scope, receive, send)
            return
        received = 0
        started = False
        finished = False

        async def limited_receive() -> Message:
            nonlocal received, finished
            incoming = await receive()
            received += len(incoming.get("body", b""))
            finished = not incoming.get("more_body", False)
            if received > self.limit:
                raise _TooLarge
            return incoming

        async def tracking_send(outgoing: Message) -> None:
            nonlocal started
            started = started or outgoing["type"] == "http.response.start"
            await send(outgoing)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                if not finished:
                    await _drain(receive, self.drain_limit - received)
                await error_response(413, "REQUEST_TOO_LARGE", message)(scope, receive, send)


async def _drain(receive: Receive, budget: int) -> None:
    """Read and discard the request body until it ends, the client leaves, or
    ``budget`` bytes have been thrown away."""
    while budget > 0:
        incoming = await receive()
        if incoming["type"] != "http.request":
            return
        budget -= len(incoming.get("body", b""))
        if not incoming.get("more_body", False):
            return


class _TooLarge(Exception):
    pass


async def healthz(request: Request) -> Response:
    """The process is alive (no upstream is asked)."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Every configured source answered: 200; otherwise 503. The body lists each one.

    ``?require=metadb`` (a comma-separated list): only those sources decide; the others
    are still listed. A load balancer's readiness probe should not take every replica
    out because an upstream that only nulls its own fields is down.

    The answer is reused for MLMETA_READINESS_CACHE_SECONDS (see ``HealthCache``);
    each source's ``circuit`` is its breaker's state now.
    """
    resources = request.app.state.resources
    results = await resources.health.results()
    required = request.query_params.get("require")
    if required is None:
        needed = {r.name for r in results}
    else:
        needed = {name.strip() for name in required.split(",") if name.strip()}
        unknown = needed - {r.name for r in results}
        if unknown:
            known = ", ".join(r.name for r in results)
            return error_response(
                400,
                "InputError",
                f"require names unknown sources {sorted(unknown)}; known: {known}",
            )
    ready = all(r.healthy for r in results if r.name in needed)
    body = {
        "status": "ready" if ready else "unready",
        "sources": {
            r.name: {
                "healthy": r.healthy,
                "latencyMs": r.latency_ms,
                "error": r.last_error,
                "checkedAt": r.checked_at.isoformat(),
                "circuit": resources.breakers.state(r.name).value,
            }
            for r in results
        },
    }
    return JSONResponse(body, status_code=200 if ready else 503)


async def sdl(request: Request) -> Response:
    """The schema in SDL, so the portal can register mlmeta as an API entity."""
    return PlainTextResponse(
        str(request.app.state.schema), media_type="application/graphql; charset=utf-8"
    )


def dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))
