"""Catalog calls and latency of a wide entity query, at growing page sizes.

Serves a Backstage-shaped catalog on a local port, runs the gateway in-process
against it, and for N in (10, 50, 100) sends

    entities(first: N) { owner { ... } relations { target { ... } } }

counting the calls the catalog received per endpoint. The promise: the count
does not grow with N (one by-query, then one by-refs batch per depth level).

    python -m bench.catalog_calls [--reps 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import Settings
from tests.support.catalog_data import catalog_entities
from tests.support.fake_backstage import FakeBackstage
from tests.support.http_server import serve_app

TOKEN = "bench-service-token-0123456789"
QUERY = """query ($n: Int!) {
  entities(filter: {specType: ["dataset"]}, first: $n) {
    edges { node { name owner { ref title } relations { type targetRef target { name kind } } } }
  }
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=20)
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    fake = FakeBackstage(catalog_entities(), tokens={TOKEN})
    with serve_app(fake.app()) as base_url, tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            catalog_backend="backstage",
            backstage_url=base_url,
            backstage_token=TOKEN,
            allow_anonymous=True,
            stepfunctions_enabled=False,
            sagemaker_enabled=False,
        )
        with TestClient(create_app(settings)) as client:
            print(f"{'N':>4} {'by-query':>9} {'by-refs':>8} {'median ms':>10} {'p95 ms':>8}")
            for n in (10, 50, 100):
                fake.reset()
                body = client.post("/graphql", json={"query": QUERY, "variables": {"n": n}})
                assert "errors" not in body.json(), body.json()
                calls = dict(fake.calls)
                timings = []
                for _ in range(args.reps):
                    started = time.perf_counter()
                    client.post("/graphql", json={"query": QUERY, "variables": {"n": n}})
                    timings.append((time.perf_counter() - started) * 1000)
                p95 = sorted(timings)[int(len(timings) * 0.95) - 1]
                print(
                    f"{n:>4} {calls.get('by-query', 0):>9} {calls.get('by-refs', 0):>8} "
                    f"{statistics.median(timings):>10.1f} {p95:>8.1f}"
                )


if __name__ == "__main__":
    main()
