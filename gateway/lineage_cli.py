"""``mlmeta lineage``: export the lineage around a node for an audit, and verify an export.

``export`` asks a running gateway (``POST /graphql`` with ``Authorization: Bearer
<service token>``) for ``lineage(of, direction, depth, asOf, nodeBudget)``, always
with an explicit ``asOf`` (the one given, else now), so the query in a bundle can be
re-run to get the same graph. It recomputes the digest locally and writes nothing
when it differs from the one the gateway sent.

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

import argparse
import json
import logging
import os
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from gateway.config import Settings
from resolvers.ids import decode_id, encode_id
from sources.errors import InputError

if TYPE_CHECKING:
    from sources.lineage.model import Graph

T = TypeVar("T")
FORMAT = "mlmeta-lineage-bundle/1"
DEFAULT_URL = "http://127.0.0.1:8000"
TIMEOUT_SECONDS = 60.0
QUERY = """query Export($of: ID!, $direction: LineageDirection!, $depth: Int!,
  $asOf: DateTime!, $nodeBudget: Int!) {
  lineage(of: $of, direction: $direction, depth: $depth, asOf: $asOf, nodeBudget: $nodeBudget) {
    asOf truncated digest nodeIds edges { from to kind recordedAt retiredAt origin }
    nodes { __typename id
      ... on ModelCard { source revision cardStatus: status updatedAt updatedBy markdown }
      ... on ModelVersion { version versionStatus: status
        approval { status description decidedAt decidedBy } } }
    openLineage } }"""
_ARN = r"^arn:aws[a-z-]*:{}:[a-z0-9-]+:\d{{12}}:{}"
_ARN_TYPES = (
    (re.compile(_ARN.format("sagemaker", "model-package/")), "ModelVersion"),
    (re.compile(_ARN.format("states", "execution:")), "PipelineExecution"),
    (re.compile(_ARN.format("sagemaker", "pipeline/[^/]+/execution/")), "PipelineExecution"),
    (re.compile(_ARN.format("sagemaker", "endpoint/")), "Deployment"),
)
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
CARD_FIELDS = ("key", "source", "revision", "status", "updatedAt", "updatedBy", "markdown")
APPROVAL_FIELDS = ("id", "key", "version", "status", "approval")


class CliError(Exception):
    """A failure reported as one line on stderr; ``status`` is the exit code."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lineage = commands.add_parser("lineage", help="export lineage for an audit, verify an export")
    actions = lineage.add_subparsers(dest="lineage_command", required=True, metavar="ACTION")
    export = actions.add_parser(
        "export", help="export the lineage around a node from a running gateway"
    )
    export.add_argument(
        "--of", required=True, help="global id, lineage key (Type:key), ARN or dataset URI"
    )
    export.add_argument("--direction", choices=["UPSTREAM", "DOWNSTREAM", "BOTH"], default="BOTH")
    export.add_argument("--depth", type=int, default=3, help="hops to follow (default 3)")
    export.add_argument("--as-of", help="ISO-8601 instant with an offset (default: now)")
    export.add_argument("--node-budget", type=int, default=1_000, help="default 1000")
    export.add_argument("--format", required=True, choices=["json", "openlineage", "dot"])
    export.add_argument("--output", "-o", type=Path, help="write here instead of stdout")
    export.add_argument("--url", help=f"gateway base URL (MLMETA_URL, default {DEFAULT_URL})")
    export.add_argument("--token", help="bearer token, e.g. a service token (MLMETA_TOKEN)")
    verify = actions.add_parser("verify", help="recompute a bundle's digest and compare")
    verify.add_argument("bundle", type=Path, help="a file written by `lineage export`")


def run(args: argparse.Namespace, settings: Settings) -> int:
    # httpx logs every request at INFO: errors must stay one line on stderr.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        if args.lineage_command == "verify":
            return _verify(args.bundle)
        return _export(args)
    except CliError as exc:
        print(f"mlmeta: {exc}", file=sys.stderr)
        return exc.status


def _verify(path: Path) -> int:
    try:
        bundle = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeError, ValueError) as exc:
        raise CliError(f"{path}: not a lineage bundle: {_one_line(exc)}", 2) from None
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        raise CliError(f'{path}: not a lineage bundle: "format" is not {FORMAT!r}', 2)
    expected = bundle.get("digest")
    if not isinstance(expected, str):
        raise CliError(f'{path}: not a lineage bundle: no "digest"', 2)
    try:
        got = _digest(graph_of(bundle.get("graph")))
    except (KeyError, TypeError, ValueError, InputError) as exc:
        raise CliError(f'{path}: not a lineage bundle: bad "graph": {_one_line(exc)}', 2) from None
    if got != expected:
        print(f"MISMATCH expected {expected} got {got}")
        return 1
    print(f"OK {got}")
    return 0


def _digest(graph: Graph) -> str:
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


