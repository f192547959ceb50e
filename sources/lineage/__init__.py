"""Lineage: how data flows from datasets through runs to models and deployments.

The graph is a set of typed node keys joined by downstream edges, kept with
their history so it can be read as of any past instant (``sources.metadb.
lineage``). OpenLineage events feed it (``openlineage``); a walk can be
exported back as OpenLineage (``export``) and sealed with a digest
(``digest``).
"""

from __future__ import annotations

from sources.lineage.model import (
    DatasetRow,
    Direction,
    Edge,
    EdgeInput,
    Graph,
    NodeType,
    dataset_key,
    node_type,
)

__all__ = [
    "DatasetRow",
    "Direction",
    "Edge",
    "EdgeInput",
    "Graph",
    "NodeType",
    "dataset_key",
    "node_type",
]
