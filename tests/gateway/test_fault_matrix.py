"""Issue #14's fault matrix: one source fails, in one way; everything else answers as before.

For each source and each way it can fail, a gateway serves the demo's data
while that source is broken at the transport (see ``tests/support/fault_proxy``):
a port that refuses connections, a connection dropped unanswered, an upstream
that never answers, HTTP 500, throttling in the protocol's own shape, a 200
whose body is not what the protocol promises, a stopped or paused process.
Two queries run against it, the portal's page (every source at once) and the
run list, and each answer must keep the rule (README, "When a source fails"):

- every field of the other sources is present and equal to the healthy answer
  (taken first, on the same data);
- the failing source's fields are null, each failure reported once with an
  upstream code and ``extensions.source`` naming it (a few fields answer what
  the other sources gave, with the error: ``tests.support.portal.PARTIAL``), or
  they answer from the source's last good data, marked in ``extensions.stale``;
- no request outlives a few of the source's timeouts (the client gives up at
  ``CLIENT_TIMEOUT``, well before the gateway's own operation deadline).

Each case runs on SQLite and on PostgreSQL (``MLMETA_TEST_SKIP_POSTGRES=1``
skips the latter). Which response paths belong to which source is the table
``tests.support.portal.SOURCE_OF``.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from gateway.config import Settings
from gateway.demo import DemoSummary
from tests.support.fault_proxy import Fault
from tests.support.fault_world import SOURCE_TIMEOUT, World, gateway, make_world
from tests.support.portal import PORTAL_PAGE, PORTAL_VARIABLES, RUN_LIST, isolation_problems
from tests.support.redis_process import RedisProcess

pytestmark = pytest.mark.slow

CLIENT_TIMEOUT = 4 * SOURCE_TIMEOUT + 2.0
"""How long the portal waits for an answer: a few sequential upstream timeouts and
a margin, far below the gateway's own deadline (``max_execution_seconds``)."""
SQLITE_BUSY_SECONDS = 5.0  # sources.metadb.db.SQLITE_BUSY_TIMEOUT_MS

QUERIES = {"portal-page": (PORTAL_PAGE, PORTAL_VARIABLES), "run-list": (RUN_LIST, {})}

UNAVAILABLE = frozenset({"UPSTREAM_UNAVAILABLE"})
# Once the circuit opens, later calls fail fast as UPSTREAM_UNAVAILABLE.
TIMEOUT = frozenset({"UPSTREAM_TIMEOUT", "UPSTREAM_UNAVAILABLE"})
THROTTLED = frozenset({"UPSTREAM_THROTTLED", "UPSTREAM_UNAVAILABLE"})


@dataclass
class Gateway:
    """A running gateway and the handles a fault needs."""

    world: World
    settings: Settings
    url: str
    redis: RedisProcess | None = None


Inject = Callable[[Gateway], None]


@dataclass(frozen=True)
class Case:
    failing: tuple[str, ...]
    """The sources that fail, as ``extensions.source`` names them."""
    inject: Inject
    codes: frozenset[str]
    """Codes the failing source's errors may have; the first one must show."""
    catalog: str = "folder"
    backends: tuple[str, ...] = ("sqlite", "postgres")
    needs_errors: bool = True
    """The source's failure must show as errors (not so where it holds no field)."""
    stale: bool = False
    """The source's last good data answers: every field as healthy, and instead of
    errors, ``extensions.stale`` naming the source in every answer."""
    settings: tuple[tuple[str, Any], ...] = ()
    """Settings of this case's gateway, over the matrix's."""
    client_timeout: float = CLIENT_TIMEOUT
    redis: bool = False
    violation: str | None = None
    """A known break of the rule (the test is a strict xfail): what the lead reconciles."""


# -- faults --------------------------------------------------------------------------


def aws(fault: Fault, service: str = "*") -> Inject:
    return lambda gw: gw.world.aws.fail(fault, service)


def backstage(fault: Fault) -> Inject:
    return lambda gw: gw.world.backstage_proxy.fail(fault)


def folder_removed(gw: Gateway) -> None:
    shutil.rmtree(gw.settings.catalog_folder)


def folder_malformed(gw: Gateway) -> None:
    (Path(gw.settings.catalog_folder) / "pipelines.yaml").write_text("kind: [unclosed\n  - {")


def postgres(fault: Fault) -> Inject:
    def inject(gw: Gateway) -> None:
        assert gw.world.pg_proxy is not None
        gw.world.pg_proxy.fail(fault)
        if fault is Fault.REFUSED:
            gw.world.pg_proxy.reset_connections()  # a stopped server drops its clients too

    return inject


