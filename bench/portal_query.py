"""Time the Backstage entity-page query on two trees of mlmeta, side by side.

The query is #1 of "The three queries that matter most" (ARCHITECTURE.md). Two
uvicorn processes, one per tree (``--baseline`` and ``--current``, both this
repo by default, which shows the noise), serve the same seeded demo data
(see ``bench/servers.py``). One keep-alive httpx client per side warms up, then
the sides are timed in interleaved rounds, the order flipping every round
(A B, B A, ...) so that drift of the shared machine falls on both alike.
Reports min/median/p95/max per side and current/baseline of the medians.
This is how a change proves "no more than 5 % slower":

    git worktree add /tmp/mlmeta-baseline <commit>
    .venv/bin/python -m bench.portal_query --baseline /tmp/mlmeta-baseline

Bounded: ``--rounds`` (default 200) or ``--max-seconds`` (default 120) of
timed rounds, whichever ends first. Loopback only.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.servers import REPO, Fleet, Gateway, machine, summary_ms

RESULTS_PATH = Path(__file__).resolve().parent / "results" / "portal_query.json"
ENTITY_REF = "component:default/churn-training-pipeline"
ENTITY_PAGE = """
query EntityPage($ref: String!) {
  entity(ref: $ref) {
    title owner { ref title }
    pipeline {
      graph { nodes { name type } edges { from to } }
      latestExecution { status startedAt steps { name status durationSeconds } }
      executions(first: 20) { edges { node { id status startedAt durationSeconds
        metrics { name value } } } }
      metricEvolution(metrics: ["pr_auc", "roc_auc"], lastRuns: 50) {
        metric points { startedAt value execution { id } } }
    }
    model { latestVersion(status: APPROVED) { version card { markdown } deployments { name } } }
  }
}
"""
BODY = {"query": ENTITY_PAGE, "variables": {"ref": ENTITY_REF}, "operationName": "EntityPage"}


def timed_request(client: httpx.Client) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = client.post("/graphql", json=BODY)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise SystemExit(f"HTTP {response.status_code}: {response.text[:300]}")
    body: dict[str, Any] = response.json()
    return elapsed, body


def check_answer(name: str, body: dict[str, Any]) -> int:
    """The query must really be answered (else we would time an error); return its size."""
    if body.get("errors"):
        raise SystemExit(f"{name}: the entity page query failed: {body['errors']}")
    pipeline = ((body.get("data") or {}).get("entity") or {}).get("pipeline")
    if not pipeline or not pipeline["executions"]["edges"]:
        raise SystemExit(f"{name}: the entity page has no runs; seeding failed?")
    return len(json.dumps(body))


def measure(
    sides: list[Gateway], warmup: int, rounds: int, max_seconds: float
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Milliseconds per request and the response size, per side."""
    clients = {g.name: httpx.Client(base_url=g.url, timeout=30) for g in sides}
    try:
        sizes: dict[str, int] = {}
        for gateway in sides:
            for _ in range(max(1, warmup)):
                _, body = timed_request(clients[gateway.name])
                sizes[gateway.name] = check_answer(gateway.name, body)
        times: dict[str, list[float]] = {g.name: [] for g in sides}
        deadline = time.monotonic() + max_seconds
        for index in range(rounds):
            if time.monotonic() > deadline:
                break
            order = sides if index % 2 == 0 else list(reversed(sides))
            for gateway in order:
                elapsed, _ = timed_request(clients[gateway.name])
                times[gateway.name].append(elapsed)
        return times, sizes
    finally:
        for client in clients.values():
            client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, default=REPO, help="tree to compare against")
    parser.add_argument("--current", type=Path, default=REPO, help="tree being measured")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--max-seconds", type=float, default=120.0)
    parser.add_argument("--output", type=Path, default=RESULTS_PATH)
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        help="MLMETA_X=Y for both servers (e.g. "
        "MLMETA_BUDGET_PER_SECOND=0: 400 timed requests a minute is a load test, not a portal)",
    )
    args = parser.parse_args()
    env = dict(item.split("=", 1) for item in args.env)
    baseline, current = args.baseline.resolve(), args.current.resolve()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")

    with (
        tempfile.TemporaryDirectory(prefix="mlmeta-portal-") as workdir,
        Fleet(Path(workdir)) as fleet,
    ):
        fleet.start_moto(current)
        sides = [
            fleet.start_gateway(name, tree, fleet.seed(name, tree), env)
            for name, tree in (("baseline", baseline), ("current", current))
        ]
        times, sizes = measure(sides, args.warmup, args.rounds, args.max_seconds)

    stats = {name: summary_ms(values) for name, values in times.items()}
    ratio = stats["current"]["median"] / stats["baseline"]["median"]
    result = {
        "started_at": started_at,
        "machine": machine(),
        "baseline": str(baseline),
        "current": str(current),
        "query": ENTITY_PAGE.strip(),
        "variables": BODY["variables"],
        "server_env": env,
        "response_bytes": sizes,
        "warmup_per_side": args.warmup,
        "ms": stats,
        "ratio_of_medians": round(ratio, 3),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1) + "\n")
    for name, row in stats.items():
        print(f"{name:>8}: " + "  ".join(f"{k} {v}" for k, v in row.items()))
    print(f"current / baseline (medians): {ratio:.3f}   -> {args.output}")


if __name__ == "__main__":
    main()
