"""aiobotocore clients: one per service per process, made in the lifespan."""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass
from functools import cache
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from sources.errors import (
    InputError,
    MlmetaError,
    NotFoundError,
    UpstreamError,
    UpstreamThrottledError,
    UpstreamTimeoutError,
)

THROTTLING_CODES = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"}
)
INPUT_CODES = frozenset({"InvalidArn", "InvalidName", "InvalidToken"})
NOT_FOUND_CODES = frozenset(
    {
        "ExecutionDoesNotExist",
        "StateMachineDoesNotExist",
        "ResourceNotFound",
        "ResourceNotFoundException",
        "ValidationException",
    }
)


@dataclass(frozen=True)
class AwsSettings:
    region: str
    endpoint_url: str | None = None
    timeout_seconds: float = 10.0
    max_attempts: int = 3


@cache
def shared_session() -> AioSession:
    """One session per process: it caches the (large) service models it has loaded."""
    return get_session()


async def open_client(stack: AsyncExitStack, service: str, settings: AwsSettings) -> Any:
    """Create a client whose lifetime is ``stack``'s: retries in ``standard`` mode."""
    config = AioConfig(
        region_name=settings.region,
        connect_timeout=settings.timeout_seconds,
        read_timeout=settings.timeout_seconds,
        # total_max_attempts counts the first try; botocore's max_attempts counts retries only.
        retries={"mode": "standard", "total_max_attempts": settings.max_attempts},
        max_pool_connections=20,
    )
    session = shared_session()
    return await stack.enter_async_context(
        session.create_client(service, endpoint_url=settings.endpoint_url or None, config=config)
    )


def translate(exc: Exception, source: str) -> MlmetaError:
    """Map a botocore failure to our error tree, without upstream details.

    Our own errors (an open circuit refusing the call) are already translated.
    """
    if isinstance(exc, MlmetaError):
        return exc
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if code in THROTTLING_CODES:
            return UpstreamThrottledError(f"{source} is throttling requests", source=source)
        if code in INPUT_CODES:
            return InputError(f"{source} refused the request: {code}", source=source)
        if code in NOT_FOUND_CODES:
            return NotFoundError(f"{source}: {code}", source=source)
        return UpstreamError(f"{source} answered {code or 'an error'}", source=source)
    if isinstance(exc, (ConnectTimeoutError, ReadTimeoutError)):
        return UpstreamTimeoutError(f"{source} did not answer in time", source=source)
    if isinstance(exc, (EndpointConnectionError, BotoCoreError)):
        return UpstreamError(f"{source} cannot be reached", source=source)
    return UpstreamError(f"{source} failed", source=source)
