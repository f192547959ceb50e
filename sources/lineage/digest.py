"""A digest of a lineage graph: the same graph gives the same digest, anywhere, any time.

An auditor can note the digest of "the lineage of model X as of t" and later
check that a re-computation shows the same graph. ``digest`` is the SHA-256
(lower-case hex) of ``canonical_form``, which is the UTF-8 encoding of this
JSON document::

    {"asOf": T(as_of),
     "edges": [[from_key, to_key, kind, T(recorded_at), T(retired_at) or null], ...],
     "nodes": [key, ...],
     "root": root}

- ``T(x)``: the instant in UTC as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (milliseconds,
  sub-millisecond digits truncated, so both backends' precisions agree);
- ``nodes``: the node keys only, without duplicates, sorted by Unicode code
  point. No attributes: a node's type is in its key, and names, statuses or
  owners come from upstreams that change them, so they are not the lineage
  being attested;
- ``edges``: sorted by (from, to, kind, recordedAt, retiredAt), a null
  retiredAt before any instant; ``kind`` is the edge kind's name;
- serialised with ``json.dumps(sort_keys=True, separators=(",", ":"),
  ensure_ascii=False)``: object keys sorted by code point, no whitespace,
  non-ASCII characters as themselves.

Left out on purpose: ``truncated`` (a property of how a walk was bounded, not
of the graph shown), edge origins (who reported an edge, not where data flowed),
the order of ``nodes`` and ``edges`` in the ``Graph`` and anything volatile
such as the time the digest is computed.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from sources.lineage.model import Edge, Graph


def canonical_form(graph: Graph) -> bytes:
    """The bytes ``digest`` hashes (see the module docstring)."""
    edges = sorted(_edge(edge) for edge in graph.edges)
    document = {
        "asOf": _instant(graph.as_of),
        "edges": [[*head, retired or None] for *head, retired in edges],
        "nodes": sorted(set(graph.nodes)),
        "root": graph.root,
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def digest(graph: Graph) -> str:
    """SHA-256, lower-case hex, of the graph's canonical form."""
    return hashlib.sha256(canonical_form(graph)).hexdigest()


def _edge(edge: Edge) -> tuple[str, str, str, str, str]:
    """The edge as a sortable row; an empty retiredAt (null) sorts first."""
    retired = "" if edge.retired_at is None else _instant(edge.retired_at)
    return (edge.from_key, edge.to_key, str(edge.kind), _instant(edge.recorded_at), retired)


def _instant(value: datetime) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} in a graph; instants must be aware")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
