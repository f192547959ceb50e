"""The lineage domain: node keys, edges and walked graphs.

A node key is ``"<GraphQL type>:<natural key>"`` (``Dataset:s3://b/x@3``,
``PipelineExecution:<execution arn or external:...>``, ``ModelVersion:<model
package arn>``, ``Deployment:<endpoint arn>``, ``ModelCard:<model package
arn>@<revision>``, ``CatalogEntity:<entity ref>``), so a resolver can turn one
into a GraphQL id without a lookup. Edges point downstream, the way data flows:

- Dataset -CONSUMED-> PipelineExecution
- PipelineExecution -PRODUCED-> ModelVersion | Dataset
- ModelVersion -DEPLOYED-> Deployment
- original -DERIVED_FROM-> derived (Dataset -> Dataset, ModelVersion -> ModelVersion)
- ModelCard -DESCRIBES-> ModelVersion; CatalogEntity -DESCRIBES-> any node

``check_edge`` refuses any other pairing, so an edge recorded backwards fails
loudly instead of silently inverting the graph.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sources.errors import InputError
from sources.metadb.models import LineageEdgeKind

SOURCE = "lineage"
MAX_KEY_LENGTH = 2_048
"""Longest node key, type prefix included (an ARN alone may take 2,048 characters)."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class NodeType(StrEnum):
    """The GraphQL type a lineage node resolves to."""

    DATASET = "Dataset"
    PIPELINE_EXECUTION = "PipelineExecution"
    MODEL_VERSION = "ModelVersion"
    DEPLOYMENT = "Deployment"
    MODEL_CARD = "ModelCard"
    CATALOG_ENTITY = "CatalogEntity"


class Direction(StrEnum):
    """Which way a walk follows edges: against them, along them, or both ways."""

    UPSTREAM = "UPSTREAM"
    DOWNSTREAM = "DOWNSTREAM"
    BOTH = "BOTH"


_ANY = frozenset(NodeType)
ENDPOINTS: dict[LineageEdgeKind, tuple[tuple[frozenset[NodeType], frozenset[NodeType]], ...]] = {
    LineageEdgeKind.CONSUMED: (
        (frozenset({NodeType.DATASET}), frozenset({NodeType.PIPELINE_EXECUTION})),
    ),
    LineageEdgeKind.PRODUCED: (
        (
            frozenset({NodeType.PIPELINE_EXECUTION}),
            frozenset({NodeType.MODEL_VERSION, NodeType.DATASET}),
        ),
    ),
    LineageEdgeKind.DEPLOYED: (
        (frozenset({NodeType.MODEL_VERSION}), frozenset({NodeType.DEPLOYMENT})),
    ),
    LineageEdgeKind.DERIVED_FROM: (
        (frozenset({NodeType.DATASET}), frozenset({NodeType.DATASET})),
        (frozenset({NodeType.MODEL_VERSION}), frozenset({NodeType.MODEL_VERSION})),
    ),
    LineageEdgeKind.DESCRIBES: (
        (frozenset({NodeType.MODEL_CARD}), frozenset({NodeType.MODEL_VERSION})),
        (frozenset({NodeType.CATALOG_ENTITY}), _ANY),
    ),
}
"""For each kind, the (from types, to types) pairs it may join."""


def dataset_key(uri: str, version: str | None) -> str:
    """A dataset's id (the natural key of its ``Dataset:`` node): ``uri[@version]``."""
    return uri if version is None else f"{uri}@{version}"


def split_dataset_key(key: str) -> tuple[str, str | None]:
    """``(uri, version)`` of a dataset id: the version follows the last ``@`` when no
    ``/`` comes after it (so an ``@`` inside a URI's path is not taken for one)."""
    uri, at, version = key.rpartition("@")
    if at and uri and version and "/" not in version:
        return uri, version
    return key, None


def node_key(type_: NodeType, natural_key: str) -> str:
    return f"{type_}:{natural_key}"


def split_key(key: str) -> tuple[NodeType, str]:
    """(type, natural key) of a node key; ``InputError`` if it is not a valid key."""
    if not isinstance(key, str):
        raise InputError(f"node key must be a string, got {type(key).__name__}", source=SOURCE)
    prefix, colon, natural = key.partition(":")
    try:
        kind = NodeType(prefix)
    except ValueError:
        raise InputError(
            f"node key {key[:80]!r} must start with one of {', '.join(t + ':' for t in NodeType)}",
            source=SOURCE,
        ) from None
    if not colon or not natural.strip():
        raise InputError(f"node key {key[:80]!r} has an empty natural key", source=SOURCE)
    if len(key) > MAX_KEY_LENGTH:
        raise InputError(
            f"node key {key[:80]!r}... is {len(key)} characters; at most {MAX_KEY_LENGTH}",
            source=SOURCE,
        )
    if natural != natural.strip() or _CONTROL.search(natural):
        raise InputError(
            f"node key {key[:80]!r} has surrounding spaces or control characters", source=SOURCE
        )
    return kind, natural


def node_type(key: str) -> NodeType:
    """The GraphQL type of a node key; ``InputError`` if the key is malformed."""
    return split_key(key)[0]


@dataclass(frozen=True)
class EdgeInput:
    """An edge to record or retire."""

    from_key: str
    to_key: str
    kind: LineageEdgeKind


def check_edge(edge: EdgeInput) -> EdgeInput:
    """The edge with its kind as an enum member; ``InputError`` naming what is wrong."""
    try:
        kind = LineageEdgeKind(edge.kind)
    except ValueError:
        raise InputError(
            f"edge kind {edge.kind!r} is not one of {', '.join(LineageEdgeKind)}", source=SOURCE
        ) from None
    from_type, to_type = node_type(edge.from_key), node_type(edge.to_key)
    if edge.from_key == edge.to_key:
        raise InputError(f"edge {edge.from_key[:80]!r} -> itself is not allowed", source=SOURCE)
    if not any(from_type in a and to_type in b for a, b in ENDPOINTS[kind]):
        raise InputError(
            f"a {kind} edge cannot go from a {from_type} to a {to_type} "
            "(edges point downstream, the way data flows)",
            source=SOURCE,
        )
    return EdgeInput(edge.from_key, edge.to_key, kind)


@dataclass(frozen=True)
class Edge:
    """An edge as stored: live from ``recorded_at`` until ``retired_at`` (if ever)."""

    from_key: str
    to_key: str
    kind: LineageEdgeKind
    recorded_at: datetime
    retired_at: datetime | None
    origin: str
    """Who first reported it ("openlineage", "api", ...)."""


@dataclass(frozen=True)
class Graph:
    """The part of the lineage graph reached from ``root``, as it stood at ``as_of``."""

    root: str
    nodes: list[str]
    """Breadth-first order: the root, then each depth level sorted by key."""
    edges: list[Edge]
    """Sorted by (from_key, to_key, kind)."""
    truncated: bool
    """True when the depth limit or the node budget left part of the graph out."""
    as_of: datetime


@dataclass(frozen=True)
class DatasetRow:
    """A stored dataset version; ``id`` is ``dataset_key(uri, version)``."""

    id: str
    uri: str
    version: str | None
    name: str
    entity_ref: str | None
    created_at: datetime
