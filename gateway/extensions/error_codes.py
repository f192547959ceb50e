"""Give every error an ``extensions.code`` and mask everything unexpected.

Expected failures (``MlmetaError`` and GraphQL's own parse and validation
errors) keep their message. Anything else becomes "Unexpected error." with code
``INTERNAL_SERVER_ERROR``: no stack trace, SQL or upstream secret leaves the
process; the original is logged with the operation name for the operator
(``gateway.error_log``). Repeats of one failure across list items are then
collapsed into one error (``gateway.extensions.error_dedup``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import SchemaExtension
from strawberry.types import StreamExecutionResult

from gateway.extensions.error_dedup import deduplicate
from sources.errors import MlmetaError

# The built-in limiters report plain GraphQLErrors; these are their messages.
_TOO_COMPLEX = re.compile(
    r"exceeds maximum operation depth|aliases found\. Allowed|"
    r"Document contains more than \d+ tokens|exceeds the maximum page size"
)


# Variable values that do not coerce; "Variable '$a' is never used" and the like are
# validation errors of the document, not of the values.
_COERCION = re.compile(
    r"^Variable '\$[^']+' ((got|has) invalid value|of (non-null|required) type .* "
    r"(must not be null|was not provided))"
)


def classify(error: GraphQLError) -> GraphQLError:
    """Return the error as the client should see it, with a code."""
    original = error.original_error
    extensions = dict(error.extensions or {})
    if isinstance(original, MlmetaError):
        extensions["code"] = original.code
        if original.source:
            extensions["source"] = original.source
        return _with(error, original.message, extensions)
    if "code" in extensions:
        return error
    if _COERCION.match(error.message):
        # A variable's value does not fit its type (graphql-core wraps the reason).
        return _with(error, error.message, {**extensions, "code": "InputError"})
    if original is None:
        if isinstance(error, GraphQLSyntaxError) or "Syntax Error" in error.message:
            code = "GRAPHQL_PARSE_FAILED"
            if _TOO_COMPLEX.search(error.message):
                code = "QUERY_TOO_COMPLEX"
        elif _TOO_COMPLEX.search(error.message):
            code = "QUERY_TOO_COMPLEX"
        elif error.path:
            # Raised by graphql-core while completing a value, e.g. a null in a
            # non-null field: an internal inconsistency, not the caller's doing.
            return _masked(error)
        else:
            code = "GRAPHQL_VALIDATION_FAILED"
        extensions["code"] = code
        return _with(error, error.message, extensions)
    if isinstance(original, GraphQLError):
        # Variable coercion and similar errors wrapped by graphql-core.
        return classify(original) if original is not error else error
    return _masked(error)


def _with(error: GraphQLError, message: str, extensions: dict[str, object]) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )


def _masked(error: GraphQLError) -> GraphQLError:
    # Logged (with its traceback) by gateway.error_log, which sees the raw error first.
    return _with(error, "Unexpected error.", {"code": "INTERNAL_SERVER_ERROR"})


def shape(errors: list[GraphQLError]) -> list[GraphQLError]:
    """The errors as the client gets them: classified, then repeats collapsed."""
    return deduplicate([classify(e) for e in errors])


class ErrorCodes(SchemaExtension):
    """Runs last on every operation: shapes the errors of the result."""

    def on_operation(self) -> Iterator[None]:
        self._streamed = False
        yield
        if self._streamed:
            return  # each result was shaped before it was sent
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = shape(errors)

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        """Websocket operations (graphql-transport-ws ``next`` and ``error``): each
        result leaves before ``on_operation`` ends, so it is shaped here."""
        self._streamed = True
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = shape(errors)  # type: ignore[union-attr]
        yield None
