"""The ``mlmeta lineage`` bundle: building one, checking its digest, verifying a file.

Bundle format ``mlmeta-lineage-bundle/1`` (UTF-8 JSON, two-space indent)::

    {"format": "mlmeta-lineage-bundle/1",
     "exportedAt": when the export ran, UTC (SOURCE_DATE_EPOCH overrides it),
     "gateway": the URL asked,
     "query": {"of": global id, "direction", "depth", "asOf", "nodeBudget"},
     "graph": {"root": key, "asOf", "truncated", "nodes": [key, ...],
               "edges": [{"from": key, "to": key, "kind", "recordedAt", "retiredAt",
                          "origin"}, ...]},
     "digest": sha256 of the graph's canonical form,
     "cards": [{"key", "source", "revision", "status", "updatedAt", "updatedBy",
                "markdown"}, ...]   (the card revisions in force at asOf),
     "approvals": [{"id", "key", "version", "status", "approval": {"status",
                    "description", "decidedAt", "decidedBy"} or null}, ...],
     "openLineage": [OpenLineage 2-0-2 RunEvent, ...]}

A key is ``"<Type>:<natural key>"`` (``ModelVersion:arn:aws:sagemaker:...``), the
decoded global id. The digest covers ``graph`` only. Its canonical form
(``sources/lineage/digest.py``) is the JSON document ``{"asOf", "edges": [[from, to,
kind, recordedAt, retiredAt or null], ...] sorted, "nodes": sorted unique keys,
"root"}`` with every instant as UTC ``YYYY-MM-DDTHH:MM:SS.mmmZ``, dumped with sorted
keys and no whitespace; the digest is its SHA-256 in lower-case hex. Not covered:
``truncated``, edge origins, cards, approvals (read fresh from the registry at export
time, not as of ``asOf``), OpenLineage events and ``exportedAt``.
``verify`` recomputes the digest from a bundle's graph.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from resolvers.ids import decode_id
from sources.errors import InputError

if TYPE_CHECKING:
    from sources.lineage.model import Graph

FORMAT = "mlmeta-lineage-bundle/1"
CARD_FIELDS = ("key", "source", "revision", "status", "updatedAt", "updatedBy", "markdown")
APPROVAL_FIELDS = ("id", "key", "version", "status", "approval")


class CliError(Exception):
    """A failure reported as one line on stderr; ``status`` is the exit code."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def verify(path: Path) -> int:
    """``lineage verify``: print OK or MISMATCH for the bundle at ``path``; the exit code."""
    try:
        bundle = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeError, ValueError) as exc:
        raise CliError(f"{path}: not a lineage bundle: {one_line(exc)}", 2) from None
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        raise CliError(f'{path}: not a lineage bundle: "format" is not {FORMAT!r}', 2)
    expected = bundle.get("digest")
    if not isinstance(expected, str):
        raise CliError(f'{path}: not a lineage bundle: no "digest"', 2)
    try:
        got = graph_digest(graph_of(bundle.get("graph")))
    except (KeyError, TypeError, ValueError, InputError) as exc:
        raise CliError(f'{path}: not a lineage bundle: bad "graph": {one_line(exc)}', 2) from None
    if got != expected:
        print(f"MISMATCH expected {expected} got {got}")
        return 1
    print(f"OK {got}")
    return 0


def graph_digest(graph: Graph) -> str:
    """The digest of ``graph`` (``sources.lineage.digest``)."""
    from sources.lineage.digest import digest  # imports SQLModel: only when needed

    return digest(graph)


def graph_of(document: Any) -> Graph:
    """The ``Graph`` a bundle's ``graph`` section describes (KeyError/TypeError/ValueError)."""
    from sources.lineage.model import Edge, Graph
    from sources.metadb.models import LineageEdgeKind

    edges = [
        Edge(
            from_key=_text(e["from"]),
            to_key=_text(e["to"]),
            kind=LineageEdgeKind(e["kind"]),
            recorded_at=_instant(e["recordedAt"]),
            retired_at=None if e["retiredAt"] is None else _instant(e["retiredAt"]),
            origin=_text(e["origin"]),
        )
        for e in document["edges"]
    ]
    return Graph(
        root=_text(document["root"]),
        nodes=[_text(n) for n in document["nodes"]],
        edges=edges,
        truncated=bool(document["truncated"]),
        as_of=_instant(document["asOf"]),
    )


