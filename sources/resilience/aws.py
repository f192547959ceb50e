"""The breaker in front of an aiobotocore client: every API call of a service passes here.

Wrapping the client (rather than each adapter's call helper) makes the client
the one chokepoint per AWS service: SageMakerSource and SageMakerRegistry share
the SageMaker client and so share its breaker, and a new call site cannot
forget it. Errors leave unchanged (adapters still translate them and look at
ClientError codes); only an open circuit raises ``CircuitOpenError``, which
``sources.aws.translate`` passes through as it is, and so does the
``UpstreamError`` of a successful answer whose body is not JSON at all (a proxy's
HTML page): botocore would parse it into an empty answer, and the adapters
would fail on it with a KeyError, masked as an unexpected error of no source.
"""

from __future__ import annotations

import functools
import json
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
        client.meta.events.register("before-parse", _refuse_non_json(breaker.source))

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name not in self._operations:
            return attribute
        return self._guarded(name, attribute)

    def _guarded(
        self, name: str, operation: Callable[..., Awaitable[Any]]
    ) -> Callable[..., Awaitable[Any]]:
        api_name = self._client.meta.method_to_api_mapping[name]  # e.g. DescribeExecution

        @functools.wraps(operation)
        async def call(*args: Any, **kwargs: Any) -> Any:
            async with self._breaker.guard(is_aws_failure, api_name):
                return await operation(*args, **kwargs)

        return call


def _refuse_non_json(source: str) -> Callable[..., None]:
    """A botocore ``before-parse`` handler: a 2xx JSON-protocol answer must be JSON."""

    def check(operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
        body = response_dict.get("body")
        if (
            operation_model.service_model.resolved_protocol != "json"
            or not 200 <= response_dict.get("status_code", 0) < 300
            or not isinstance(body, bytes)
            or not body.strip()
        ):
            return
        try:
            json.loads(body)
        except ValueError:
            raise UpstreamError(
                f"{source} answered in an unexpected shape", source=source
            ) from None

    return check
