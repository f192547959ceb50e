"""Three real gateway processes on one PostgreSQL and one Redis, behind a round-robin proxy.

The cluster is started once for the module (each replica takes a few seconds
to start); a test that kills a replica starts a new one before it ends, so
the next test finds three again. PostgreSQL is required as for the metadb
tests (``MLMETA_TEST_SKIP_POSTGRES=1`` skips).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from gateway.demo import DemoSummary, write_catalog
from tests.conftest import SERVICE_TOKEN, WRITER_TOKEN
from tests.sources.conftest import PG_HOST, PG_PORT, _create_database, _drop_database
from tests.support.cluster import Cluster, RoundRobinProxy, python_env
from tests.support.redis_process import redis_process

BUDGETED_TOKEN = "budgeted-token-0123456789abcdef"
EVENTS_SECRET = "cluster-events-secret-0123456789"
LEASE_SECONDS = 4.0
# Long: within a test, only a poke (an event, a write, a newcomer's sync) makes the poller poll.
POLL_SECONDS = 30.0
BUDGET_BURST = 3000
REPLICAS = 3


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str, demo_aws: DemoSummary
) -> Iterator[Cluster]:
    if os.environ.get("MLMETA_TEST_SKIP_POSTGRES") == "1":
        pytest.skip("MLMETA_TEST_SKIP_POSTGRES=1")
    workdir = tmp_path_factory.mktemp("cluster")
    catalog = workdir / "catalog"
    write_catalog(catalog)
    database = f"mlmeta_cluster_{secrets.token_hex(6)}"
    user = asyncio.run(_create_database(database))
    try:
        with redis_process(workdir) as redis:
            env = _environment(database, user, redis.url, catalog, moto_endpoint)
            cluster = Cluster(env, workdir)
            cluster.migrate()
            cluster.proxy = RoundRobinProxy(lambda: [r.port for r in cluster.live()]).start()
            try:
                cluster.start(REPLICAS)
                yield cluster
            finally:
                cluster.stop()
                cluster.proxy.stop()
    finally:
        asyncio.run(_drop_database(database, user))


def _environment(
    database: str, user: str, redis_url: str, catalog: Path, moto_endpoint: str
) -> dict[str, str]:
    return python_env(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "MLMETA_DATABASE_URL": f"postgresql+asyncpg://{user}@{PG_HOST}:{PG_PORT}/{database}",
            "MLMETA_AUTO_MIGRATE": "false",
            "MLMETA_REDIS_URL": redis_url,
            "MLMETA_CATALOG_FOLDER": str(catalog),
            "MLMETA_AWS_ENDPOINT_URL": moto_endpoint,
            "MLMETA_AWS_MAX_ATTEMPTS": "1",
            "MLMETA_SERVICE_TOKENS": ",".join(
                [
                    f"ci-bot:token:{SERVICE_TOKEN}",
                    f"writer:token:{WRITER_TOKEN}:write",
                    f"budgeted:token:{BUDGETED_TOKEN}",
                ]
            ),
            "MLMETA_SERVICE_TOKEN_BUDGETS": f"budgeted:0.001:{BUDGET_BURST}",
            "MLMETA_MAX_COST": str(BUDGET_BURST),
            "MLMETA_POLL_INTERVAL_SECONDS": str(POLL_SECONDS),
            "MLMETA_POLL_LEASE_SECONDS": str(LEASE_SECONDS),
            "MLMETA_EVENTS_SECRET": EVENTS_SECRET,
            "MLMETA_SHUTDOWN_GRACE_SECONDS": "15",
        }
    )


@pytest.fixture(scope="module")
def sfn(moto_endpoint: str) -> object:
    """A plain boto3 client on the moto server, to start and stop executions."""
    return boto3.client("stepfunctions", endpoint_url=moto_endpoint, region_name="us-east-1")