def make_bundle(url: str, query: dict[str, Any], lineage: dict[str, Any]) -> dict[str, Any]:
    """The bundle for the gateway's ``lineage`` answer to ``query`` (KeyError/TypeError/...)."""
    nodes = [_key(i) for i in lineage["nodeIds"]]
    resolved = [{**n, "key": _key(n["id"])} for n in lineage["nodes"]]
    return {
        "format": FORMAT,
        "exportedAt": _exported_at(),
        "gateway": url,
        "query": query,
        "graph": {
            "root": _key(query["of"]),
            "asOf": lineage["asOf"],
            "truncated": lineage["truncated"],
            "nodes": nodes,
            "edges": [
                {**e, "from": _key(e["from"]), "to": _key(e["to"])} for e in lineage["edges"]
            ],
        },
        "digest": lineage["digest"],
        "cards": [
            _pick(n, CARD_FIELDS, status="cardStatus")
            for n in resolved
            if n["__typename"] == "ModelCard"
        ],
        "approvals": [
            _pick(n, APPROVAL_FIELDS, status="versionStatus")
            for n in resolved
            if n["__typename"] == "ModelVersion"
        ],
        "openLineage": lineage["openLineage"],
    }


def _pick(node: dict[str, Any], fields: tuple[str, ...], *, status: str) -> dict[str, Any]:
    """The node's fields for the bundle; ``status`` is aliased in the query (the enums differ)."""
    return {f: node[status if f == "status" else f] for f in fields}


def to_dot(bundle: dict[str, Any]) -> str:
    """Graphviz DOT: a box per node (type and short name), edges labelled by kind,
    retired edges dashed, the root in bold."""
    graph = bundle["graph"]
    lines = [
        "digraph lineage {",
        f"  // asOf {graph['asOf']} digest {bundle['digest']}",
        "  rankdir=LR;",
        "  node [shape=box];",
    ]
    for key in graph["nodes"]:
        type_name, _, natural = key.partition(":")
        label = _quote(f"{type_name}\n{_short(natural)}")
        bold = ", style=bold" if key == graph["root"] else ""
        lines.append(f"  {_quote(key)} [label={label}{bold}];")
    for edge in graph["edges"]:
        dashed = ", style=dashed" if edge["retiredAt"] else ""
        lines.append(
            f"  {_quote(edge['from'])} -> {_quote(edge['to'])} "
            f"[label={_quote(edge['kind'])}{dashed}];"
        )
    return "\n".join([*lines, "}"]) + "\n"


def _short(natural: str) -> str:
    """A readable name: an ARN's resource name (``churn-model/3``), else the key itself."""
    if not natural.startswith("arn:"):
        return natural
    arn, suffix = natural, ""
    if "@" in natural:  # a card revision: <model package arn>@<revision>
        arn, at, revision = natural.rpartition("@")
        suffix = at + revision
    resource = arn.split(":", 5)[-1]
    name = resource.split("/" if "/" in resource else ":", 1)[-1]
    return name.replace("/execution/", "/") + suffix


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _key(global_id: str) -> str:
    type_name, natural = decode_id(global_id)
    return f"{type_name}:{natural}"


def _exported_at() -> str:
    # Two exports with the same --as-of differ only here; SOURCE_DATE_EPOCH (the
    # reproducible-builds convention) pins it for byte-identical bundles.
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return format_instant(datetime.now(UTC))
    if not epoch.isdigit():
        raise CliError(f"SOURCE_DATE_EPOCH must be whole seconds since 1970, got {epoch!r}")
    return format_instant(datetime.fromtimestamp(int(epoch), UTC))


def format_instant(value: datetime) -> str:
    """``value`` as UTC ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def _instant(value: object) -> datetime:
    parsed = datetime.fromisoformat(_text(value))
    if parsed.tzinfo is None:
        raise ValueError(f"instant {value!r} has no offset")
    return parsed


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {json.dumps(value)[:40]}")
    return value


def one_line(value: object) -> str:
    """``value`` as one line of text, for an error message."""
    return " ".join(str(value).split()) or type(value).__name__
