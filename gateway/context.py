"""The per-request context: who is asking and a fresh set of loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from gateway.auth.principal import Principal
from gateway.loaders import Loaders
from sources.resilience.stale import StaleLog

if TYPE_CHECKING:
    from gateway.resources import Resources


@dataclass
class Context:
    """Built once per request (or per subscription), never shared."""

    principal: Principal
    loaders: Loaders
    resources: Resources
    request: Request | WebSocket | None = None
    response: Response | WebSocket | None = None
    connection_params: dict[str, Any] | None = field(default=None)
    reported_errors: list[GraphQLError] = field(default_factory=list)
    """Errors of fields that still answered with what they had (gateway.partial_results)."""
    stale: StaleLog = field(default_factory=StaleLog)
    """Sources whose last good value this request was served (``extensions.stale``)."""

    @classmethod
    def build(
        cls,
        resources: Resources,
        principal: Principal,
        request: Request | WebSocket | None = None,
        response: Response | WebSocket | None = None,
    ) -> Context:
        return cls(
            principal=principal,
            loaders=Loaders.build(resources, principal),
            resources=resources,
            request=request,
            response=response,
        )
