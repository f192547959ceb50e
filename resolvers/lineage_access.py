"""What of a lineage graph the caller may read.

A model version (and its cards) is readable by whoever can read the catalog
entity that claims its model (``model_visible``); a catalog entity by whoever
the catalog shows it to. Nodes the caller may not read are left out of the
graph, and so are the nodes the walk reached only through them: an edge must
not reveal what a node would hide.

A node mlmeta has never seen is not an empty graph but a ``NotFoundError``: an
auditor who mistypes an ARN must not get a one-node graph with a valid digest.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable

from resolvers.context import Info
from resolvers.ids import encode_id
from resolvers.models import model_visible
from resolvers.node import resolve_node
from sources.errors import NotFoundError
from sources.lineage.model import Graph, NodeType, split_key


def _package_group(arn: str) -> str | None:
    """``churn-model`` from ``arn:aws:sagemaker:...:model-package/churn-model/3``."""
    _, sep, rest = arn.partition(":model-package/")
    group = rest.split("/", 1)[0] if sep else ""
    return group or None


async def hidden_keys(info: Info, keys: Iterable[str]) -> set[str]:
    """The node keys among ``keys`` the caller may not read."""
    by_group: dict[str, list[str]] = {}
    entities: dict[str, str] = {}
    for key in keys:
        node_type, natural = split_key(key)
        if node_type in (NodeType.MODEL_VERSION, NodeType.MODEL_CARD):
            group = _package_group(natural.split("@", 1)[0])
            if group is not None:
                by_group.setdefault(group, []).append(key)
        elif node_type is NodeType.CATALOG_ENTITY:
            entities[key] = natural
    groups = list(by_group)
    visible, found = await asyncio.gather(
        asyncio.gather(*(model_visible(info, g) for g in groups)),
        info.context.loaders.entities_by_ref.load_many(list(entities.values())),
    )
    hidden = {k for g, ok in zip(groups, visible, strict=True) if not ok for k in by_group[g]}
    hidden |= {k for k, e in zip(entities, found, strict=True) if e is None}
    return hidden


async def readable_part(info: Info, graph: Graph) -> tuple[Graph, int] | None:
    """The graph as the caller may see it, and how many nodes were left out;
    None when the caller may not read the root itself."""
    hidden = await hidden_keys(info, graph.nodes)
    if not hidden:
        return graph, 0
    if graph.root in hidden:
        return None
    neighbours: dict[str, set[str]] = {}
    for edge in graph.edges:
        if edge.from_key not in hidden and edge.to_key not in hidden:
            neighbours.setdefault(edge.from_key, set()).add(edge.to_key)
            neighbours.setdefault(edge.to_key, set()).add(edge.from_key)
    kept = {graph.root}
    frontier = [graph.root]
    while frontier:
        frontier = [n for key in frontier for n in neighbours.get(key, ()) if n not in kept]
        kept.update(frontier)
    part = dataclasses.replace(
        graph,
        nodes=[k for k in graph.nodes if k in kept],
        edges=[e for e in graph.edges if e.from_key in kept and e.to_key in kept],
    )
    return part, len(graph.nodes) - len(part.nodes)


async def require_known(info: Info, key: str) -> None:
    """``NotFoundError`` naming ``key`` unless mlmeta has seen that node: an edge ever
    touched it (recorded, or derived from AWS by the walk's refresh, even if retired
    since), or its source knows it (a recorded dataset, a run, a version the caller may
    read, an endpoint serving one, a saved card, a catalog entity).

    Only asked of a walk that found no edge, so a connected node costs nothing more.
    """
    if await info.context.resources.lineage.ever_linked(key):
        return
    node_type, natural = split_key(key)
    if node_type is NodeType.DATASET:
        # Any URI resolves to a Dataset object; only a recorded one is known.
        found: object = await info.context.loaders.datasets_by_key.load(natural)
    else:
        found = await resolve_node(info, encode_id(str(node_type), natural))
    if found is None:
        raise NotFoundError(
            f"no lineage node {key[:200]!r}: mlmeta has never seen it (no edge, and no "
            "source knows it), or you may not read it"
        )
