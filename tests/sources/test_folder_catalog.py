"""A folder catalog with a file that cannot be read: the failure is said, the rest answers.

Real files in a temporary folder; time is an injectable clock.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.auth.principal import Principal
from sources.catalog.folder import FolderCatalog
from sources.catalog.model import EntityFilter, EntityQuery
from sources.errors import UpstreamError
from sources.resilience.stale import StaleLog, current_stale_log

ANYONE = Principal.anonymous()
MODEL, PIPELINE = "component:default/churn-model", "component:default/churn-pipeline"
MALFORMED = "kind: [unclosed\n  - {"


def entity(name: str, spec_type: str) -> str:
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
        f"metadata: {{name: {name}}}\nspec: {{type: {spec_type}, owner: ml-platform}}\n"
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "models.yaml").write_text(entity("churn-model", "ml-model"))
    (tmp_path / "pipelines.yaml").write_text(entity("churn-pipeline", "ml-pipeline"))
    return tmp_path


@pytest.fixture
def stale_log() -> Iterator[StaleLog]:
    log = StaleLog()
    token = current_stale_log.set(log)
    yield log
    current_stale_log.reset(token)


def break_file(path: Path) -> None:
    path.write_text(MALFORMED)
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 10))  # a change, however fast


async def test_a_malformed_file_is_named_and_the_other_files_answer(folder: Path) -> None:
    (folder / "pipelines.yaml").write_text(MALFORMED)
    catalog = FolderCatalog(folder)

    model, pipeline, unknown = await catalog.entities_by_refs(
        [MODEL, PIPELINE, "component:default/nobody"], ANYONE
    )

    assert isinstance(model, dict)
    assert model["metadata"]["name"] == "churn-model"
    # Not "no such entity": the broken file may hold it, and nobody can tell.
    for missing in (pipeline, unknown):
        assert isinstance(missing, UpstreamError)
        assert missing.source == "catalog"
        assert "pipelines.yaml cannot be read: malformed YAML" in missing.message
        assert "line 2" in missing.message


async def test_a_page_of_entities_says_it_may_lack_the_broken_files(folder: Path) -> None:
    (folder / "pipelines.yaml").write_text(MALFORMED)
    catalog = FolderCatalog(folder)

    page = await catalog.query_entities(EntityQuery(), ANYONE)

    assert [e["metadata"]["name"] for e in page.items] == ["churn-model"]
    assert page.incomplete is not None
    assert "pipelines.yaml" in page.incomplete.message


async def test_facets_and_readiness_fail_while_a_file_is_broken(folder: Path) -> None:
    (folder / "pipelines.yaml").write_text(MALFORMED)
    catalog = FolderCatalog(folder)

    with pytest.raises(UpstreamError, match=r"pipelines\.yaml"):
        await catalog.facets("spec.type", EntityFilter(), ANYONE)
    with pytest.raises(UpstreamError, match=r"pipelines\.yaml"):
        await catalog.check()


async def test_a_file_broken_after_a_good_read_serves_its_last_version_marked_stale(
    folder: Path, stale_log: StaleLog
) -> None:
    clock = Clock()
    catalog = FolderCatalog(folder, max_staleness=300, clock=clock)
    await catalog.entities_by_refs([PIPELINE], ANYONE)
    break_file(folder / "pipelines.yaml")
    clock.now += 100

    [model] = await catalog.entities_by_refs([MODEL], ANYONE)
    assert isinstance(model, dict)
    assert stale_log.report() == []  # nothing old was served yet
    clock.now += 20
    [pipeline] = await catalog.entities_by_refs([PIPELINE], ANYONE)
    page = await catalog.query_entities(EntityQuery(), ANYONE)

    assert isinstance(pipeline, dict)
    assert pipeline["metadata"]["name"] == "churn-pipeline"
    assert len(page.items) == 2
    assert page.incomplete is None
    # As old as the breakage (seen at the first read after it), not as the first read.
    assert stale_log.report() == [{"source": "catalog", "ageSeconds": 20.0}]


async def test_past_the_maximum_staleness_the_broken_files_entities_fail(folder: Path) -> None:
    clock = Clock()
    catalog = FolderCatalog(folder, max_staleness=300, clock=clock)
    await catalog.entities_by_refs([PIPELINE], ANYONE)
    break_file(folder / "pipelines.yaml")
    await catalog.entities_by_refs([MODEL], ANYONE)
    clock.now += 301

    [pipeline] = await catalog.entities_by_refs([PIPELINE], ANYONE)

    assert isinstance(pipeline, UpstreamError)
    assert "pipelines.yaml" in pipeline.message


async def test_a_repaired_file_answers_again(folder: Path) -> None:
    path = folder / "pipelines.yaml"
    path.write_text(MALFORMED)
    catalog = FolderCatalog(folder)
    await catalog.entities_by_refs([PIPELINE], ANYONE)
    path.write_text(entity("churn-pipeline", "ml-pipeline"))
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 10))

    [pipeline] = await catalog.entities_by_refs([PIPELINE], ANYONE)
    page = await catalog.query_entities(EntityQuery(), ANYONE)

    assert isinstance(pipeline, dict)
    assert page.incomplete is None
    await catalog.check()