def sqlite_locked(gw: Gateway) -> None:
    """Another process holds SQLite's write lock: writers wait its busy timeout, then fail."""
    path = urlsplit(gw.settings.database_url.replace("sqlite+aiosqlite", "file")).path
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    _held.append(holder)


_held: list[sqlite3.Connection] = []


def redis_stopped(gw: Gateway) -> None:
    assert gw.redis is not None
    gw.redis.stop()


def redis_paused(gw: Gateway) -> None:
    assert gw.redis is not None
    gw.redis.pause()


# -- the matrix ----------------------------------------------------------------------

SF, SM, CW = "stepfunctions", "sagemaker", "cloudwatch"

MATRIX: dict[str, Case] = {
    # The catalog as a folder of catalog-info.yaml files.
    "catalog-folder-removed": Case(("catalog",), folder_removed, UNAVAILABLE),
    # A file that no longer parses: its entities fail (nothing else can be told of them)...
    "catalog-folder-malformed-yaml": Case(
        ("catalog",), folder_malformed, UNAVAILABLE, settings=(("max_staleness_seconds", 0),)
    ),
    # ... or, as the gateway read it at start, answer from its last good version.
    "catalog-folder-malformed-yaml-stale": Case(
        ("catalog",), folder_malformed, UNAVAILABLE, needs_errors=False, stale=True
    ),
    # The catalog as Backstage's REST API (the Backstage-shaped fake).
    "backstage-refused": Case(("catalog",), backstage(Fault.REFUSED), UNAVAILABLE, "backstage"),
    "backstage-hang": Case(("catalog",), backstage(Fault.HANG), TIMEOUT, "backstage"),
    "backstage-500": Case(("catalog",), backstage(Fault.HTTP_500), UNAVAILABLE, "backstage"),
    "backstage-throttled": Case(("catalog",), backstage(Fault.THROTTLED), THROTTLED, "backstage"),
    "backstage-malformed": Case(("catalog",), backstage(Fault.MALFORMED), UNAVAILABLE, "backstage"),
    # AWS: one service misbehaves behind the one endpoint, the others answer.
    "aws-refused": Case((SF, SM, CW), aws(Fault.REFUSED), UNAVAILABLE),
    "stepfunctions-reset": Case((SF,), aws(Fault.RESET, SF), UNAVAILABLE),
    "stepfunctions-hang": Case((SF,), aws(Fault.HANG, SF), TIMEOUT),
    "stepfunctions-500": Case((SF,), aws(Fault.HTTP_500, SF), UNAVAILABLE),
    "stepfunctions-throttled": Case((SF,), aws(Fault.THROTTLED, SF), THROTTLED),
    "stepfunctions-malformed": Case((SF,), aws(Fault.MALFORMED, SF), UNAVAILABLE),
    "sagemaker-reset": Case((SM,), aws(Fault.RESET, SM), UNAVAILABLE),
    "sagemaker-hang": Case((SM,), aws(Fault.HANG, SM), TIMEOUT),
    "sagemaker-500": Case((SM,), aws(Fault.HTTP_500, SM), UNAVAILABLE),
    "sagemaker-throttled": Case((SM,), aws(Fault.THROTTLED, SM), THROTTLED),
    "sagemaker-malformed": Case((SM,), aws(Fault.MALFORMED, SM), UNAVAILABLE),
    "cloudwatch-reset": Case((CW,), aws(Fault.RESET, CW), UNAVAILABLE),
    "cloudwatch-hang": Case((CW,), aws(Fault.HANG, CW), TIMEOUT),
    "cloudwatch-500": Case((CW,), aws(Fault.HTTP_500, CW), UNAVAILABLE),
    "cloudwatch-throttled": Case((CW,), aws(Fault.THROTTLED, CW), THROTTLED),
    "cloudwatch-malformed": Case((CW,), aws(Fault.MALFORMED, CW), UNAVAILABLE),
    # The metadb.
    "metadb-postgres-stopped": Case(
        ("metadb",), postgres(Fault.REFUSED), UNAVAILABLE, backends=("postgres",)
    ),
    "metadb-postgres-paused": Case(
        ("metadb",), postgres(Fault.HANG), TIMEOUT, backends=("postgres",)
    ),
    "metadb-sqlite-locked": Case(
        ("metadb",),
        sqlite_locked,
        UNAVAILABLE,
        backends=("sqlite",),
        client_timeout=2 * SQLITE_BUSY_SECONDS + 2.0,
    ),
    # Redis holds no field: budgets are counted in-process while it is down.
    "redis-stopped": Case(("redis",), redis_stopped, UNAVAILABLE, redis=True, needs_errors=False),
    "redis-paused": Case(("redis",), redis_paused, TIMEOUT, redis=True, needs_errors=False),
}


