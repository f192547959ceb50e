"""Who is asking, and how the sources behind the gateway are doing."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from resolvers.catalog import (
    CatalogEntity,
    CatalogEntityConnection,
    entity_connection,
    load_entity,
)
from resolvers.context import Info
from resolvers.pagination import PageInfo
from sources.catalog.model import EntityFilter
from sources.resilience.breaker import CircuitState

# Registers the sources' own enum as the GraphQL type (strawberry.enum returns the class).
strawberry.enum(
    CircuitState,
    description=(
        "A source's circuit breaker. CLOSED: calls go through. OPEN: after repeated "
        "failures, calls fail at once (UPSTREAM_UNAVAILABLE) for a cool-down. HALF_OPEN: "
        "the cool-down is over; the next call probes the source, and closes the circuit "
        "if it succeeds."
    ),
)


@strawberry.enum(description="What kind of principal is calling.")
class ViewerKind(enum.Enum):
    USER = "USER"
    SERVICE = "SERVICE"
    ANONYMOUS = "ANONYMOUS"


@strawberry.type(description="Who is asking: the principal, its user entity and what it owns.")
class Viewer:
    subject: str = strawberry.field(
        description="'user:default/alice', or the service token's name, or 'anonymous'."
    )
    kind: ViewerKind
    ownership_refs: list[str] = strawberry.field(
        description="Entity refs the principal owns through (itself and its groups)."
    )

    @strawberry.field(description="The principal's user entity in the catalog, if it has one.")
    async def user(self, info: Info) -> CatalogEntity | None:
        if self.kind is not ViewerKind.USER:
            return None
        return await load_entity(info, self.subject)

    @strawberry.field(description="Entities owned by the principal or any of its groups.")
    async def owned_entities(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> CatalogEntityConnection | None:
        if not self.ownership_refs:
            empty = PageInfo(
                has_next_page=False, has_previous_page=False, start_cursor=None, end_cursor=None
            )
            return CatalogEntityConnection(edges=[], page_info=empty, total_count=0)
        owners = EntityFilter(owners=tuple(self.ownership_refs))
        return await entity_connection(info, owners, first, after)


@strawberry.type(description="The health of one source behind the gateway.")
class SourceStatus:
    name: str = strawberry.field(
        description="'catalog', 'stepfunctions', 'sagemaker', 'metadb', ..."
    )
    healthy: bool
    latency_ms: float | None
    last_error: str | None
    checked_at: datetime
    circuit: CircuitState = strawberry.field(
        description="The source's circuit breaker now (CLOSED for sources without one)."
    )


@strawberry.type
class OperationsQuery:
    @strawberry.field(description="The calling principal.")
    def viewer(self, info: Info) -> Viewer:
        principal = info.context.principal
        return Viewer(
            subject=principal.subject,
            kind=ViewerKind(principal.kind.value),
            ownership_refs=list(principal.ownership_refs),
        )

    @strawberry.field(
        description="Each configured source, as last checked (at most a few seconds ago)."
    )
    async def sources(self, info: Info) -> list[SourceStatus]:
        results = await info.context.resources.health.results()
        return [
            SourceStatus(
                name=r.name,
                healthy=r.healthy,
                latency_ms=r.latency_ms,
                last_error=r.last_error,
                checked_at=r.checked_at,
                circuit=info.context.resources.breakers.state(r.name),
            )
            for r in results
        ]
