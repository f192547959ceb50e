"""README's examples, run on a fresh `mlmeta serve --demo` as a reader would run them.

Every fenced GraphQL block and inline operation in README.md runs, in README's
order, against one demo process; where README leaves a placeholder
(``<ModelVersion id>``), the id README tells the reader to take goes in. Each
answer must be what the text promises: no errors (but the one README shows),
and no empty list or null where the text promises data. The shell examples
that can run on the demo run too: the lineage export and its verification, and
the metric logger.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.demo.demo_server import DEMO_TOKEN, DemoServer, start_demo
from tests.support.ws_client import subscribe

pytestmark = pytest.mark.slow

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
BLOCKS = re.findall(r"```graphql\n(.*?)```", README, re.DOTALL)
INLINE = re.findall(r"`((?:query|mutation|subscription)\b[^`]*\{[^`]*)`", README)
SHELL = re.findall(r"```sh\n(.*?)```", README, re.DOTALL)
PYTHON = re.findall(r"```python\n(.*?)```", README, re.DOTALL)

STAGING = 'pipeline(ref: "component:churn-training-staging")'

MAY_BE_EMPTY: dict[str, set[str]] = {
    # Healthy sources have no last error; runs without a roc_auc have no point value
    # ("missing-snapshot" failed before training, "more-data" is pending approval);
    # the live run's loss series "grows" from nothing once it trains.
    "{ viewer": {"lastError", "value", "metricSeries"},
    "{ byRef": set(),
    '{ entity(ref: "component': {"parent", "durationSeconds", "attempts", "resourceArn"},
    "mutation { recordRun": set(),
    "{ pipeline(ref": {"value"},
    # The demo's SageMaker card versions do not say who saved them.
    '{ entity(ref: "resource': {"completeness", "updatedBy"},
    "mutation { upsertModelCard": set(),
    "{ lineage": {"openLineage", "uri", "version", "revision", "status", "origin"},
    "{ impact": set(),
    # README: "returns every pipeline and every run; only the SageMaker runs' steps are null"
    # (and a pushed or OpenLineage run has the steps it was given, possibly none).
    "{ pipelines": {"steps"},
    "{ sources": {"lastError"},
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    workdir = tmp_path_factory.mktemp("readme-demo")
    server = start_demo(workdir, workdir / "data")
    yield server
    server.stop()


def placeholders(demo: DemoServer) -> dict[str, str]:
    """What README tells the reader to put in place of each placeholder."""
    # "In the demo, take the id from { modelVersion(model: "churn-model", version: "3")
    # { deployments { id } } }"; v3 has no mlmeta card yet, so baseRevision 0 holds.
    version = demo.data(
        '{ modelVersion(model: "churn-model", version: "3") { id deployments { id } } }'
    )["modelVersion"]
    staging = demo.data(f"{{ {STAGING} {{ id }} }}")
    return {
        "<ModelVersion id>": version["id"],
        "<Deployment or ModelVersion id>": version["deployments"][0]["id"],
        "<staging id>": staging["pipeline"]["id"],
    }


def fill(text: str, values: dict[str, str]) -> str:
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    assert not re.search(r'"<[^"]*>"', text), f"a placeholder is left: {text}"
    return text


def empty_places(value: Any, allowed: set[str], path: str = "") -> list[str]:
    """Paths of the nulls and empty lists in an answer, but under the allowed field names."""
    if isinstance(value, dict):
        return [
            place
            for key, item in value.items()
            if key not in allowed
            for place in empty_places(item, allowed, f"{path}.{key}")
        ]
    if isinstance(value, list):
        if not value:
            return [path]
        return [p for i, item in enumerate(value) for p in empty_places(item, allowed, path)][:5]
    return [path] if value is None else []


def expectations(block: str) -> set[str]:
    matches = [allowed for start, allowed in MAY_BE_EMPTY.items() if block.startswith(start)]
    assert len(matches) == 1, f"no expectation (or several) for README's block {block[:40]!r}"
    return matches[0]


def test_every_graphql_block_answers_what_the_text_promises(demo: DemoServer) -> None:
    values = placeholders(demo)
    problems = []
    for block in BLOCKS:
        mutation = block.startswith("mutation")
        body = demo.gql(fill(block, values), token=DEMO_TOKEN if mutation else None)
        name = " ".join(block.split())[:50]
        errors = body.get("errors") or []
        if block.startswith("{ pipelines"):  # README: one error, for the SageMaker runs' steps
            assert [(e["extensions"]["source"], e["path"][-1]) for e in errors] == [
                ("sagemaker", "steps")
            ], errors
        elif errors:
            problems.append(f"{name}: {errors}")
            continue
        if empty := empty_places(body["data"], expectations(block)):
            problems.append(f"{name}: null or empty at {empty}")
    assert not problems, "\n".join(problems)
    assert len(BLOCKS) == len(MAY_BE_EMPTY)


def test_the_staging_subscription_follows_the_live_run(demo: DemoServer) -> None:
    [snippet] = [s for s in INLINE if "pipelineId" in s]
    with subscribe(demo.base_url, fill(snippet, placeholders(demo))) as subscription:
        first = subscription.next_message(timeout=30)
    assert first["type"] == "next", first
    update = first["payload"]["data"]["executionUpdated"]
    assert update["name"].startswith("live-"), update
    assert update["steps"], update


def test_the_execution_subscription_takes_its_declared_variable(demo: DemoServer) -> None:
    [snippet] = [s for s in INLINE if "executionId: $id" in s]
    run = demo.data(
        '{ pipeline(ref: "component:churn-training-staging") { latestExecution { id } } }'
    )
    variables = {"id": run["pipeline"]["latestExecution"]["id"]}
    with subscribe(demo.base_url, snippet, variables) as subscription:
        first = subscription.next_message(timeout=30)
    assert first["type"] == "next", first
    assert first["payload"]["data"]["executionUpdated"]["steps"], first


def test_the_lineage_export_and_verify_commands_run_as_shown(
    demo: DemoServer, tmp_path: Path
) -> None:
    [script] = [s for s in SHELL if "mlmeta lineage export" in s]
    commands = "\n".join(line for line in script.splitlines() if not line.startswith("export "))
    env = {
        **os.environ,
        "MLMETA_URL": demo.base_url,
        "MLMETA_TOKEN": DEMO_TOKEN,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", commands],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    exported, verified = done.stdout.splitlines()
    assert exported.startswith("churn.json: "), exported
    assert verified.startswith("OK "), verified
    bundle = json.loads((tmp_path / "churn.json").read_text())
    keys = json.dumps(bundle["graph"])
    # At 2026-11-20 the endpoint serves v3, trained by tuned-600-rounds (README).
    assert "model-package/churn-model/3" in keys
    assert "tuned-600-rounds" in keys


def test_the_metric_logger_logs_points_to_a_run(
    demo: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    [snippet] = [s for s in PYTHON if "class MlmetaLogger" in s]
    monkeypatch.setenv("MLMETA_TOKEN", DEMO_TOKEN)
    namespace: dict[str, Any] = {}
    exec(compile(snippet, "README.md", "exec"), namespace)  # noqa: S102 - README's own code
    query = """{ pipeline(ref: "component:churn-training-pipeline") {
      latestExecution { arn metricSeries(names: ["readme_loss"]) { count } } } }"""
    run = demo.data(query)["pipeline"]["latestExecution"]
    assert run["metricSeries"] == []

    logger = namespace["MlmetaLogger"](run["arn"], url=demo.base_url)
    for step in range(3):
        logger.log("readme_loss", 1.0 / (step + 1), step)
    logger.flush(key="readme-example")
    logger.log("readme_loss", 1.0, 0)
    logger.flush(key="readme-example")  # a retry with the same key stores nothing twice
    logger.close()

    series = demo.data(query)["pipeline"]["latestExecution"]["metricSeries"]
    assert series == [{"count": 3}]
    monkeypatch.setenv("MLMETA_TOKEN", "not-a-token")
    refused = namespace["MlmetaLogger"](run["arn"], url=demo.base_url)
    with pytest.raises(httpx.HTTPStatusError):  # a bad token fails loudly
        refused.flush()
    refused.close()
