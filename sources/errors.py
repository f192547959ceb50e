"""The error tree every source raises, translated at the GraphQL boundary.

Codes reuse Backstage's error names where they fit, so portal plugins can
handle mlmeta's errors like the catalog's; upstream failures get codes of
their own. The message of an ``MlmetaError`` is shown to the client as is:
never put secrets, SQL or upstream response bodies in it.
"""

from __future__ import annotations


class MlmetaError(Exception):
    """An expected failure, safe to show to the caller."""

    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, *, source: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.source = source


class InputError(MlmetaError):
    """The caller sent something malformed: a bad ref, id, argument or body."""

    code = "InputError"


class NotFoundError(MlmetaError):
    code = "NotFoundError"


class NotAllowedError(MlmetaError):
    """The principal is known but may not do this."""

    code = "NotAllowedError"


class AuthenticationError(MlmetaError):
    """No valid credentials: missing, malformed, expired or wrongly signed token."""

    code = "AuthenticationError"


class ConflictError(MlmetaError):
    """A write raced another one (stale revision, duplicate key)."""

    code = "ConflictError"


class QueryTooComplexError(MlmetaError):
    """The document is too deep, too wide, too long or asks for too much."""

    code = "QUERY_TOO_COMPLEX"


class UpstreamError(MlmetaError):
    """An upstream failed; ``source`` names which one."""

    code = "UPSTREAM_UNAVAILABLE"


class UpstreamTimeoutError(UpstreamError):
    code = "UPSTREAM_TIMEOUT"


class UpstreamThrottledError(UpstreamError):
    """The upstream rate-limited us; retry later."""

    code = "UPSTREAM_THROTTLED"
