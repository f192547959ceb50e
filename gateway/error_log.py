"""What the operator reads about failed operations.

Strawberry logs every error of every operation at ERROR with its traceback
(logger ``strawberry.execution``): a typo in a portal query, a refused page size
or a caller without access would fill the logs with stack traces and page
someone. Here, per operation:

- client mistakes (parse and validation errors, ``InputError``,
  ``NotAllowedError``, ``NotFoundError``, limit refusals, timeouts) are one INFO line;
- upstream failures (``UPSTREAM_*``, with the source) are one WARNING line;
- anything unexpected keeps its traceback, at ERROR, one entry per failure:
  repeats of it across list items (same field, type and message) are counted
  in that entry, not logged again (``gateway.extensions.error_dedup``).

Each names the operation and the document by the start of its sha256, never by
its text: documents can be large, and their literals can hold what their
authors would not want in a log.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Hashable, Sequence

import strawberry
from graphql import GraphQLError
from strawberry.types import ExecutionContext

from gateway.extensions.error_codes import classify
from gateway.extensions.error_dedup import path_pattern

log = logging.getLogger("mlmeta.errors")
UNEXPECTED = "INTERNAL_SERVER_ERROR"


class GatewaySchema(strawberry.Schema):
    """Strawberry's schema with the gateway's error logging."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        log_errors(errors, execution_context)


def log_errors(errors: Sequence[GraphQLError], execution_context: ExecutionContext | None) -> None:
    where = describe_operation(execution_context)
    counts: Counter[str] = Counter()
    first_message: dict[str, str] = {}
    unexpected: dict[Hashable, list[GraphQLError]] = {}
    for error in errors:
        shown = classify(error)
        extensions = shown.extensions or {}
        code = str(extensions.get("code", UNEXPECTED))
        if code == UNEXPECTED:
            unexpected.setdefault(_failure_key(error), []).append(error)
            continue
        counts[code] += 1
        source = extensions.get("source")
        first_message.setdefault(code, shown.message + (f" (source: {source})" if source else ""))
    for group in unexpected.values():
        first = group[0]
        path = ".".join(path_pattern(first.path) or ()) or "-"
        times = f" (x{len(group)})" if len(group) > 1 else ""
        log.error(
            "unexpected error at %s in %s%s",
            path,
            where,
            times,
            exc_info=first.original_error or first,
        )
    client = {c: n for c, n in counts.items() if not c.startswith("UPSTREAM_")}
    upstream = {c: n for c, n in counts.items() if c.startswith("UPSTREAM_")}
    if client:
        log.info("client error in %s: %s", where, _summary(client, first_message))
    if upstream:
        log.warning("upstream error in %s: %s", where, _summary(upstream, first_message))


def _failure_key(error: GraphQLError) -> Hashable:
    """One failure, however many list items it struck: one traceback is enough."""
    original = error.original_error or error
    return (path_pattern(error.path), type(original).__name__, str(original))


def describe_operation(execution_context: ExecutionContext | None) -> str:
    """``operation 'EntityPage' (document 3f2a9c1b7d4e)``: enough to find it, nothing more."""
    if execution_context is None:
        return "an operation"
    try:
        name = execution_context.operation_name
    except Exception:  # an unparsable document has no operations to name
        name = None
    query = execution_context.query
    digest = hashlib.sha256(query.encode()).hexdigest()[:12] if query else "none"
    return f"operation {name or '(anonymous)'!s} (document {digest})"


def _summary(counts: dict[str, int], first_message: dict[str, str]) -> str:
    parts = []
    for code, count in counts.items():
        times = f" x{count}" if count > 1 else ""
        parts.append(f"{code}{times}: {first_message[code][:200]}")
    return "; ".join(parts)
