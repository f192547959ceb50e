"""Log lines as text (the default) or JSON (``MLMETA_LOG_FORMAT=json``).

A JSON line is one object: ``time``, ``level``, ``logger``, ``message``, and,
inside a request, its ``requestId`` (also in the response's ``X-Request-Id``
and in ``extensions.requestId`` of a GraphQL response with errors) and, when
traced, ``traceId`` and ``spanId``; a traceback is in ``exception``. Log
collectors (Loki, CloudWatch, Elasticsearch) index the fields as they are.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from opentelemetry import trace

from gateway.observability.http import request_id

if TYPE_CHECKING:
    from gateway.config import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
_UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (rid := request_id()) is not None:
            line["requestId"] = rid
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            line["traceId"] = format(span_context.trace_id, "032x")
            line["spanId"] = format(span_context.span_id, "016x")
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def formatter_for(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure_logging(settings: Settings) -> None:
    """The root logger (and uvicorn's own) write in ``settings.log_format``."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    root.setLevel(settings.log_level.upper())
    formatter = formatter_for(settings.log_format)
    for handler in root.handlers:
        handler.setFormatter(formatter)
    if settings.log_format == "json":
        for name in _UVICORN:
            for handler in logging.getLogger(name).handlers:
                handler.setFormatter(formatter)
    logging.getLogger("alembic").setLevel(logging.WARNING)
