"""A second subgraph, written for the tests: teams and who is on call for their services.

It knows catalog entities only by ``ref`` and adds ``onCall`` to them, as an
organisation's own service would extend mlmeta's ``CatalogEntity`` in a supergraph.
"""

from __future__ import annotations

import strawberry
from strawberry.asgi import GraphQL

PIPELINE = "component:default/churn-training-pipeline"
SCORING = "component:default/churn-batch-scoring"

ROTA = {PIPELINE: ("alice", ["bob", "carol"]), SCORING: ("bob", ["alice"])}
TEAMS = {"ml-platform": [PIPELINE, SCORING]}


@strawberry.type(description="Who answers the pager for a service this week.")
class OnCall:
    primary: str
    escalation: list[str]


@strawberry.federation.type(keys=["ref"])  # described by mlmeta
class CatalogEntity:
    ref: str

    @strawberry.field
    def on_call(self) -> OnCall | None:
        rota = ROTA.get(self.ref)
        return OnCall(primary=rota[0], escalation=rota[1]) if rota else None

    @classmethod
    def resolve_reference(cls, ref: str) -> CatalogEntity:
        return cls(ref=ref)


@strawberry.type
class Team:
    name: str

    @strawberry.field(description="The services the team runs, as catalog entities.")
    def services(self) -> list[CatalogEntity]:
        return [CatalogEntity(ref=ref) for ref in TEAMS.get(self.name, [])]


@strawberry.type
class Query:
    @strawberry.field
    def team(self, name: str) -> Team | None:
        return Team(name=name) if name in TEAMS else None


schema = strawberry.federation.Schema(query=Query, federation_version="2.11")


def app() -> GraphQL[None, None]:
    return GraphQL(schema, graphql_ide=None)
