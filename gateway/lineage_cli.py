"""``mlmeta lineage``: export the lineage around a node for an audit, and verify an export.

``export`` asks a running gateway (``POST /graphql`` with ``Authorization: Bearer
<service token>``) for ``lineage(of, direction, depth, asOf, nodeBudget)``, always
with an explicit ``asOf`` (the one given, else now), so the query in a bundle can be
re-run to get the same graph. It recomputes the digest locally and writes nothing
when it differs from the one the gateway sent.

``verify`` recomputes the digest from a bundle's graph. The bundle format, and what
its digest covers, are described in ``gateway/lineage_bundle.py``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.config import Settings
from gateway.lineage_bundle import (
    CliError,
    format_instant,
    graph_digest,
    graph_of,
    make_bundle,
    one_line,
    to_dot,
    verify,
)
from resolvers.ids import encode_id
from sources.errors import InputError

DEFAULT_URL = "http://127.0.0.1:8000"
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}[Zz]?")
"""A calendar date, alone or with ``Z``: ``--as-of`` takes it as 00:00 UTC that day."""
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
    export.add_argument(
        "--as-of",
        help="an instant with an offset (2026-11-20T12:00:00Z) or a date (2026-11-20, "
        "2026-11-20Z: 00:00 UTC); default: now",
    )
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
            return verify(args.bundle)
        return _export(args)
    except CliError as exc:
        print(f"mlmeta: {exc}", file=sys.stderr)
        return exc.status


def _export(args: argparse.Namespace) -> int:
    of = global_id_of(args.of)
    as_of = as_of_instant(args.as_of)
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
        bundle = make_bundle(url, query, lineage)
        local = graph_digest(graph_of(bundle["graph"]))
    except (KeyError, TypeError, ValueError, AttributeError, InputError) as exc:
        raise CliError(f"unexpected lineage from {url}: {one_line(exc)}") from None
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
        raise CliError(f"cannot write {args.output}: {one_line(exc)}") from None
    graph = bundle["graph"]
    print(f"{args.output}: {len(graph['nodes'])} nodes, {len(graph['edges'])} edges, {local}")
    return 0


def global_id_of(value: str) -> str:
    """The global id for ``--of``, which takes what ``lineage(of:)`` takes
    (``resolvers.lineage_forms``)."""
    from resolvers.lineage_forms import lineage_key_of  # imports SQLModel: only when needed

    try:
        key = lineage_key_of(value)
    except InputError as exc:
        raise CliError(f"--of: {exc.message}") from None
    type_name, _, natural = key.partition(":")
    return encode_id(type_name, natural)


def as_of_instant(value: str | None) -> str:
    """``--as-of`` as UTC ``...mmmZ``: an instant with an offset (``Z`` or ``+02:00``), or a
    date, with or without ``Z``, meaning 00:00 UTC that day; now when not given."""
    if value is None:
        return format_instant(datetime.now(UTC))
    text = value.strip()
    if _DATE.fullmatch(text):
        text = text.removesuffix("Z").removesuffix("z") + "T00:00:00+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(
            f"--as-of {value!r} is not a date or an ISO-8601 instant, e.g. 2026-11-20, "
            "2026-11-20Z or 2026-11-20T12:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        raise CliError(f"--as-of {value!r} needs an offset, e.g. {text}Z")
    return format_instant(parsed)


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
        raise CliError(f"cannot reach the gateway at {url}: {one_line(exc)}") from None
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
            parts.append(one_line(error))
            continue
        code = (error.get("extensions") or {}).get("code")
        parts.append(one_line(error.get("message")) + (f" ({code})" if code else ""))
    return "; ".join(parts)
