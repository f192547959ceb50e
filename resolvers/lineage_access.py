"""What of a lineage graph the caller may read.

A model version (and its cards) is readable by whoever can read the catalog
entity that claims its model (``model_visible``); a catalog entity by whoever
the catalog shows it to. Nodes the caller may not read are left out of the
graph, and so are the nodes the walk reached only through them: an edge must
not reveal what a node would hide.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable

from resolvers.context import Info
from resolvers.models import model_visible
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
