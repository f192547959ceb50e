"""Each HTTP request gets an id and a trace span before anything else runs.

The id is the caller's ``X-Request-Id`` when it is a plausible one (a load
balancer's or the portal's), else a new one; it is sent back in the
``X-Request-Id`` header, put in every JSON log line of the request
(``gateway.observability.logs``) and in the ``extensions.requestId`` of a
GraphQL response with errors, so a user's report leads to the log lines.

The span continues the caller's W3C trace context (``traceparent``) and is the
parent of every upstream call's span; the catalog gets it forwarded.
"""

from __future__ import annotations

import contextvars
import re
import uuid

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagate import extract
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sources.telemetry import tracer, tracing

REQUEST_ID_HEADER = b"x-request-id"
_PLAUSIBLE_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")

current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "mlmeta_request_id", default=None
)


def request_id() -> str | None:
    """The id of the request being served (None outside one)."""
    return current_request_id.get()


def trace_id() -> str | None:
    """The current trace's id in hex, when the request is traced (recorded)."""
    span_context = trace.get_current_span().get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else None


class TraceRequests:
    """ASGI middleware: request id, server span, ``X-Request-Id`` on the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        given = headers.get("x-request-id", "")
        rid = given if _PLAUSIBLE_ID.match(given) else uuid.uuid4().hex
        token = current_request_id.set(rid)
        try:
            if tracing():
                await self._traced(scope, receive, send, headers, rid)
            else:
                await self._untraced(scope, receive, send, headers, rid)
        finally:
            current_request_id.reset(token)

    async def _untraced(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str], rid: str
    ) -> None:
        """No tracer provider: no span, but a caller's trace context still travels on."""

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (REQUEST_ID_HEADER, rid.encode()),
                ]
            await send(message)

        attached = otel_context.attach(extract(headers)) if "traceparent" in headers else None
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if attached is not None:
                otel_context.detach(attached)

    async def _traced(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str], rid: str
    ) -> None:
        method = scope.get("method", "GET")
        path = scope.get("path", "")
        with tracer.start_as_current_span(
            f"{method} {path}" if scope["type"] == "http" else f"websocket {path}",
            context=extract(headers, context=otel_context.Context()),
            kind=trace.SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": path, "mlmeta.request_id": rid},
        ) as span:

            async def send_with_id(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [
                        *message.get("headers", []),
                        (REQUEST_ID_HEADER, rid.encode()),
                    ]
                    status = message["status"]
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(trace.StatusCode.ERROR)
                await send(message)

            await self.app(scope, receive, send_with_id)
