"""Lineage for audits: the graph around a node, as of any instant, with a verifiable digest."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON

from gateway.partial_results import report
from resolvers.context import Info
from resolvers.ids import decode_id, encode_id
from resolvers.items import each_or_error
from resolvers.lineage_access import hidden_keys, readable_part, require_known
from resolvers.lineage_forms import FORMS, lineage_key_of
from resolvers.models import Deployment
from resolvers.node import Node, resolve_node
from sources.errors import InputError, NotAllowedError, NotFoundError
from sources.lineage.digest import digest
from sources.lineage.export import ExecutionMeta, to_openlineage
from sources.lineage.model import (
    Direction,
    Edge,
    EdgeInput,
    Graph,
    NodeType,
    dataset_key,
    split_key,
)
from sources.metadb.models import LineageEdgeKind
from sources.models.model import DatasetRef

if TYPE_CHECKING:
    from resolvers.datasets import Dataset

LineageDirectionEnum = strawberry.enum(
    Direction,
    name="LineageDirection",
    description="UPSTREAM: where it came from; DOWNSTREAM: what depends on it; BOTH.",
)
LineageEdgeKindEnum = strawberry.enum(
    LineageEdgeKind,
    name="LineageEdgeKind",
    description="Edges point downstream: Dataset CONSUMED by a run; run PRODUCED a "
    "version or dataset; version DEPLOYED to an endpoint; original DERIVED_FROM into "
    "derived; card (or catalog entity) DESCRIBES a node.",
)
MAX_DEPTH = 20
MAX_NODE_BUDGET = 5_000
DEFAULT_NODE_BUDGET = 1_000


def global_id(key: str) -> strawberry.ID:
    """A lineage node key (``Type:natural key``) as the GraphQL id of that node."""
    node_type, natural = split_key(key)
    return strawberry.ID(encode_id(str(node_type), natural))


def lineage_key(node_id: str) -> str:
    """A GraphQL id as its lineage node key; InputError for ids lineage does not hold."""
    type_name, natural = decode_id(node_id)
    key = f"{type_name}:{natural}"
    split_key(key)
    return key


@strawberry.type(description="A directed edge, holding from recordedAt until retiredAt.")
class LineageEdge:
    from_: strawberry.ID = strawberry.field(name="from")
    to: strawberry.ID
    kind: LineageEdgeKindEnum  # type: ignore[valid-type]
    recorded_at: datetime
    retired_at: datetime | None
    origin: str = strawberry.field(
        description="Who reported it first: 'api', 'openlineage', 'aws' (derived), 'mlmeta'."
    )

    @staticmethod
    def of(edge: Edge) -> LineageEdge:
        return LineageEdge(
            from_=global_id(edge.from_key),
            to=global_id(edge.to_key),
            kind=edge.kind,
            recorded_at=edge.recorded_at,
            retired_at=edge.retired_at,
            origin=edge.origin,
        )


@strawberry.type(description="The part of the lineage graph around a node, as it stood at asOf.")
class LineageGraph:
    as_of: datetime
    truncated: bool = strawberry.field(
        description="True when the depth or the node budget left part of the graph out."
    )
    node_ids: list[strawberry.ID] = strawberry.field(
        description="Every node's id, breadth-first from the root: what the digest covers."
    )
    edges: list[LineageEdge]
    digest: str = strawberry.field(
        description="sha256 over the canonical form of nodes and edges (README: 'Lineage "
        "digests'); `mlmeta lineage verify` recomputes it from an export."
    )
    withheld: int = strawberry.field(
        description="Nodes left out because you may not read them (a model whose catalog "
        "entity you cannot see), with the nodes reached only through them."
    )
    graph: strawberry.Private[Graph]

    @staticmethod
    def of(graph: Graph, withheld: int = 0) -> LineageGraph:
        return LineageGraph(
            as_of=graph.as_of,
            truncated=graph.truncated,
            withheld=withheld,
            node_ids=[global_id(k) for k in graph.nodes],
            edges=[LineageEdge.of(e) for e in graph.edges],
            digest=digest(graph),
            graph=graph,
        )

    @strawberry.field(description="The node the walk started from.")
    async def root(self, info: Info) -> Node | None:
        result: Node | None = await resolve_node(info, global_id(self.graph.root))
        return result

    @strawberry.field(
        description="The nodes, resolved; a node whose source no longer has it is left "
        "out here but stays in nodeIds; one whose source failed is null (with an error)."
    )
    async def nodes(self, info: Info) -> list[Node | None] | None:
        return await each_or_error(resolve_node(info, global_id(k)) for k in self.graph.nodes)

    @strawberry.field(
        description="The same graph as OpenLineage 2-0-2 run events, one per run; runId is "
        "a UUIDv5 of the run's id, so exports are identical every time."
    )
    async def open_lineage(self, info: Info) -> list[JSON] | None:
        loaders = info.context.loaders
        keys = [split_key(k) for k in self.graph.nodes]
        runs = [natural for t, natural in keys if t is NodeType.PIPELINE_EXECUTION]
        dataset_ids = [natural for t, natural in keys if t is NodeType.DATASET]
        executions, rows = await asyncio.gather(
            loaders.executions_by_id.load_many(runs), loaders.datasets_by_key.load_many(dataset_ids)
        )
        pipelines = await loaders.pipelines_by_id.load_many(
            sorted({e.pipeline_id for e in executions if e is not None})
        )
        names = {p.id: p.name for p, _ in (x for x in pipelines if x is not None)}
        meta = {
            e.id: ExecutionMeta(
                pipeline_name=names.get(e.pipeline_id, e.pipeline_id),
                status=e.status,
                started_at=e.started_at,
                stopped_at=e.stopped_at,
            )
            for e in executions
            if e is not None
        }
        datasets = {row.id: row for row in rows if row is not None}
        events = to_openlineage(self.graph, executions=meta, datasets=datasets)
        return [JSON(e) for e in events]


def check_walk(depth: int, node_budget: int) -> None:
    if not 1 <= depth <= MAX_DEPTH:
        raise InputError(f"depth must be 1 to {MAX_DEPTH}, got {depth}")
    if not 1 <= node_budget <= MAX_NODE_BUDGET:
        raise InputError(f"nodeBudget must be 1 to {MAX_NODE_BUDGET}, got {node_budget}")


@strawberry.type(description="A deployment downstream of a dataset, and the path between them.")
class ImpactPath:
    deployment_id: strawberry.ID
    path_ids: list[strawberry.ID] = strawberry.field(
        description="Node ids from the dataset to the deployment, both included."
    )

    @strawberry.field(description="The deployment (null if SageMaker no longer has it).")
    async def deployment(self, info: Info) -> Deployment | None:
        result: Deployment | None = await resolve_node(info, self.deployment_id)
        return result

    @strawberry.field(description="The nodes of the path, resolved.")
    async def path(self, info: Info) -> list[Node | None] | None:
        return await each_or_error(resolve_node(info, i) for i in self.path_ids)


@strawberry.type
class LineageQuery:
    @strawberry.field(
        description="The lineage graph around a node (a dataset, run, model version, "
        "deployment, card or catalog entity), as it stood at asOf (default: now). `of` "
        f"is {FORMS}, as `mlmeta lineage export --of` takes. A node mlmeta has never seen "
        "(no edge ever recorded or derived, and no source knows it) is a NotFoundError."
    )
    async def lineage(
        self,
        info: Info,
        of: strawberry.ID,
        direction: LineageDirectionEnum = Direction.BOTH,  # type: ignore[valid-type]
        depth: int = 3,
        as_of: datetime | None = None,
        node_budget: int = DEFAULT_NODE_BUDGET,
    ) -> LineageGraph | None:
        check_walk(depth, node_budget)
        graph = await info.context.resources.lineage.graph(
            lineage_key_of(of),
            direction=direction,
            depth=depth,
            as_of=as_of,
            node_budget=node_budget,
        )
        if not graph.edges:
            await require_known(info, graph.root)
        readable = await readable_part(info, graph)
        if readable is None:
            raise NotFoundError(f"no node {of!r}, or not one you may read")
        _report_incomplete(info)
        return LineageGraph.of(*readable)

    @strawberry.field(
        description="A dataset mlmeta has recorded, by URI (and version); null if unknown."
    )
    async def dataset(
        self, info: Info, uri: str, version: str | None = None
    ) -> Annotated[Dataset, strawberry.lazy("resolvers.datasets")] | None:
        from resolvers.datasets import Dataset, check_uri

        key = dataset_key(check_uri(uri), version)
        row = await info.context.loaders.datasets_by_key.load(key)
        if row is None:
            return None
        return Dataset.of(DatasetRef(row.uri, row.version, row.name), row.created_at)

    @strawberry.field(
        description="Deployments that depend on a dataset (now), each with the path that "
        "connects them. `datasetId` takes the forms `lineage(of:)` does; a dataset mlmeta "
        "has never seen is a NotFoundError."
    )
    async def impact(
        self, info: Info, dataset_id: strawberry.ID, depth: int = 10
    ) -> list[ImpactPath] | None:
        check_walk(depth, DEFAULT_NODE_BUDGET)
        key = lineage_key_of(dataset_id)
        paths = await info.context.resources.lineage.impact(
            key, depth=depth, node_budget=DEFAULT_NODE_BUDGET
        )
        if not paths:
            await require_known(info, key)
        hidden = await hidden_keys(info, {k for p in paths for k in p.path})
        paths = [p for p in paths if not hidden.intersection(p.path)]
        _report_incomplete(info)
        return [
            ImpactPath(
                deployment_id=global_id(p.deployment), path_ids=[global_id(k) for k in p.path]
            )
            for p in paths
        ]


@strawberry.input(description="An edge, pointing downstream (the way data flows).")
class LineageEdgeInput:
    from_: strawberry.ID = strawberry.field(name="from")
    to: strawberry.ID
    kind: LineageEdgeKindEnum  # type: ignore[valid-type]


def _edges(edges: list[LineageEdgeInput]) -> list[EdgeInput]:
    return [EdgeInput(lineage_key(e.from_), lineage_key(e.to), e.kind) for e in edges]


def _check_writer(info: Info) -> None:
    if not info.context.principal.can_write:
        raise NotAllowedError("recording lineage needs a service token allowed to write")


@strawberry.type
class LineageMutation:
    @strawberry.mutation(
        description="Record edges (at most 1,000); recording a live edge again changes "
        "nothing. Returns how many were new. All or nothing. Needs a writing service token."
    )
    async def record_lineage(self, info: Info, edges: list[LineageEdgeInput]) -> int | None:
        _check_writer(info)
        return await info.context.resources.lineage.record(_edges(edges), origin="api")

    @strawberry.mutation(
        description="Retire live edges from now on: they stop holding but stay readable "
        "with asOf. Returns how many were retired. Needs a writing service token."
    )
    async def retire_lineage(self, info: Info, edges: list[LineageEdgeInput]) -> int | None:
        _check_writer(info)
        return await info.context.resources.lineage.retire(_edges(edges))


def _report_incomplete(info: Info) -> None:
    """The graph answers what is recorded; if edges AWS implies could not all be derived,
    say so with it (README, "When a source fails"): an export then refuses to save it."""
    failure = info.context.resources.lineage.incomplete
    if failure is not None:
        report(info, failure)
