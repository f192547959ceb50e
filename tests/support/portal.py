"""The portal's pages as queries, the demo data behind them, and which source answers what.

``PORTAL_PAGE`` is one query touching every source: the catalog (entity,
owner, the model's entity), Step Functions (graph, runs, steps), SageMaker
(model versions, deployments, the SageMaker pipeline's runs), CloudWatch
(training metrics imported on first read), the metadb (metric evolution,
cards, lineage) and, through the budget charge, Redis. ``RUN_LIST`` is the
list query. ``SOURCE_OF`` says which response paths belong to which source:
the fault matrix removes the failing source's subtrees from the healthy
answer and expects everything that is left to be exactly the same.
"""

from __future__ import annotations

import copy
import fnmatch
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from gateway.app import create_app
from gateway.config import Settings
from gateway.demo import DemoSummary, write_catalog
from gateway.demo.cards_seed import seed_cards
from gateway.demo.lineage_seed import seed_lineage, snapshot_uri, with_seed_token
from gateway.demo.metrics_seed import seed_metrics
from gateway.resources import Resources
from sources.metadb.cards import CardStore

PIPELINE_REF = "component:default/churn-training-pipeline"
MODEL_REF = "resource:default/churn-model"
SAGEMAKER_PIPELINE_REF = "component:default/fraud-detector-training"
LINEAGE_OF = snapshot_uri("2026-11-01")

PORTAL_PAGE = """
query Portal($pipeline: String!, $model: String!, $sagemaker: String!, $lineage: ID!) {
  entity(ref: $pipeline) {
    ref title owner { ref title }
    pipeline {
      name
      graph { nodes { name type } edges { from to } }
      executions(first: 10) { edges { node { id status startedAt
        steps { name status }
        metrics { name value } } } }
      metricEvolution(metrics: ["roc_auc"], lastRuns: 10) { metric points { value } }
    }
  }
  fraud: entity(ref: $sagemaker) {
    ref
    pipeline { name executions(first: 5) { edges { node { id status } } } }
  }
  model(ref: $model) {
    name
    entity { ref owner { ref } }
    versions(first: 10) { edges { node { version status
      card { markdown }
      deployments { name } } } }
  }
  lineage(of: $lineage, depth: 2) { nodeIds edges { from to kind } }
  sources { name healthy circuit }
}
"""
PORTAL_VARIABLES = {
    "pipeline": PIPELINE_REF,
    "model": MODEL_REF,
    "sagemaker": SAGEMAKER_PIPELINE_REF,
    "lineage": LINEAGE_OF,
}

RUN_LIST = """{ pipelines(first: 20) { edges { node { name orchestrator
    executions(first: 50) { edges { node { id status steps { name status } } } } } } } }"""


# -- which paths belong to which source ----------------------------------------------
#
# Paths are dotted with list indices as ``*``; a pattern names the subtree its
# source answers (and everything below it goes with it). A field that needs
# several sources is listed under each: any one of them failing may null it.

SOURCE_OF: dict[str, tuple[str, ...]] = {
    "catalog": (
        "entity",
        "fraud",
        "model.entity",
        "model",  # a model is readable only if its claiming entity is
        "lineage",  # catalog entities are lineage nodes too
        "pipelines.edges.*.node",  # a catalog-linked pipeline's claim is checked
    ),
    "stepfunctions": (
        "entity.pipeline",  # the Step Functions pipeline is described live
        "pipelines.edges.*.node",
    ),
    "sagemaker": (
        "fraud.pipeline",
        "model.versions",
        "model",
        "entity.pipeline.executions.edges.*.node.metrics",  # training job, imported once
        "pipelines.edges.*.node",
        "lineage",  # derived from the registry
    ),
    "cloudwatch": (
        # Series imported once with the training job's final metrics: without them the
        # run's metrics are what the metadb holds, with the failure reported.
        "entity.pipeline.executions.edges.*.node.metrics",
        "model.versions.edges.*.node.card",  # a draft pre-filled with the run's metrics
    ),
    "metadb": (
        "entity.pipeline.executions",  # stored runs
        "entity.pipeline.metricEvolution",
        "entity.pipeline.executions.edges.*.node.metrics",
        "fraud.pipeline.executions",
        "model.versions.edges.*.node.card",
        "lineage",
        "pipelines",  # pushed pipelines (the root answers anyway: its part is missing)
    ),
    "redis": (),  # budgets only: counted in-process while Redis is down
}
"""Response paths (dotted, ``*`` for list indices) a failure of the source may null."""

PARTIAL: tuple[str, ...] = (
    "pipelines",  # lists the pipelines of the sources that answered
    "entity.pipeline.executions.edges.*.node.metrics",  # stored, without a failed import
    "model.versions.edges.*.node.card",  # a draft pre-filled without them
    "lineage",  # the recorded graph, without edges AWS implies that could not be derived
)
"""Response paths that answer with what they have, and an error for the part they lack
(README, "Schema conventions"): the only errors whose field need not be null."""


def belongs_to(path: Sequence[str | int], source: str) -> bool:
    """Whether ``path`` lies in a subtree ``source`` may null."""
    text = _pattern(path)
    return any(
        fnmatch.fnmatchcase(text, pattern) or fnmatch.fnmatchcase(text, pattern + ".*")
        for pattern in SOURCE_OF[source]
    )


