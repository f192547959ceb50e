"""Timings and statement counts of the metric store, on SQLite and PostgreSQL.

Seeds a fresh metadb through ``MetricStore.log_points`` (so rollups are built
the way production builds them), then times:

- write: one ``log_points`` call of 10,000 new points (and the same call
  replayed: every point a duplicate);
- short: ``series`` of 200 runs x 5 metrics x 100 steps (100k points, returned
  whole, maxPoints 500), the portal's run-comparison page;
- long: ``series`` of 20 runs x 5 metrics x 100k steps (10M points stored),
  maxPoints 500, over the whole range and over a middle range, through the
  rollups and (for comparison) from raw points;
- summaries of 200 runs and one evolution graph.

Reads are timed warm (best and median of ``--reps``), in-process, without
GraphQL. PostgreSQL needs a server at 127.0.0.1:5432 (``--pg-admin``); the
bench creates a database of its own and drops it.

    python -m bench.metric_store [--backend sqlite|postgres|both] [--long-steps 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import sqlalchemy as sa

from sources.metadb import MetaDB, upgrade
from sources.metadb.metrics import MetricStore
from sources.metadb.models import Execution, ExecutionStatus, Orchestrator, Pipeline
from sources.metrics.model import EvolutionRequest, PointIn, SeriesRequest

T0 = datetime(2026, 1, 1, tzinfo=UTC)
METRICS = ("accuracy", "f1", "loss", "lr", "val_loss")


def points(run: int, steps: range) -> list[PointIn]:
    return [
        PointIn(
            name,
            math.sin(step / 50 + run + k) + 1 / (step + 1),
            step,
            1_767_225_600_000 + step * 1000,
        )
        for k, name in enumerate(METRICS)
        for step in steps
    ]


async def timed(reps: int, call: Callable[[], Awaitable[Any]]) -> tuple[float, float, Any]:
    """(best, median) in ms, and the last result."""
    times = []
    result = None
    for _ in range(reps):
        started = time.perf_counter()
        result = await call()
        times.append((time.perf_counter() - started) * 1000)
    return min(times), statistics.median(times), result


async def add_runs(db: MetaDB, prefix: str, runs: int) -> list[str]:
    ids = [f"{prefix}-{i:04d}" for i in range(runs)]
    async with db.session() as session:
        if await session.get(Pipeline, "bench") is None:
            session.add(Pipeline(id="bench", orchestrator=Orchestrator.EXTERNAL, name="bench"))
            await session.flush()
        session.add_all(
            Execution(
                id=run,
                pipeline_id="bench",
                name=run,
                status=ExecutionStatus.SUCCEEDED,
                started_at=T0 + timedelta(minutes=i),
            )
            for i, run in enumerate(ids)
        )
        await session.commit()
    return ids


async def bench(url: str, args: argparse.Namespace) -> None:
    await upgrade(url)
    db = MetaDB.connect(url)
    sent: list[str] = []
    store = MetricStore(db, trace=sent.append)
    raw = MetricStore(db, rollup_min_points=2**62)
    reps = args.reps
    try:
        # ---- writes
        [writer] = await add_runs(db, "write", 1)
        batch = points(0, range(2000))  # 5 metrics x 2000 steps = 10k points
        started = time.perf_counter()
        result = await store.log_points(writer, batch)
        first = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        again = await store.log_points(writer, batch)
        replay = (time.perf_counter() - started) * 1000
        print(f"  write 10k new points: {first:7.1f} ms  {result}")
        print(f"  write 10k duplicates: {replay:7.1f} ms  {again}")

        # ---- short series: 200 runs x 5 metrics x 100 steps
        short = await add_runs(db, "short", 200)
        started = time.perf_counter()
        for i, run in enumerate(short):
            await store.log_points(run, points(i, range(100)))
        seeding = time.perf_counter() - started
        print(f"  seeded 200 runs x 500 points in {seeding:.1f} s")
        await analyze(db)
        requests = [SeriesRequest(run, None, 500) for run in short]
        sent.clear()
        best, median, found = await timed(reps, lambda: store.series(requests))
        total = sum(len(s.values) for series in found for s in series)
        print(
            f"  series 200 runs x 5 x 100 ({total} points): best {best:6.1f} ms, "
            f"median {median:6.1f} ms, {len(sent) // reps} statements"
        )
        sent.clear()
        best, median, _ = await timed(reps, lambda: store.summaries(short))
        print(f"  summaries of 200 runs: best {best:6.1f} ms, median {median:6.1f} ms")
        evolution = EvolutionRequest("bench", METRICS, last_runs=50)
        best, median, _ = await timed(reps, lambda: store.evolution(evolution))
        print(f"  evolution 50 runs x 5 metrics: best {best:6.1f} ms, median {median:6.1f} ms")

        # ---- long series: 20 runs x 5 metrics x long_steps
        steps = args.long_steps
        long = await add_runs(db, "long", args.long_runs)
        started = time.perf_counter()
        calls = 0
        for i, run in enumerate(long):
            for low in range(0, steps, 2000):
                await store.log_points(run, points(i, range(low, min(low + 2000, steps))))
                calls += 1
        seeding = time.perf_counter() - started
        stored = args.long_runs * len(METRICS) * steps
        print(
            f"  seeded {stored:,} points in {calls} calls of <=10k: {seeding:.1f} s "
            f"({seeding / calls * 1000:.0f} ms per call)"
        )
        await analyze(db)
        for label, low, high in (("whole", None, None), ("middle", steps // 3, 2 * steps // 3)):
            requests = [SeriesRequest(run, None, 500, low, high) for run in long]
            sent.clear()
            best, median, found = await timed(reps, lambda r=requests: store.series(r))
            total = sum(len(s.values) for series in found for s in series)
            print(
                f"  long {label:6} via rollups ({total} points): best {best:7.1f} ms, "
                f"median {median:7.1f} ms, {len(sent) // reps} statements"
            )
            best, median, again = await timed(1, lambda r=requests: raw.series(r))
            print(
                f"  long {label:6} from raw points        : best {best:7.1f} ms, "
                f"median {median:7.1f} ms, identical: {again == found}"
            )
    finally:
        await db.close()


async def analyze(db: MetaDB) -> None:
    """Planner statistics (and PostgreSQL's visibility map), as autovacuum would leave them."""
    if db.engine.dialect.name == "postgresql":
        async with db.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(sa.text("VACUUM ANALYZE metric_points"))
            await conn.execute(sa.text("VACUUM ANALYZE metric_rollups"))
    else:
        async with db.engine.begin() as conn:
            await conn.execute(sa.text("ANALYZE"))


async def postgres(args: argparse.Namespace) -> None:
    name = f"mlmeta_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(args.pg_admin)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    user = args.pg_admin.split("//", 1)[1].split("@", 1)[0]
    try:
        await bench(f"postgresql+asyncpg://{user}@127.0.0.1:5432/{name}", args)
    finally:
        admin = await asyncpg.connect(args.pg_admin)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--long-runs", type=int, default=20)
    parser.add_argument("--long-steps", type=int, default=100_000)
    parser.add_argument("--pg-admin", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    if args.backend in ("sqlite", "both"):
        print("SQLite")
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "bench.sqlite"
            asyncio.run(bench(f"sqlite+aiosqlite:///{path}", args))
            print(f"  database file: {os.path.getsize(path) / 2**20:.0f} MiB")
    if args.backend in ("postgres", "both"):
        print("PostgreSQL")
        asyncio.run(postgres(args))


if __name__ == "__main__":
    main()
