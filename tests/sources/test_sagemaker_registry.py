"""SageMakerRegistry: models, versions, deployments and model cards.

Two fakes, each for what it can show:

- the session's moto server: groups, packages, endpoints, models and cards,
  with names unique to each test (the demo's data lives in the same server).
  moto has no BatchDescribeModelPackage (it answers HTTP 500), which is how
  the per-ARN fallback is tested.
- botocore's Stubber: BatchDescribeModelPackage itself, and exact paging
  requests, including an upstream that ignores MaxResults and sorting
  (``test_sagemaker_registry_stubbed.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import pytest

from sources.aws import open_client
from sources.models.model import ApprovalStatus
from sources.sagemaker.registry_source import SageMakerRegistry
from tests.support.aws_calls import CountingClient
from tests.support.sagemaker_registry import (
    ACCOUNT,
    IMAGE,
    REGION,
    artifact_url,
    make_endpoint,
    make_group,
    put_card,
    registry_settings,
    unique_name,
)

ROLE = f"arn:aws:iam::{ACCOUNT}:role/mlmeta-test"
APPROVED = ApprovalStatus.APPROVED
PENDING = ApprovalStatus.PENDING_MANUAL_APPROVAL
REJECTED = ApprovalStatus.REJECTED


@pytest.fixture
async def sm(moto_endpoint: str) -> AsyncIterator[CountingClient]:
    async with AsyncExitStack() as stack:
        yield CountingClient(
            await open_client(stack, "sagemaker", registry_settings(moto_endpoint))
        )


# ---- models --------------------------------------------------------------------------------


async def test_groups_are_described_by_name_or_arn_and_missing_ones_are_none(sm):
    group = unique_name("model")
    await make_group(sm, ["Approved"], group)
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package-group/{group}"
    other_account = f"arn:aws:sagemaker:{REGION}:999999999999:model-package-group/{group}"

    found = await SageMakerRegistry(sm, REGION).describe_groups(
        [group, arn, "no-such-group", group, other_account]
    )

    assert [m.arn if m else None for m in found] == [arn, arn, None, arn, None]
    assert found[0] is not None
    assert found[0].description == f"{group} for tests"
    # The name once; each ARN twice (moto knows groups by name only); the missing one once.
    assert sm.calls["describe_model_package_group"] == 6


async def test_groups_are_paged_by_name(sm):
    prefix = unique_name("paged")
    for letter in "cab":
        await sm.create_model_package_group(ModelPackageGroupName=f"{prefix}-{letter}")
    registry = SageMakerRegistry(sm, REGION)

    names, token, pages = [], None, 0
    while True:
        page = await registry.list_groups(max_results=2, next_token=token)
        names += [m.name for m in page.items]
        token = page.next_token
        pages += 1
        if token is None:
            break

    ours = [n for n in names if n.startswith(prefix)]
    assert ours == [f"{prefix}-a", f"{prefix}-b", f"{prefix}-c"]
    assert names == sorted(names)
    assert len(names) == len(set(names))


# ---- versions (moto) ------------------------------------------------------------------------


async def test_versions_are_listed_newest_first_across_pages(sm):
    arns = await make_group(sm, ["Approved", "Rejected", "PendingManualApproval"])
    group = arns[0].split("/")[1]
    registry = SageMakerRegistry(sm, REGION)

    first = await registry.list_versions(group, max_results=2)
    second = await registry.list_versions(group, max_results=2, next_token=first.next_token)

    assert [v.version for v in first.items] == [3, 2]
    assert [v.version for v in second.items] == [1]
    assert second.next_token is None
    assert [v.status for v in first.items + second.items] == [PENDING, REJECTED, APPROVED]
    assert first.items[0].group == group
    assert first.items[0].description == "version 3"


async def test_status_filter_lists_only_versions_of_that_status(sm):
    arns = await make_group(sm, ["Approved", "Rejected", "Approved", "PendingManualApproval"])
    registry = SageMakerRegistry(sm, REGION)

    page = await registry.list_versions(arns[0].split("/")[1], status=APPROVED)

    assert [v.version for v in page.items] == [3, 1]
    assert page.next_token is None


async def test_latest_version_of_a_status_takes_one_call(sm):
    arns = await make_group(sm, ["Approved", "PendingManualApproval", "Rejected"])
    group = arns[0].split("/")[1]
    registry = SageMakerRegistry(sm, REGION)

    approved = await registry.latest_version(group, APPROVED)
    latest = await registry.latest_version(group, None)
    missing = await registry.latest_version(unique_name("none"), APPROVED)

    assert approved is not None
    assert approved.version == 1
    assert latest is not None
    assert (latest.version, latest.status) == (3, REJECTED)
    assert missing is None
    assert sm.calls == {"list_model_packages": 3}


async def test_versions_by_arns_falls_back_to_describe_when_batch_is_missing(sm):
    arns = await make_group(sm, ["Approved", "Rejected"])
    missing = arns[0].rsplit("/", 1)[0] + "/99"
    registry = SageMakerRegistry(sm, REGION)

    found = await registry.versions_by_arns([arns[1], missing, "not-an-arn", arns[0], arns[1]])
    again = await registry.versions_by_arns(arns)

    assert [v.version if v else None for v in found] == [2, None, None, 1, 2]
    assert found[0] is not None
    assert found[0].artifact_uri == artifact_url(arns[0].split("/")[1], 2)
    assert [v.version if v else None for v in again] == [1, 2]
    # moto answers the one batch call with HTTP 500; from then on only describes.
    assert sm.calls == {"batch_describe_model_package": 1, "describe_model_package": 5}


async def test_version_details_carry_metadata_metrics_and_artifact(sm):
    arns = await make_group(sm, ["Approved"])
    group = arns[0].split("/")[1]

    detail, missing = await SageMakerRegistry(sm, REGION).version_details([arns[0], arns[0] + "9"])

    assert missing is None
    assert detail is not None
    assert (detail.group, detail.version) == (group, 1)
    assert detail.artifact_uri == artifact_url(group, 1)
    assert detail.generated_by == f"arn:run/{group}/1"
    assert detail.model_metrics == {
        "ModelQuality.Statistics": "s3://q/1",
        "Bias.Report": "s3://b/1",
    }
    assert detail.metrics == {"roc_auc": 0.91}


async def test_versions_of_twenty_models_take_one_list_call_each(sm):
    groups = [await make_group(sm, ["Approved", "Rejected", "Approved"]) for _ in range(20)]
    registry = SageMakerRegistry(sm, REGION)

    pages = [await registry.list_versions(arns[0].split("/")[1]) for arns in groups]
    summaries = await registry.versions_by_arns([v.arn for page in pages for v in page.items])

    assert sum(len(page.items) for page in pages) == 60
    assert all(s is not None and s.artifact_uri for s in summaries)
    assert sm.calls["list_model_packages"] == 20
    # moto: one refused batch call, then one describe per version (AWS: one batch call).
    assert sm.calls["batch_describe_model_package"] == 1
    assert sm.calls["describe_model_package"] == 60


# ---- deployments (moto) -----------------------------------------------------------------------


@pytest.fixture
async def served(sm) -> dict[str, Any]:
    """Versions 1-3 of a group; v1 served from its package and v2 from its artefact URL
    (endpoint ``<x>-a``, tagged stage=staging), v3 by a model tagged with its ARN
    (endpoint ``<x>-b``, environment=production); v4 is served nowhere."""
    arns = await make_group(sm, ["Approved"] * 4)
    group, prefix = arns[0].split("/")[1], unique_name("ep")
    await sm.create_model(
        ModelName=f"{prefix}-pkg",
        PrimaryContainer={"ModelPackageName": arns[0]},
        ExecutionRoleArn=ROLE,
    )
    await sm.create_model(
        ModelName=f"{prefix}-url",
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": artifact_url(group, 2)},
        ExecutionRoleArn=ROLE,
    )
    await sm.create_model(
        ModelName=f"{prefix}-tag",
        Containers=[{"Image": IMAGE, "ModelDataUrl": "s3://elsewhere/model.tar.gz"}],
        ExecutionRoleArn=ROLE,
        Tags=[{"Key": "model-package-arn", "Value": arns[2]}],
    )
    await make_endpoint(sm, f"{prefix}-a", [f"{prefix}-pkg", f"{prefix}-url"], {"Stage": "staging"})
    await make_endpoint(sm, f"{prefix}-b", [f"{prefix}-tag"], {"environment": "production"})
    sm.calls.clear()
    return {"arns": arns, "group": group, "prefix": prefix}


async def test_deployments_are_matched_by_package_arn_or_artifact_url(sm, served):
    arns, group, prefix = served["arns"], served["group"], served["prefix"]
    versions = [(arn, artifact_url(group, n)) for n, arn in enumerate(arns, start=1)]

    v1, v2, v3, v4 = await SageMakerRegistry(sm, REGION).deployments_for(versions)

    assert [(d.name, d.variant, d.environment) for d in v1] == [(f"{prefix}-a/v0", "v0", "staging")]
    assert v1[0].arn == f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{prefix}-a#v0"
    assert (v1[0].model_name, v1[0].status) == (f"{prefix}-pkg", "InService")
    assert [(d.name, d.model_package_arn) for d in v2] == [(f"{prefix}-a/v1", None)]
    assert [(d.name, d.environment, d.model_data_url) for d in v3] == [
        (f"{prefix}-b", "production", "s3://elsewhere/model.tar.gz")
    ]
    assert v3[0].arn == f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{prefix}-b"
    assert v4 == []


async def test_deployment_index_is_cached_within_its_ttl(sm, served):
    registry = SageMakerRegistry(sm, REGION, cache_seconds=60)

    first = await registry.deployments()
    calls = sm.total()
    second = await registry.deployments()
    matched = await registry.deployments_for([(served["arns"][0], None)])

    assert calls > 0
    assert sm.total() == calls
    assert first == second
    assert len(matched[0]) == 1


async def test_concurrent_callers_share_one_refresh(sm, served):
    registry = SageMakerRegistry(sm, REGION)

    results = await asyncio.gather(*(registry.deployments() for _ in range(5)))

    assert sm.calls["list_endpoints"] == 1
    assert all(r == results[0] for r in results)


async def test_deployment_calls_do_not_depend_on_the_versions_asked(sm, served):
    registry = SageMakerRegistry(sm, REGION, cache_seconds=0)  # refresh on every call
    many = [(f"{served['arns'][0][:-1]}{n}", None) for n in range(1, 61)]

    await registry.deployments_for(many[:1])
    one = dict(sm.calls)
    sm.calls.clear()
    await registry.deployments_for(many)

    assert dict(sm.calls) == one
    assert one["list_endpoints"] == 1


# ---- model cards (moto) ----------------------------------------------------------------------


async def test_a_versions_card_is_its_most_recently_modified(sm):
    arns = await make_group(sm, ["Approved", "Approved"])
    older, newer = unique_name("card"), unique_name("card")
    await put_card(sm, older, arns[0])
    await put_card(sm, newer, arns[0])
    registry = SageMakerRegistry(sm, REGION, cache_seconds=0)

    before, unknown, second = await registry.card_for_versions([arns[0].upper(), "x", arns[1]])
    await put_card(sm, older, arns[0], "Approved")
    [after] = await registry.card_for_versions([arns[0]])

    assert (unknown, second) == (None, None)
    assert before is not None
    assert before.name == newer
    assert after is not None
    assert (after.name, after.version, after.status) == (older, 2, "Approved")
    assert after.content["model_overview"] == {"model_description": older}
    assert after.updated_at > after.created_at


async def test_card_index_is_cached_within_its_ttl(sm):
    arns = await make_group(sm, ["Approved"])
    await put_card(sm, unique_name("card"), arns[0])
    registry = SageMakerRegistry(sm, REGION)

    first = await registry.card_for_versions(arns)
    calls = sm.total()
    second = await registry.card_for_versions(arns)

    assert first == second
    assert first[0] is not None
    assert sm.calls["list_model_cards"] >= 1
    assert sm.total() == calls


async def test_card_versions_are_newest_first(sm):
    arns = await make_group(sm, ["Approved"])
    name = unique_name("card")
    await put_card(sm, name, arns[0])
    for status in ("PendingReview", "Approved"):
        await put_card(sm, name, arns[0], status)
    registry = SageMakerRegistry(sm, REGION)

    versions = await registry.card_versions(name)

    assert [(c.version, c.status) for c in versions] == [
        (3, "Approved"),
        (2, "PendingReview"),
        (1, "Draft"),
    ]
    assert await registry.card_versions(unique_name("none")) == []


async def test_a_cards_history_is_read_once_per_cache_seconds(sm):
    arns = await make_group(sm, ["Approved"])
    name = unique_name("card")
    await put_card(sm, name, arns[0])
    registry = SageMakerRegistry(sm, REGION, cache_seconds=0.5)

    first = await registry.card_versions(name)
    calls = sm.total()
    assert await registry.card_versions(name) == first
    assert sm.total() == calls  # the same history, no call
    await put_card(sm, name, arns[0], "Approved")
    await asyncio.sleep(0.6)

    assert [c.version for c in await registry.card_versions(name)] == [2, 1]