def leaves(data: Any, path: list[str | int] | None = None) -> Iterator[tuple[list[str | int], Any]]:
    """Every scalar (and null, and empty list) of a response, with its path."""
    path = path or []
    if isinstance(data, dict) and data:
        for key, value in data.items():
            yield from leaves(value, [*path, key])
    elif isinstance(data, list) and data:
        for index, value in enumerate(data):
            yield from leaves(value, [*path, index])
    else:
        yield path, data


def at(data: Any, path: list[str | int]) -> Any:
    node = data
    for part in path:
        node = node[part]
    return node


def _by_name(data: Any) -> Any:
    """Lists whose items have a name compared by name, not position: a failing
    source may drop items (``pipelines`` lists what the other sources gave), and
    ``sources`` is one entry per source."""
    data = copy.deepcopy(data)
    if isinstance(data, dict) and isinstance(data.get("sources"), list):
        data["sources"] = {s["name"]: s for s in data["sources"]}
    pipelines = data.get("pipelines") if isinstance(data, dict) else None
    if isinstance(pipelines, dict) and isinstance(pipelines.get("edges"), list):
        pipelines["edges"] = {
            Item((e["node"] or {}).get("name", f"#{i}")): e
            for i, e in enumerate(pipelines["edges"])
        }
    return data


class Item(str):
    """A list item keyed by its name: a ``*`` in patterns, like an index."""


def _pattern(path: Sequence[str | int]) -> str:
    return ".".join("*" if isinstance(p, (int, Item)) else str(p) for p in path)


def error_key(error: dict[str, Any]) -> tuple[Any, ...]:
    """What makes two errors one failure (as the gateway's deduplication sees it)."""
    ext = error.get("extensions") or {}
    return (
        ext.get("code"),
        ext.get("source"),
        error.get("message"),
        _pattern(error.get("path") or []),
    )


def isolation_problems(
    healthy: dict[str, Any], answer: dict[str, Any], failing: tuple[str, ...]
) -> list[str]:
    """What breaks the rule when ``failing`` sources fail; empty when the answer keeps it.

    - every error is an upstream error (``UPSTREAM_*``) naming a failing source;
    - no failure is reported twice (same code, source, message and path pattern);
    - each error's path is a null field (save the ``PARTIAL`` ones, which answer
      what they have);
    - every field outside the failing sources' subtrees equals the healthy answer;
    - every field inside them equals it too, or lies under an error's path.

    Errors the healthy answer has too (moto lacks some APIs) are not the fault's.
    """
    known = {error_key(e) for e in healthy.get("errors") or []}
    problems: list[str] = []
    errors = answer.get("errors") or []
    data = answer.get("data")
    if data is None:
        return [f"no data at all: {errors}"]
    seen: set[tuple[Any, ...]] = set()
    covered: list[str] = []
    for error in errors:
        ext = error.get("extensions") or {}
        path = error.get("path") or []
        where = _pattern(path)
        covered.append(where)
        if error_key(error) in known:
            continue
        if not str(ext.get("code", "")).startswith("UPSTREAM_") or ext.get("source") not in failing:
            problems.append(f"error at {where} is not an upstream error of {failing}: {error}")
        failure = error_key(error)
        if failure in seen:
            problems.append(f"error reported twice: {failure}")
        seen.add(failure)
        if path and where not in PARTIAL:
            try:
                value = at(data, path)
            except (KeyError, IndexError, TypeError):
                problems.append(f"error at {where} points at no field")
            else:
                if value is not None:
                    problems.append(f"error at {where} but the field is not null")
    expected = {tuple(p): v for p, v in leaves(_by_name(healthy["data"]))}
    got = {tuple(p): v for p, v in leaves(_by_name(data))}
    changed: dict[tuple[str, str], list[str]] = {}  # (what, pattern) -> examples
    for key, value in expected.items():
        if key in got and got[key] == value:
            continue
        if key[0] == "sources" and key[1] in failing:
            continue  # a failing source's own health is expected to change
        path = _pattern(key)
        mine = [s for s in failing if belongs_to(list(key), s)]
        if not mine:
            what = "belongs to no failing source but changed"
        elif not any(path == c or path.startswith(c + ".") for c in covered):
            what = f"({'/'.join(mine)}) changed without an error"
        else:
            continue
        example = f"{'.'.join(map(str, key))}: {value!r} -> {got.get(key, '<missing>')!r}"
        changed.setdefault((what, path), []).append(example)
    for (what, path), examples in changed.items():
        problems.append(f"{path} {what} (x{len(examples)}, e.g. {examples[0][:160]})")
    return problems


# -- the demo data ------------------------------------------------------------------


def write_portal_catalog(folder: Path) -> Path:
    write_catalog(folder)
    return folder


async def seed_metadb(settings: Settings, summary: DemoSummary) -> None:
    """What no upstream keeps, as ``mlmeta serve --demo`` seeds it: metric curves of the
    demo runs, mlmeta's own model cards, and the reported lineage."""
    seeding, token = with_seed_token(settings)
    app: Starlette = create_app(seeding, announce=False)
    async with app.router.lifespan_context(app):
        resources: Resources = app.state.resources
        await seed_metrics(summary, resources.pipelines, resources.metrics)
        await seed_cards(summary, CardStore(resources.metadb))
        await seed_lineage(app, summary, token)
