"""The breaker in front of an aiobotocore client: every API call of a service passes here.

Wrapping the client (rather than each adapter's call helper) makes the client
the one chokepoint per AWS service: SageMakerSource and SageMakerRegistry share
the SageMaker client and so share its breaker, and a new call site cannot
forget it. Errors leave unchanged (adapters still translate them and look at
ClientError codes); only an open circuit raises ``CircuitOpenError``, which
``sources.aws.translate`` passes through as it is.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sources.aws import THROTTLING_CODES
from sources.errors import UpstreamError
from sources.resilience.breaker import CircuitBreaker


def is_aws_failure(exc: BaseException) -> bool:
    """Counts: no connection, timeouts, 5xx answers and throttling (after botocore's
    own retries). An answer about the request (4xx: not found, denied, invalid) does not."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return code in THROTTLING_CODES or status >= 500
    return isinstance(exc, (BotoCoreError, UpstreamError, TimeoutError, ConnectionError))


class GuardedClient:
    """An aiobotocore client whose API operations run inside ``breaker.guard()``."""

    def __init__(self, client: Any, breaker: CircuitBreaker) -> None:
        self._client = client
        self._breaker = breaker
        self._operations = frozenset(client.meta.method_to_api_mapping)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name not in self._operations:
            return attribute
        return self._guarded(attribute)

    def _guarded(self, operation: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(operation)
        async def call(*args: Any, **kwargs: Any) -> Any:
            async with self._breaker.guard(is_aws_failure):
                return await operation(*args, **kwargs)

        return call
