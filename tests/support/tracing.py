"""Spans recorded in memory, with OpenTelemetry's own SDK (the exporter the docs test with).

OpenTelemetry takes one tracer provider per process, so the first test that asks
installs it for the rest of the session; spans are kept only inside
``recording()``, so the tests after it do not pile them up.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from sources.telemetry import refresh_tracing


class _Switchable(InMemorySpanExporter):
    active = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return super().export(spans) if self.active else SpanExportResult.SUCCESS


_exporter: _Switchable | None = None


@contextmanager
def recording() -> Iterator[InMemorySpanExporter]:
    """The spans finished inside the block."""
    global _exporter
    if _exporter is None:
        _exporter = _Switchable()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_exporter))
        trace.set_tracer_provider(provider)
        refresh_tracing()
    _exporter.clear()
    _exporter.active = True
    try:
        yield _exporter
    finally:
        _exporter.active = False
        _exporter.clear()


def ancestors(span: ReadableSpan, spans: Sequence[ReadableSpan]) -> list[ReadableSpan]:
    """The span's parent, its parent's parent, ... among ``spans``."""
    by_id = {s.context.span_id: s for s in spans}
    found = []
    parent = span.parent
    while parent is not None and parent.span_id in by_id:
        found.append(by_id[parent.span_id])
        parent = found[-1].parent
    return found
