"""Lineage queries: the stored graph, AWS-derived edges, and the model cards in force.

A walk reads the metadb only (one statement per depth level); edges AWS
implies are recorded beforehand by ``AwsLineage.refresh`` (cached), and the
card revision in force at ``asOf`` joins each model version as a
``ModelCard`` node with a DESCRIBES edge, so an export says what the card said
at the time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from sources.errors import InputError, UpstreamError
from sources.lineage.model import (
    Direction,
    Edge,
    EdgeInput,
    Graph,
    NodeType,
    node_key,
    split_dataset_key,
    split_key,
)
from sources.lineage.openlineage import LineageIngestor
from sources.metadb.lineage import LineageStore
from sources.metadb.models import LineageEdgeKind
from sources.models.cards import CardService, card_key
from sources.models.model import DatasetRef


class Derived(Protocol):
    """Edges implied by an upstream, recorded on ``refresh`` (cached by the implementer)."""

    async def refresh(self) -> object: ...

    @property
    def incomplete(self) -> UpstreamError | None:
        """The failure that kept the last refresh from recording every edge (None: none)."""


CARD_ORIGIN = "mlmeta"
MAX_RECORDED = 1_000


@dataclasses.dataclass(frozen=True)
class ImpactPath:
    deployment: str
    path: list[str]
    """Node keys from the dataset to the deployment, both included."""


class LineageService:
    def __init__(
        self,
        store: LineageStore,
        cards: CardService,
        ingestor: LineageIngestor,
        derived: Derived | None = None,
    ) -> None:
        self.store = store
        self.ingestor = ingestor
        self._cards = cards
        self._derived = derived

    async def refresh(self) -> None:
        if self._derived is not None:
            await self._derived.refresh()

    @property
    def incomplete(self) -> UpstreamError | None:
        """Why a graph may lack edges an upstream implies (the last refresh failed), or None.

        A graph read meanwhile holds every edge recorded, but not all there are:
        queries report this with it, and exports refuse it (an audit must never
        archive a silently incomplete graph under a digest).
        """
        return self._derived.incomplete if self._derived is not None else None

    async def graph(
        self,
        root: str,
        *,
        direction: Direction,
        depth: int,
        as_of: datetime | None,
        node_budget: int,
    ) -> Graph:
        split_key(root)
        await self.refresh()  # first, so that a walk as of now sees what it records
        when = as_of or datetime.now(UTC)
        graph = await self.store.walk(
            root, direction=direction, depth=depth, as_of=when, node_budget=node_budget
        )
        if direction is Direction.DOWNSTREAM:
            return graph
        return await self._with_cards(graph, node_budget)

    async def _with_cards(self, graph: Graph, node_budget: int) -> Graph:
        """Add, upstream of each model version, the card revision in force then."""
        versions = [
            natural
            for key in graph.nodes
            for node_type, natural in [split_key(key)]
            if node_type is NodeType.MODEL_VERSION
        ]
        if not versions:
            return graph
        cards = await self._cards.as_of(versions, graph.as_of)
        nodes, edges, truncated = list(graph.nodes), list(graph.edges), graph.truncated
        for arn, card in zip(versions, cards, strict=True):
            if card is None:
                continue
            if len(nodes) >= node_budget:
                truncated = True
                break
            card_node = node_key(NodeType.MODEL_CARD, card_key(card))
            nodes.append(card_node)
            edges.append(
                Edge(
                    from_key=card_node,
                    to_key=node_key(NodeType.MODEL_VERSION, arn),
                    kind=LineageEdgeKind.DESCRIBES,
                    recorded_at=card.updated_at,
                    retired_at=None,
                    origin=CARD_ORIGIN,
                )
            )
        edges.sort(key=lambda e: (e.from_key, e.to_key, e.kind))
        return dataclasses.replace(graph, nodes=nodes, edges=edges, truncated=truncated)

    async def ever_linked(self, key: str) -> bool:
        """Whether any edge, live or retired, recorded or derived, ever touched ``key``."""
        await self.refresh()
        return await self.store.ever_linked(key)

    async def impact(self, dataset: str, *, depth: int, node_budget: int) -> list[ImpactPath]:
        """Deployments downstream of a dataset, each with the shortest path to it."""
        if split_key(dataset)[0] is not NodeType.DATASET:
            raise InputError("impact analysis starts from a Dataset")
        graph = await self.graph(
            dataset,
            direction=Direction.DOWNSTREAM,
            depth=depth,
            as_of=None,
            node_budget=node_budget,
        )
        following: dict[str, list[str]] = {}
        for edge in graph.edges:
            following.setdefault(edge.from_key, []).append(edge.to_key)
        parents: dict[str, str] = {}
        frontier = [dataset]
        while frontier:  # breadth first: the first parent found is on a shortest path
            later = []
            for key in frontier:
                for target in sorted(following.get(key, [])):
                    if target != dataset and target not in parents:
                        parents[target] = key
                        later.append(target)
            frontier = later
        paths = []
        for key in sorted(parents):
            if split_key(key)[0] is not NodeType.DEPLOYMENT:
                continue
            path = [key]
            while path[-1] != dataset:
                path.append(parents[path[-1]])
            paths.append(ImpactPath(deployment=key, path=list(reversed(path))))
        return paths

    async def inputs(self, execution_ids: Sequence[str]) -> list[list[DatasetRef]]:
        """For each run, the datasets it consumed (live CONSUMED edges), one statement."""
        found = await self._linked(execution_ids, Direction.UPSTREAM, LineageEdgeKind.CONSUMED)
        refs: list[list[DatasetRef]] = []
        for keys in found:
            datasets = [natural for t, natural in map(split_key, keys) if t is NodeType.DATASET]
            refs.append([DatasetRef(*split_dataset_key(d)) for d in datasets])
        return refs

    async def produced_versions(self, execution_ids: Sequence[str]) -> list[list[str]]:
        """For each run, the model package ARNs it produced (live PRODUCED edges)."""
        found = await self._linked(execution_ids, Direction.DOWNSTREAM, LineageEdgeKind.PRODUCED)
        return [
            [natural for t, natural in map(split_key, keys) if t is NodeType.MODEL_VERSION]
            for keys in found
        ]

    async def producers(self, arns: Sequence[str]) -> list[str | None]:
        """For each model version, the run with a live PRODUCED edge into it (the first
        recorded), as someone reported it (API, OpenLineage) or AWS implies it."""
        keys = [node_key(NodeType.MODEL_VERSION, arn) for arn in arns]
        edges = await self.store.neighbours(keys, Direction.UPSTREAM)
        runs: dict[str, str] = {}
        for edge in sorted(edges, key=lambda e: e.recorded_at):
            node, natural = split_key(edge.from_key)
            if edge.kind is LineageEdgeKind.PRODUCED and node is NodeType.PIPELINE_EXECUTION:
                runs.setdefault(edge.to_key, natural)
        return [runs.get(key) for key in keys]

    async def _linked(
        self, execution_ids: Sequence[str], direction: Direction, kind: LineageEdgeKind
    ) -> list[list[str]]:
        """For each run, the node keys at the other end of its live ``kind`` edges."""
        await self.refresh()
        keys = [node_key(NodeType.PIPELINE_EXECUTION, e) for e in execution_ids]
        linked: dict[str, list[str]] = {key: [] for key in keys}
        for edge in await self.store.neighbours(keys, direction):
            if edge.kind is not kind:
                continue
            run, other = (
                (edge.to_key, edge.from_key)
                if direction is Direction.UPSTREAM
                else (edge.from_key, edge.to_key)
            )
            if run in linked:
                linked[run].append(other)
        return [linked[key] for key in keys]

    async def record(self, edges: Sequence[EdgeInput], *, origin: str) -> int:
        if len(edges) > MAX_RECORDED:
            raise InputError(f"at most {MAX_RECORDED} edges per call, got {len(edges)}")
        return await self.store.record(edges, origin=origin)

    async def retire(self, edges: Sequence[EdgeInput]) -> int:
        if len(edges) > MAX_RECORDED:
            raise InputError(f"at most {MAX_RECORDED} edges per call, got {len(edges)}")
        return await self.store.retire(edges)
