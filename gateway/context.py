"""The per-request context: who is asking and a fresh set of loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from gateway.auth.principal import Principal
from gateway.loaders import Loaders

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
