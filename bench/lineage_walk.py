"""Statements and time per lineage walk as the levels of the graph widen.

Over a migrated metadb (SQLite file, and PostgreSQL when a server answers on
127.0.0.1:5432: a fresh database ``mlmeta_bench_<random>``, dropped at the
end) records with ``LineageStore`` one graph per width W:

    Dataset -CONSUMED-> W runs -PRODUCED-> W model versions -DEPLOYED-> W deployments

for W in (10, 100, 1000), plus the same shape at W = 3,333 (10,000 nodes), all
in the same database. Then times ``LineageStore.walk(root, DOWNSTREAM, ...)``
at depths 2, 3 and 4 (the graph ends at level 3) and, on the 10,000 nodes,
with node budgets 1,000 and 10,000 (median of ``--reps`` after one warm-up;
PostgreSQL after VACUUM ANALYZE, SQLite after ANALYZE) and counts the SQL statements each
walk sends (a ``before_cursor_execute`` listener). The promise: a walk sends
one statement per level it expands, plus one ``LIMIT 1`` check when the depth
limit stops it with nodes left unexpanded, so at most depth + 1 whatever W;
and a node budget cuts a wide level off with ``truncated`` set.

    python -m bench.lineage_walk [--reps 5] [--backends sqlite,postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import secrets
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from sources.lineage.model import Direction, EdgeInput
from sources.metadb import MetaDB, upgrade
from sources.metadb.lineage import MAX_BATCH, LineageStore
from sources.metadb.models import LineageEdgeKind
from tests.support.sql import statements

RESULTS_PATH = Path(__file__).resolve().parent / "results" / "lineage_walk.json"
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
PG_ADMIN_DATABASES = ("postgres", "test")
ARN = "arn:aws:sagemaker:us-east-1:123456789012"
WIDTHS = (10, 100, 1000)
FAN_OUT = 3333
"""1 + 3 x 3,333 = 10,000 nodes."""
# (width, depth, node budget) per walk; 5,000 is the GraphQL field's largest budget.
WALKS = [(w, depth, 5000) for w in WIDTHS for depth in (2, 3, 4)] + [
    (FAN_OUT, 4, 1000),
    (FAN_OUT, 4, 10_000),
]


@dataclass
class Walk:
    backend: str
    width: int
    graph_nodes: int
    depth: int
    node_budget: int
    nodes: int
    edges: int
    truncated: bool
    statements: int
    median_ms: float
    samples_ms: list[float]


def root_of(width: int) -> str:
    return f"Dataset:s3://mlmeta-bench/w{width}/train.csv"


def graph(width: int) -> list[EdgeInput]:
    """root -> ``width`` runs, each producing a version that one endpoint serves."""
    edges = []
    for i in range(width):
        run = f"PipelineExecution:external:bench/w{width}/run-{i:05d}"
        version = f"ModelVersion:{ARN}:model-package/bench-w{width}/{i + 1}"
        deployment = f"Deployment:{ARN}:endpoint/bench-w{width}-{i:05d}"
        edges += [
            EdgeInput(root_of(width), run, LineageEdgeKind.CONSUMED),
            EdgeInput(run, version, LineageEdgeKind.PRODUCED),
            EdgeInput(version, deployment, LineageEdgeKind.DEPLOYED),
        ]
    return edges


async def load(db: MetaDB, store: LineageStore) -> None:
    for width in (*WIDTHS, FAN_OUT):
        edges = graph(width)
        for start in range(0, len(edges), MAX_BATCH):
            await store.record(edges[start : start + MAX_BATCH], origin="bench")
    # Planner statistics (and PostgreSQL's visibility map), as autovacuum would leave them.
    if db.engine.dialect.name == "postgresql":
        async with db.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(sa.text("VACUUM ANALYZE lineage_edges"))
    else:
        async with db.engine.begin() as conn:
            await conn.execute(sa.text("ANALYZE"))


async def bench(backend: str, url: str, reps: int) -> list[Walk]:
    await upgrade(url)
    db = MetaDB.connect(url)
    try:
        store = LineageStore(db)
        started = time.perf_counter()
        await load(db, store)
        print(f"{backend}: recorded the graphs in {time.perf_counter() - started:.1f} s")
        results = []
        for width, depth, budget in WALKS:
            root = root_of(width)
            await store.walk(  # warm-up
                root, direction=Direction.DOWNSTREAM, depth=depth, node_budget=budget
            )
            timings, counts = [], set()
            for _ in range(reps):
                with statements(db) as sent:
                    begun = time.perf_counter()
                    found = await store.walk(
                        root, direction=Direction.DOWNSTREAM, depth=depth, node_budget=budget
                    )
                    timings.append((time.perf_counter() - begun) * 1000)
                counts.add(len(sent))
            assert len(counts) == 1, counts
            results.append(
                Walk(
                    backend=backend,
                    width=width,
                    graph_nodes=1 + 3 * width,
                    depth=depth,
                    node_budget=budget,
                    nodes=len(found.nodes),
                    edges=len(found.edges),
                    truncated=found.truncated,
                    statements=counts.pop(),
                    median_ms=round(statistics.median(timings), 1),
                    samples_ms=[round(t, 1) for t in timings],
                )
            )
        return results
    finally:
        await db.close()


# ----------------------------------------------------------------------------- PostgreSQL
async def admin_connect() -> Any:
    import asyncpg  # type: ignore[import-untyped]

    failures = []
    for database in PG_ADMIN_DATABASES:
        try:
            return await asyncpg.connect(
                host=PG_HOST, port=PG_PORT, user=PG_USER, database=database, timeout=5
            )
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            failures.append(f"{database}: {type(exc).__name__}: {exc}")
    raise RuntimeError(f"cannot reach PostgreSQL on {PG_HOST}:{PG_PORT}: {'; '.join(failures)}")


async def postgres(reps: int) -> list[Walk]:
    try:
        admin = await admin_connect()
    except RuntimeError as exc:
        print(f"postgres: skipped ({exc})")
        return []
    name = f"mlmeta_bench_{secrets.token_hex(4)}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        return await bench(
            "postgres", f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}", reps
        )
    finally:
        admin = await admin_connect()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


# ------------------------------------------------------------------------------ report
def table(walks: list[Walk]) -> str:
    """One row per walk, the backends side by side (statements: one figure when equal)."""
    backends = list(dict.fromkeys(w.backend for w in walks))
    rows: dict[tuple[int, int, int], dict[str, Walk]] = {}
    for w in walks:
        rows.setdefault((w.width, w.depth, w.node_budget), {})[w.backend] = w
    head = ["graph nodes", "depth", "node budget", "nodes", "truncated", "statements"]
    head += [f"{b} ms" for b in backends]
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "---:|" * 4 + "---|---:|" + "---:|" * len(backends),
    ]
    for by_backend in rows.values():
        w = next(iter(by_backend.values()))
        sent = sorted({x.statements for x in by_backend.values()})
        cells = [f"{w.graph_nodes:,}", str(w.depth), f"{w.node_budget:,}", f"{w.nodes:,}"]
        cells += ["yes" if w.truncated else "no", " / ".join(map(str, sent))]
        cells += [f"{by_backend[b].median_ms:.1f}" if b in by_backend else "-" for b in backends]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    backends = args.backends.split(",")
    walks: list[Walk] = []
    if "sqlite" in backends:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite'}"
            walks += asyncio.run(bench("sqlite", url, args.reps))
    if "postgres" in backends:
        walks += asyncio.run(postgres(args.reps))
    print()
    print(table(walks))
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "reps": args.reps,
        "graph": "Dataset -CONSUMED-> W runs -PRODUCED-> W versions -DEPLOYED-> W deployments",
        "walks": [asdict(w) for w in walks],
    }
    RESULTS_PATH.write_text(json.dumps(report, indent=1) + "\n")
    print(f"\nwritten {RESULTS_PATH}")


if __name__ == "__main__":
    main()
