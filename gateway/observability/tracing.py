"""OpenTelemetry traces, opt-in through the standard ``OTEL_*`` environment variables.

Nothing is exported unless ``OTEL_TRACES_EXPORTER`` (``otlp`` or ``console``) or
an OTLP endpoint (``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set; then spans go by OTLP over HTTP
(protobuf) in batches, named by ``OTEL_SERVICE_NAME`` (default ``mlmeta``), and
the SDK reads the other variables itself (headers, sampler, batch sizes).

Without it no span is made at all (``sources.telemetry.tracing``), but the
caller's W3C ``traceparent`` still reaches the catalog unchanged.

The spans: one per HTTP request (``TraceRequests``, named by the GraphQL
operation once known: ``query EntityPage``), and a CLIENT child per upstream
call (``sources.telemetry``): an AWS operation, a catalog request, a metadb
session (one batch of SQL statements). No field-level spans.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from sources.telemetry import refresh_tracing

log = logging.getLogger("mlmeta.tracing")

_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
_configured = False


def exporter_from(environ: Mapping[str, str]) -> SpanExporter | None:
    """The exporter the environment asks for, or None: tracing stays off."""
    if environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return None
    wanted = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if wanted == "none" or (not wanted and not any(environ.get(e) for e in _ENDPOINTS)):
        return None
    if wanted == "console":
        return ConsoleSpanExporter()
    if wanted not in ("", "otlp"):
        raise ValueError(f"OTEL_TRACES_EXPORTER={wanted!r}: mlmeta exports 'otlp' or 'console'")
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()  # endpoint, headers, timeout: from OTEL_EXPORTER_OTLP_*


def configure_tracing(environ: Mapping[str, str] | None = None) -> bool:
    """Install the SDK's tracer provider if ``OTEL_*`` asks for traces; once per process."""
    global _configured
    env = os.environ if environ is None else environ
    exporter = exporter_from(env)
    if exporter is None or _configured:
        return _configured
    resource = Resource.create({SERVICE_NAME: env.get("OTEL_SERVICE_NAME") or "mlmeta"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    refresh_tracing()
    _configured = True
    log.info("traces are exported with %s", type(exporter).__name__)
    return True