def _params() -> Iterator[Any]:
    for name, case in MATRIX.items():
        for backend in case.backends:
            marks: list[pytest.MarkDecorator] = []
            if backend == "postgres":
                marks.append(pytest.mark.postgres)
            if case.violation:
                marks.append(pytest.mark.xfail(reason=case.violation, strict=True))
            yield pytest.param(backend, name, id=f"{name}-{backend}", marks=marks)


# -- fixtures ------------------------------------------------------------------------

_worlds: dict[str, World] = {}


@pytest.fixture(scope="module")
def worlds(
    moto_endpoint: str, demo_aws: DemoSummary, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], World]]:
    """The world of each metadb backend, made when first asked for."""
    port = urlsplit(moto_endpoint).port
    assert port is not None
    pg_port = int(os.environ.get("MLMETA_TEST_POSTGRES_PORT", "5432"))
    with ExitStack() as stack:

        def world(backend: str) -> World:
            if backend == "postgres" and os.environ.get("MLMETA_TEST_SKIP_POSTGRES") == "1":
                pytest.skip("MLMETA_TEST_SKIP_POSTGRES=1")
            if backend not in _worlds:
                workdir = tmp_path_factory.mktemp(f"faults-{backend}")
                _worlds[backend] = stack.enter_context(
                    make_world(backend, workdir, port, demo_aws, pg_port)
                )
            return _worlds[backend]

        yield world
        _worlds.clear()
        for holder in _held:
            holder.close()


def ask(url: str, query: str, variables: dict[str, Any], timeout: float) -> dict[str, Any]:
    """POST a query as the portal does, giving up after ``timeout`` seconds."""
    try:
        response = httpx.post(
            f"{url}/graphql", json={"query": query, "variables": variables}, timeout=timeout
        )
    except httpx.TimeoutException:
        pytest.fail(f"no answer within {timeout:g} s: a failing source held the request")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def healthy_answers(world: World, catalog: str) -> dict[str, dict[str, Any]]:
    """Both queries on a healthy gateway over fresh data (once per world and catalog)."""
    if catalog not in world.snapshots:
        world.heal()
        with gateway(world.settings(catalog)) as url:
            world.snapshots[catalog] = {
                name: ask(url, query, variables, CLIENT_TIMEOUT)
                for name, (query, variables) in QUERIES.items()
            }
    return world.snapshots[catalog]


# -- the test ------------------------------------------------------------------------


@pytest.mark.parametrize(("backend", "name"), list(_params()))
def test_a_failing_source_nulls_only_its_own_fields(
    worlds: Callable[[str], World], tmp_path: Path, backend: str, name: str
) -> None:
    case = MATRIX[name]
    world = worlds(backend)
    healthy = healthy_answers(world, case.catalog)
    changes: dict[str, Any] = {}
    if case.catalog == "folder":  # a folder of its own, which the fault may break
        changes["catalog_folder"] = str(shutil.copytree(world.catalog_folder, tmp_path / "cat"))
    redis = RedisProcess(tmp_path).start() if case.redis else None
    if redis is not None:
        changes["redis_url"] = redis.url
    settings = world.settings(case.catalog, **changes, **dict(case.settings))
    try:
        with gateway(settings) as url:
            case.inject(Gateway(world, settings, url, redis))
            answers = {
                query_name: ask(url, query, variables, case.client_timeout)
                for query_name, (query, variables) in QUERIES.items()
            }
    finally:
        world.heal()
        if redis is not None:
            redis.stop()
        for holder in _held:
            holder.close()
        _held.clear()

    problems = [
        f"{query_name}: {problem}"
        for query_name, answer in answers.items()
        for problem in isolation_problems(healthy[query_name], answer, case.failing)
    ]
    own = [
        e
        for answer in answers.values()
        for e in answer.get("errors") or []
        if e["extensions"].get("source") in case.failing
    ]
    codes = {e["extensions"]["code"] for e in own}
    if case.needs_errors and not own:
        problems.append(f"{case.failing} failed and no error says so")
    if case.stale:
        for query_name, answer in answers.items():
            stale = {s["source"] for s in (answer.get("extensions") or {}).get("stale", [])}
            if not stale & set(case.failing):
                problems.append(f"{query_name}: old data served, and no extensions.stale says so")
    if not codes <= case.codes:
        problems.append(f"codes {sorted(codes)}, expected some of {sorted(case.codes)}")
    first = min(case.codes - UNAVAILABLE, default="UPSTREAM_UNAVAILABLE")
    if own and first not in codes:
        problems.append(f"no {first}: the cause never shows, only {sorted(codes)}")
    assert not problems, "\n".join(problems)
