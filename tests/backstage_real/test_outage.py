"""A real Backstage that goes down while a portal keeps asking, and comes back.

The catalog backend is the real one from npm (``harness.py``; slow). A portal
asks the gateway for a page every few tenths of a second while the backend is
stopped (SIGTERM: its port then refuses connections) and later started again
on the same port, as an orchestrator restarting it would. Throughout, every
answer has data: the catalog's fields are null with coded errors naming the
catalog, the rest stands. After a few failures the catalog's circuit opens and
the catalog's fields fail fast; once the backend is back and the cool-down is
over, the probe closes the circuit and the same gateway answers in full again,
without a restart.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.config import Settings
from tests.backstage_real.harness import RealBackstage, wait_for
from tests.support.http_server import serve_app

pytestmark = pytest.mark.slow

CATALOG_YAML = """\
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: ml-platform}
spec: {type: team, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: churn-training}
spec: {type: ml-pipeline, lifecycle: production, owner: group:ml-platform}
"""
EXPECTED_ENTITIES = 3  # the two above and the Location of the file

PAGE = """{
  viewer { subject }
  entity(ref: "component:default/churn-training") { ref owner { ref } }
  sources { name circuit }
}"""
ENTITY = '{ entity(ref: "component:default/churn-training") { ref } }'
"""The catalog's part alone (``sources`` checks every source, each time: not fast)."""
HEALTHY_ENTITY = {
    "ref": "component:default/churn-training",
    "owner": {"ref": "group:default/ml-platform"},
}
BREAKER_FAILURES = 2
COOLDOWN_SECONDS = 5.0
CATALOG_TIMEOUT_SECONDS = 2.0
CLIENT_TIMEOUT = 3 * CATALOG_TIMEOUT_SECONDS
"""The portal's patience: a couple of catalog timeouts, well below the gateway's deadline."""
FAIL_FAST_SECONDS = 0.5


@dataclass
class Answer:
    body: dict[str, Any]
    seconds: float

    @property
    def entity(self) -> Any:
        return self.body["data"]["entity"]

    @property
    def circuit(self) -> str:
        return next(s["circuit"] for s in self.body["data"]["sources"] if s["name"] == "catalog")

    @property
    def errors(self) -> list[dict[str, Any]]:
        return list(self.body.get("errors") or [])


def ask(url: str, query: str = PAGE) -> Answer:
    started = time.monotonic()
    response = httpx.post(f"{url}/graphql", json={"query": query}, timeout=CLIENT_TIMEOUT)
    assert response.status_code == 200, response.text
    return Answer(response.json(), time.monotonic() - started)


class Portal(threading.Thread):
    """Asks for the page until stopped, keeping every answer (or what went wrong)."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.answers: list[Answer] = []
        self.failures: list[str] = []
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            try:
                self.answers.append(ask(self.url))
            except (AssertionError, httpx.HTTPError) as exc:
                self.failures.append(repr(exc))
            self._done.wait(0.3)

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=2 * CLIENT_TIMEOUT)

    def wait_for_whole_page(self, what: str) -> None:
        """Until an answer from now on has the entity."""
        start = len(self.answers)
        wait_for(
            lambda: any(a.entity is not None for a in self.answers[start:]),
            timeout=2 * CLIENT_TIMEOUT,
            what=what,
        )


def rule_breaks(answer: Answer) -> list[str]:
    """What in an answer breaks README's "When a source fails"; empty when none does."""
    problems = []
    data = answer.body.get("data")
    if data is None:
        return [f"no data at all: {answer.errors}"]
    if data["viewer"] != {"subject": "anonymous"}:
        problems.append(f"a field of no source changed: {data['viewer']}")
    if data["entity"] not in (HEALTHY_ENTITY, None):
        problems.append(f"the entity is neither whole nor null: {data['entity']}")
    for error in answer.errors:
        ext = error["extensions"]
        if ext.get("source") != "catalog" or not ext["code"].startswith("UPSTREAM_"):
            problems.append(f"not a coded catalog error: {error}")
    if data["entity"] is None and not answer.errors:
        problems.append("the entity is null and no error says why")
    if answer.seconds > CLIENT_TIMEOUT:
        problems.append(f"took {answer.seconds:.1f} s")
    return problems


@pytest.fixture
def backstage(tmp_path: Path) -> Iterator[RealBackstage]:
    backend = RealBackstage(
        CATALOG_YAML,
        expected_entities=EXPECTED_ENTITIES,
        workdir=tmp_path / "backstage",
        persistent=True,  # back with its entities, as a portal on PostgreSQL is
    )
    backend.start()
    try:
        yield backend
    finally:
        backend.stop()


@pytest.fixture
def gateway(settings: Settings, backstage: RealBackstage) -> Iterator[str]:
    assert backstage.handle is not None
    configured = settings.replace(
        catalog_backend="backstage",
        backstage_url=backstage.handle.base_url,
        backstage_token=backstage.handle.token,
        catalog_timeout_seconds=CATALOG_TIMEOUT_SECONDS,
        breaker_failures=BREAKER_FAILURES,
        breaker_cooldown_seconds=COOLDOWN_SECONDS,
        max_staleness_seconds=0,  # the outage shows as errors, not as old entities
        readiness_cache_seconds=0,
        readiness_timeout_seconds=1,
    )
    with serve_app(create_app(configured), lifespan="on") as url:
        yield url


def test_the_gateway_answers_through_a_backstage_restart_and_recovers_by_itself(
    backstage: RealBackstage, gateway: str
) -> None:
    before = ask(gateway)
    assert before.errors == []
    assert before.entity == HEALTHY_ENTITY
    portal = Portal(gateway)
    portal.start()
    try:
        portal.wait_for_whole_page("the portal's first page")
        backstage.stop_backend()

        # Down: the entity is null with the catalog's error, the circuit opens...
        def circuit_open() -> Answer | None:
            answer = ask(gateway)
            return answer if answer.circuit == "OPEN" else None

        wait_for(
            circuit_open,
            timeout=BREAKER_FAILURES * CLIENT_TIMEOUT + 5,
            what="the catalog's circuit to open",
        )
        down = ask(gateway)
        assert down.entity is None
        [error] = down.errors
        assert error["extensions"] == {"code": "UPSTREAM_UNAVAILABLE", "source": "catalog"}
        assert "circuit open" in error["message"]
        # ...and while it is open, the catalog's fields fail without waiting for it.
        assert ask(gateway, ENTITY).seconds < FAIL_FAST_SECONDS

        backstage.restart()

        # Back: after the cool-down one probe goes through and closes the circuit.
        def whole() -> Answer | None:
            answer = ask(gateway)
            return answer if answer.entity is not None else None

        back = wait_for(
            whole, timeout=COOLDOWN_SECONDS + 10, what="the gateway to read the restarted catalog"
        )
        portal.wait_for_whole_page("the portal's page after the restart")
    finally:
        portal.stop()
    assert back.errors == []
    assert back.entity == HEALTHY_ENTITY
    assert ask(gateway).circuit == "CLOSED"

    # The portal kept getting answers all along, each keeping the rule.
    assert portal.failures == []
    broken = {p for answer in portal.answers for p in rule_breaks(answer)}
    assert broken == set()
    # Whole, then the catalog's part missing while it was down, then whole again.
    seen = [answer.entity is not None for answer in portal.answers]
    assert seen[0]
    assert not all(seen)
    assert seen[-1]