def _export(args: argparse.Namespace) -> int:
    of = global_id_of(args.of)
    as_of = _as_of(args.as_of)
    url = (args.url or os.environ.get("MLMETA_URL") or DEFAULT_URL).rstrip("/")
    token = args.token or os.environ.get("MLMETA_TOKEN")
    query = {
        "of": of,
        "direction": args.direction,
        "depth": args.depth,
        "asOf": as_of,
        "nodeBudget": args.node_budget,
    }
    lineage = _ask(url, token, query)
    try:
        bundle = _bundle(url, query, lineage)
        local = _digest(graph_of(bundle["graph"]))
    except (KeyError, TypeError, ValueError, AttributeError, InputError) as exc:
        raise CliError(f"unexpected lineage from {url}: {_one_line(exc)}") from None
    if local != lineage["digest"]:
        raise CliError(
            f"digest mismatch: the gateway sent {lineage['digest']} but its graph hashes to "
            f"{local}; nothing written"
        )
    if lineage["truncated"]:
        print("mlmeta: warning: the graph is truncated (depth or node budget)", file=sys.stderr)
    if args.format == "json":
        text = json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"
    elif args.format == "openlineage":
        text = "".join(
            json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n"
            for e in bundle["openLineage"]
        )
    else:
        text = to_dot(bundle)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write {args.output}: {_one_line(exc)}") from None
    graph = bundle["graph"]
    print(f"{args.output}: {len(graph['nodes'])} nodes, {len(graph['edges'])} edges, {local}")
    return 0


def global_id_of(value: str) -> str:
    """The global id for ``--of``: an id, a ``Type:key``, an ARN or a URI (by its shape)."""
    from sources.lineage.model import NodeType, split_key

    prefix = value.partition(":")[0]
    if prefix in {t.value for t in NodeType}:
        node_type, natural = _checked(split_key, value)
        return encode_id(str(node_type), natural)
    for pattern, type_name in _ARN_TYPES:
        if pattern.match(value):
            return encode_id(type_name, value)
    if value.startswith("arn:"):
        raise CliError(
            f"--of {value[:80]!r}: not a model package, execution or endpoint ARN; "
            "pass a lineage key such as 'Deployment:<arn>'"
        )
    if _URI.match(value):
        return encode_id("Dataset", value)
    type_name, natural = _checked(decode_id, value)
    _checked(split_key, f"{type_name}:{natural}")
    return value


def _checked(check: Callable[[str], T], value: str) -> T:
    try:
        return check(value)
    except InputError as exc:
        raise CliError(f"--of: {exc.message}") from None


def _as_of(value: str | None) -> str:
    if value is None:
        return _format_instant(datetime.now(UTC))
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise CliError(f"--as-of {value!r} is not an ISO-8601 instant") from None
    if parsed.tzinfo is None:
        raise CliError(f"--as-of {value!r} needs an offset, e.g. {value}Z")
    return _format_instant(parsed)


def _ask(url: str, token: str | None, variables: dict[str, Any]) -> dict[str, Any]:
    import httpx  # not needed by the other commands

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {"query": QUERY, "variables": variables}
    try:
        with httpx.Client(timeout=httpx.Timeout(TIMEOUT_SECONDS, connect=10.0)) as client:
            response = client.post(f"{url}/graphql", json=body, headers=headers)
    except httpx.TimeoutException:
        raise CliError(f"the gateway at {url} did not answer in {TIMEOUT_SECONDS:.0f} s") from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise CliError(f"cannot reach the gateway at {url}: {_one_line(exc)}") from None
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    answer = answer if isinstance(answer, dict) else {}
    errors = answer.get("errors")
    if response.status_code in (401, 403):
        reason = f": {_errors(errors)}" if errors else ""
        raise CliError(f"the gateway refused the token (HTTP {response.status_code}){reason}")
    if errors:
        raise CliError(f"the gateway answered with errors: {_errors(errors)}")
    lineage = (answer.get("data") or {}).get("lineage")
    if response.status_code != 200 or not isinstance(lineage, dict):
        raise CliError(f"unexpected answer from {url}/graphql (HTTP {response.status_code})")
    return lineage


def _errors(errors: object) -> str:
    """GraphQL errors as ``message (extensions.code); ...``."""
    parts = []
    for error in errors if isinstance(errors, list) else [errors]:
        if not isinstance(error, dict):
            parts.append(_one_line(error))
            continue
        code = (error.get("extensions") or {}).get("code")
        parts.append(_one_line(error.get("message")) + (f" ({code})" if code else ""))
    return "; ".join(parts)


def _bundle(url: str, query: dict[str, Any], lineage: dict[str, Any]) -> dict[str, Any]:
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
        return _format_instant(datetime.now(UTC))
    if not epoch.isdigit():
        raise CliError(f"SOURCE_DATE_EPOCH must be whole seconds since 1970, got {epoch!r}")
    return _format_instant(datetime.fromtimestamp(int(epoch), UTC))


def _format_instant(value: datetime) -> str:
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


def _one_line(value: object) -> str:
    return " ".join(str(value).split()) or type(value).__name__
