"""Each operation measured (``mlmeta_graphql_*`` metrics) and named on its trace span.

Outermost of the extensions, so it sees the errors as the client gets them
(coded by ``ErrorCodes``) and times the whole operation, limits included.
Subscriptions are not timed: they last as long as the client watches
(``mlmeta_active_subscriptions`` counts them).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from opentelemetry import trace
from strawberry.extensions import SchemaExtension

from gateway.observability.metrics import GRAPHQL_ERRORS, REQUEST_SECONDS, operation_names


class ObserveOperation(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context
        try:
            name = context.operation_name
            kind = context.operation_type.value
        except Exception:  # an unparsable document has no operation to name
            name, kind = None, "query"
        span = trace.get_current_span()
        if span.is_recording():
            span.update_name(f"{kind} {name}" if name else kind)
            span.set_attribute("graphql.operation.type", kind)
            if name:
                span.set_attribute("graphql.operation.name", name)
        if kind == "subscription":
            return
        result = context.result
        errors = getattr(result, "errors", None) or []
        outcome = "success"
        if errors:
            outcome = "partial" if getattr(result, "data", None) else "error"
        label = operation_names.label(name)
        REQUEST_SECONDS.labels(label, outcome).observe(time.perf_counter() - started)
        for error in errors:
            extensions = error.extensions or {}
            count = extensions.get("count", 1)
            GRAPHQL_ERRORS.labels(str(extensions.get("code", "INTERNAL_SERVER_ERROR"))).inc(
                count if isinstance(count, int) else 1
            )
