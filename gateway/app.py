"""The Starlette application: routes, lifespan and middleware."""

from __future__ import annotations

import ctypes
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute

from gateway.config import Settings, load_settings
from gateway.graphiql import graphiql
from gateway.http import BodySizeLimit, healthz, readyz, sdl
from gateway.ingest import metrics_endpoint as ingest_endpoint
from gateway.lineage_http import lineage_endpoint
from gateway.loop_monitor import loop_monitor
from gateway.observability.http import TraceRequests
from gateway.observability.logs import configure_logging
from gateway.observability.metrics import metrics_endpoint, sampling
from gateway.observability.tracing import configure_tracing
from gateway.realtime import stepfunctions_events_endpoint
from gateway.resources import open_resources
from gateway.response_limit import ResponseSizeLimit
from gateway.schema import build_schema
from gateway.startup import announce_start
from gateway.view import GatewayGraphQL

log = logging.getLogger("mlmeta")


def create_app(settings: Settings | None = None, *, announce: bool = True) -> Starlette:
    """Build the app; its clients are opened by the lifespan, once per process.

    ``announce``: log at start whether each source is ready (off for an app that
    only seeds data and serves nobody).
    """
    settings = settings or load_settings()
    schema = build_schema(settings)
    ide = graphiql(settings) if settings.graphiql else None

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with (
            open_resources(settings) as resources,
            loop_monitor(settings.loop_stall_warn_ms),
            sampling(resources),
        ):
            graphql = GatewayGraphQL(
                resources,
                schema=schema,
                graphiql_page=ide.page if ide else None,
                multipart_uploads_enabled=False,
            )
            app.state.resources = resources
            app.state.graphql.app = graphql
            # What start-up made (botocore's service models, the schema) lives as long as
            # the process: keep it out of the cyclic GC, whose full collections would
            # otherwise walk it all while the event loop waits.
            gc.freeze()
            _return_freed_memory()
            if announce:
                await announce_start(resources, settings)
            yield

    async def stepfunctions_events(request: Request) -> Response:
        """Step Functions status-change events (EventBridge API destination)."""
        hub = request.app.state.resources.hub
        return await stepfunctions_events_endpoint(hub, settings.events_secret)(request)

    graphql_endpoint = _Deferred()
    bounded_graphql = ResponseSizeLimit(graphql_endpoint, settings.max_response_bytes)
    app = Starlette(
        routes=[
            Route("/graphql", bounded_graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", bounded_graphql),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/schema.graphql", sdl, methods=["GET"]),
            Route("/api/v1/events/stepfunctions", stepfunctions_events, methods=["POST"]),
            Route("/api/v1/executions/{execution:path}/metrics", ingest_endpoint, methods=["POST"]),
            Route("/api/v1/lineage", lineage_endpoint, methods=["POST"]),
            *([ide.route] if ide else []),
            *([Route("/metrics", metrics_endpoint, methods=["GET"])] if settings.metrics else []),
        ],
        # Outermost: the request id and trace span cover everything after it.
        middleware=[
            Middleware(TraceRequests),
            Middleware(BodySizeLimit, limit=settings.max_body_bytes),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.schema = schema
    app.state.graphql = graphql_endpoint
    return app


class _Deferred:
    """The GraphQL ASGI app, which exists only once the lifespan has opened the clients."""

    app: GatewayGraphQL | None = None

    async def __call__(self, scope: object, receive: object, send: object) -> None:
        if self.app is None:
            raise RuntimeError("the gateway's lifespan has not started")
        await self.app(scope, receive, send)  # type: ignore[arg-type]


def create_app_from_env() -> Starlette:
    """uvicorn factory entry (``gateway.app:create_app_from_env``): settings from env.

    Each worker process sets up its own logging and (if ``OTEL_*`` asks) tracing."""
    settings = load_settings()
    configure_logging(settings)
    configure_tracing()
    return create_app(settings)


def _return_freed_memory() -> None:
    """Hand the C heap's free pages back to the system (glibc): parsing botocore's
    service models at start-up leaves ~7 MB freed but still resident."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (macOS, musl): nothing to do
        return
    libc.malloc_trim(0)
