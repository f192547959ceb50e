"""SageMakerRegistry: models, versions, deployments and model cards.

Two fakes, each for what it can show:

- the session's moto server: groups, packages, endpoints, models and cards,
  with names unique to each test (the demo's data lives in the same server).
  moto has no BatchDescribeModelPackage (it answers HTTP 500), which is how
  the per-ARN fallback is tested.
- botocore's Stubber: BatchDescribeModelPackage itself, and exact paging
  requests, including an upstream that ignores MaxResults and sorting.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import Stubber

from sources.aws import AwsSettings, open_client
from sources.errors import InputError
from sources.models.model import ApprovalStatus
from sources.sagemaker.registry_source import SageMakerRegistry
from tests.support.aws_calls import CountingClient

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/mlmeta-test"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
APPROVED = ApprovalStatus.APPROVED
PENDING = ApprovalStatus.PENDING_MANUAL_APPROVAL
REJECTED = ApprovalStatus.REJECTED


def _settings(endpoint: str) -> AwsSettings:
    return AwsSettings(REGION, endpoint, timeout_seconds=5, max_attempts=1)


def _unique(prefix: str) -> str:
    return f"t{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def sm(moto_endpoint: str) -> AsyncIterator[CountingClient]:
    async with AsyncExitStack() as stack:
        yield CountingClient(await open_client(stack, "sagemaker", _settings(moto_endpoint)))


def _url(group: str, number: int) -> str:
    return f"s3://mlmeta-test-artifacts/{group}/v{number}/model.tar.gz"


async def _make_group(sm: Any, statuses: list[str], name: str | None = None) -> list[str]:
    """A group with one version per status (version 1 first); their ARNs."""
    group = name or _unique("model")
    await sm.create_model_package_group(
        ModelPackageGroupName=group, ModelPackageGroupDescription=f"{group} for tests"
    )
    arns = []
    for number, status in enumerate(statuses, start=1):
        made = await sm.create_model_package(
            ModelPackageGroupName=group,
            ModelPackageDescription=f"version {number}",
            ModelApprovalStatus=status,
            InferenceSpecification={
                "Containers": [{"Image": IMAGE, "ModelDataUrl": _url(group, number)}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            MetadataProperties={"GeneratedBy": f"arn:run/{group}/{number}"},
            ModelMetrics={
                "ModelQuality": {
                    "Statistics": {"ContentType": "application/json", "S3Uri": f"s3://q/{number}"}
                },
                "Bias": {
                    "Report": {"ContentType": "application/json", "S3Uri": f"s3://b/{number}"}
                },
            },
            CustomerMetadataProperties={"roc_auc": "0.91", "mlmeta:run": "r1"},
        )
        arns.append(made["ModelPackageArn"])
    sm.calls.clear()
    return arns


# ---- models --------------------------------------------------------------------------------


async def test_groups_are_described_by_name_or_arn_and_missing_ones_are_none(sm):
    group = _unique("model")
    await _make_group(sm, ["Approved"], group)
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
    prefix = _unique("paged")
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
    arns = await _make_group(sm, ["Approved", "Rejected", "PendingManualApproval"])
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
    arns = await _make_group(sm, ["Approved", "Rejected", "Approved", "PendingManualApproval"])
    registry = SageMakerRegistry(sm, REGION)

    page = await registry.list_versions(arns[0].split("/")[1], status=APPROVED)

    assert [v.version for v in page.items] == [3, 1]
    assert page.next_token is None


async def test_latest_version_of_a_status_takes_one_call(sm):
    arns = await _make_group(sm, ["Approved", "PendingManualApproval", "Rejected"])
    group = arns[0].split("/")[1]
    registry = SageMakerRegistry(sm, REGION)

    approved = await registry.latest_version(group, APPROVED)
    latest = await registry.latest_version(group, None)
    missing = await registry.latest_version(_unique("none"), APPROVED)

    assert approved is not None
    assert approved.version == 1
    assert latest is not None
    assert (latest.version, latest.status) == (3, REJECTED)
    assert missing is None
    assert sm.calls == {"list_model_packages": 3}


async def test_versions_by_arns_falls_back_to_describe_when_batch_is_missing(sm):
    arns = await _make_group(sm, ["Approved", "Rejected"])
    missing = arns[0].rsplit("/", 1)[0] + "/99"
    registry = SageMakerRegistry(sm, REGION)

    found = await registry.versions_by_arns([arns[1], missing, "not-an-arn", arns[0], arns[1]])
    again = await registry.versions_by_arns(arns)

    assert [v.version if v else None for v in found] == [2, None, None, 1, 2]
    assert found[0] is not None
    assert found[0].artifact_uri == _url(arns[0].split("/")[1], 2)
    assert [v.version if v else None for v in again] == [1, 2]
    # moto answers the one batch call with HTTP 500; from then on only describes.
    assert sm.calls == {"batch_describe_model_package": 1, "describe_model_package": 5}


async def test_version_details_carry_metadata_metrics_and_artifact(sm):
    arns = await _make_group(sm, ["Approved"])
    group = arns[0].split("/")[1]

    detail, missing = await SageMakerRegistry(sm, REGION).version_details([arns[0], arns[0] + "9"])

    assert missing is None
    assert detail is not None
    assert (detail.group, detail.version) == (group, 1)
    assert detail.artifact_uri == _url(group, 1)
    assert detail.generated_by == f"arn:run/{group}/1"
    assert detail.model_metrics == {
        "ModelQuality.Statistics": "s3://q/1",
        "Bias.Report": "s3://b/1",
    }
    assert detail.metrics == {"roc_auc": 0.91}


async def test_versions_of_twenty_models_take_one_list_call_each(sm):
    groups = [await _make_group(sm, ["Approved", "Rejected", "Approved"]) for _ in range(20)]
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


async def _endpoint(sm: Any, name: str, models: list[str], tags: dict[str, str]) -> None:
    variants = [
        {
            "VariantName": f"v{index}",
            "ModelName": model,
            "InitialInstanceCount": 1,
            "InstanceType": "ml.m5.large",
        }
        for index, model in enumerate(models)
    ]
    await sm.create_endpoint_config(
        EndpointConfigName=f"{name}-config", ProductionVariants=variants
    )
    await sm.create_endpoint(
        EndpointName=name,
        EndpointConfigName=f"{name}-config",
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )


@pytest.fixture
async def served(sm) -> dict[str, Any]:
    """Versions 1-3 of a group; v1 served from its package and v2 from its artefact URL
    (endpoint ``<x>-a``, tagged stage=staging), v3 by a model tagged with its ARN
    (endpoint ``<x>-b``, environment=production); v4 is served nowhere."""
    arns = await _make_group(sm, ["Approved"] * 4)
    group, prefix = arns[0].split("/")[1], _unique("ep")
    await sm.create_model(
        ModelName=f"{prefix}-pkg",
        PrimaryContainer={"ModelPackageName": arns[0]},
        ExecutionRoleArn=ROLE,
    )
    await sm.create_model(
        ModelName=f"{prefix}-url",
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": _url(group, 2)},
        ExecutionRoleArn=ROLE,
    )
    await sm.create_model(
        ModelName=f"{prefix}-tag",
        Containers=[{"Image": IMAGE, "ModelDataUrl": "s3://elsewhere/model.tar.gz"}],
        ExecutionRoleArn=ROLE,
        Tags=[{"Key": "model-package-arn", "Value": arns[2]}],
    )
    await _endpoint(sm, f"{prefix}-a", [f"{prefix}-pkg", f"{prefix}-url"], {"Stage": "staging"})
    await _endpoint(sm, f"{prefix}-b", [f"{prefix}-tag"], {"environment": "production"})
    sm.calls.clear()
    return {"arns": arns, "group": group, "prefix": prefix}


async def test_deployments_are_matched_by_package_arn_or_artifact_url(sm, served):
    arns, group, prefix = served["arns"], served["group"], served["prefix"]
    versions = [(arn, _url(group, n)) for n, arn in enumerate(arns, start=1)]

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


def _content(name: str, package: str) -> str:
    return json.dumps(
        {
            "model_overview": {"model_description": name},
            "model_package_details": {"model_package_arn": package},
        }
    )


async def _card(sm: Any, name: str, package: str, status: str | None = None) -> None:
    """Create the card, or (``status`` given) update it; moto, unlike AWS, drops the
    content of an update that carries none, so it is always sent."""
    if status is None:
        await sm.create_model_card(
            ModelCardName=name, Content=_content(name, package), ModelCardStatus="Draft"
        )
    else:
        await sm.update_model_card(
            ModelCardName=name, Content=_content(name, package), ModelCardStatus=status
        )
    await asyncio.sleep(0.01)  # distinct modification times at moto's millisecond resolution


async def test_a_versions_card_is_its_most_recently_modified(sm):
    arns = await _make_group(sm, ["Approved", "Approved"])
    older, newer = _unique("card"), _unique("card")
    await _card(sm, older, arns[0])
    await _card(sm, newer, arns[0])
    registry = SageMakerRegistry(sm, REGION, cache_seconds=0)

    before, unknown, second = await registry.card_for_versions([arns[0].upper(), "x", arns[1]])
    await _card(sm, older, arns[0], "Approved")
    [after] = await registry.card_for_versions([arns[0]])

    assert (unknown, second) == (None, None)
    assert before is not None
    assert before.name == newer
    assert after is not None
    assert (after.name, after.version, after.status) == (older, 2, "Approved")
    assert after.content["model_overview"] == {"model_description": older}
    assert after.updated_at > after.created_at


async def test_card_index_is_cached_within_its_ttl(sm):
    arns = await _make_group(sm, ["Approved"])
    await _card(sm, _unique("card"), arns[0])
    registry = SageMakerRegistry(sm, REGION)

    first = await registry.card_for_versions(arns)
    calls = sm.total()
    second = await registry.card_for_versions(arns)

    assert first == second
    assert first[0] is not None
    assert sm.calls["list_model_cards"] >= 1
    assert sm.total() == calls


async def test_card_versions_are_newest_first(sm):
    arns = await _make_group(sm, ["Approved"])
    name = _unique("card")
    await _card(sm, name, arns[0])
    for status in ("PendingReview", "Approved"):
        await _card(sm, name, arns[0], status)
    registry = SageMakerRegistry(sm, REGION)

    versions = await registry.card_versions(name)

    assert [(c.version, c.status) for c in versions] == [
        (3, "Approved"),
        (2, "PendingReview"),
        (1, "Draft"),
    ]
    assert await registry.card_versions(_unique("none")) == []


# ---- Stubber: BatchDescribeModelPackage and exact paging --------------------------------------


@pytest.fixture
async def stubbed() -> AsyncIterator[tuple[SageMakerRegistry, Stubber, CountingClient]]:
    """A registry whose client is answered by a Stubber: no request leaves the process."""
    async with AsyncExitStack() as stack:
        client = await open_client(stack, "sagemaker", _settings("http://127.0.0.1:9"))
        with Stubber(client) as stubber:
            counting = CountingClient(client)
            yield SageMakerRegistry(counting, REGION), stubber, counting
            stubber.assert_no_pending_responses()


def _at(minute: int) -> datetime:
    return datetime(2026, 11, 16, 10, tzinfo=UTC) + timedelta(minutes=minute)


def _arn(group: str, number: int) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{group}/{number}"


def _summary(group: str, number: int, status: str = "Approved") -> dict[str, Any]:
    return {
        "ModelPackageGroupName": group,
        "ModelPackageVersion": number,
        "ModelPackageArn": _arn(group, number),
        "CreationTime": _at(number),
        "ModelPackageStatus": "Completed",
        "ModelApprovalStatus": status,
    }


def _batch_summary(group: str, number: int) -> dict[str, Any]:
    return _summary(group, number) | {
        "InferenceSpecification": {
            "Containers": [{"Image": IMAGE, "ModelDataUrl": _url(group, number)}]
        }
    }


def _batch_answer(group: str, found: list[int], failed: list[int]) -> dict[str, Any]:
    error = {"ErrorCode": "ValidationException", "ErrorResponse": "Model package not found"}
    return {
        "ModelPackageSummaries": {_arn(group, n): _batch_summary(group, n) for n in found},
        "BatchDescribeModelPackageErrorMap": {_arn(group, n): error for n in failed},
    }


async def test_batch_describe_maps_summaries_and_errors(stubbed):
    registry, stubber, client = stubbed
    asked = [_arn("churn", 2), _arn("churn", 9), _arn("churn", 1)]
    stubber.add_response(
        "batch_describe_model_package",
        _batch_answer("churn", [1, 2], [9]),
        {"ModelPackageArnList": asked},
    )

    found = await registry.versions_by_arns([*asked, "churn/1", asked[0]])

    assert [v.version if v else None for v in found] == [2, None, 1, None, 2]
    assert found[0] is not None
    assert found[0].artifact_uri == _url("churn", 2)
    assert client.calls == {"batch_describe_model_package": 1}


async def test_batch_describe_takes_a_hundred_arns_a_call(stubbed):
    registry, stubber, client = stubbed
    for start, end in ((1, 101), (101, 151)):
        numbers = list(range(start, end))
        stubber.add_response(
            "batch_describe_model_package",
            _batch_answer("churn", numbers, []),
            {"ModelPackageArnList": [_arn("churn", n) for n in numbers]},
        )

    found = await registry.versions_by_arns([_arn("churn", n) for n in range(1, 151)])

    assert [v.version if v else None for v in found] == list(range(1, 151))
    assert client.calls == {"batch_describe_model_package": 2}


async def test_twenty_models_cost_twenty_lists_and_one_batch(stubbed):
    registry, stubber, client = stubbed
    groups = [f"model-{i}" for i in range(20)]
    for group in groups:
        summaries = [_summary(group, n) for n in (3, 2, 1)]
        request = {
            "ModelPackageGroupName": group,
            "SortBy": "CreationTime",
            "SortOrder": "Descending",
            "MaxResults": 20,
        }
        stubber.add_response("list_model_packages", {"ModelPackageSummaryList": summaries}, request)
    arns = [_arn(g, n) for g in groups for n in (3, 2, 1)]
    answer = {"ModelPackageSummaries": {}, "BatchDescribeModelPackageErrorMap": {}}
    for group in groups:
        answer["ModelPackageSummaries"] |= _batch_answer(group, [3, 2, 1], [])[
            "ModelPackageSummaries"
        ]
    stubber.add_response("batch_describe_model_package", answer, {"ModelPackageArnList": arns})

    pages = [await registry.list_versions(g) for g in groups]
    found = await registry.versions_by_arns([v.arn for p in pages for v in p.items])

    assert all(v is not None for v in found)
    assert client.calls == {"list_model_packages": 20, "batch_describe_model_package": 1}


async def test_an_unknown_batch_operation_falls_back_once_for_good(stubbed):
    registry, stubber, client = stubbed
    stubber.add_client_error(
        "batch_describe_model_package",
        service_error_code="UnknownOperationException",
        http_status_code=400,
    )
    described = _batch_summary("churn", 1) | {
        "ModelPackageName": "churn",
        "ModelPackageStatusDetails": {"ValidationStatuses": []},
    }
    for _ in range(2):
        stubber.add_response(
            "describe_model_package", described, {"ModelPackageName": _arn("churn", 1)}
        )

    first = await registry.versions_by_arns([_arn("churn", 1)])
    second = await registry.versions_by_arns([_arn("churn", 1)])

    assert first == second
    assert first[0] is not None
    assert client.calls == {"batch_describe_model_package": 1, "describe_model_package": 2}


def _list_request(size: int, token: str | None = None, status: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "ModelPackageGroupName": "churn",
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
        "MaxResults": size,
    }
    if status:
        request["ModelApprovalStatus"] = status
    if token:
        request["NextToken"] = token
    return request


async def test_pages_follow_upstream_tokens(stubbed):
    registry, stubber, _ = stubbed
    first = {"ModelPackageSummaryList": [_summary("churn", 4), _summary("churn", 3)]}
    stubber.add_response("list_model_packages", first | {"NextToken": "t-2"}, _list_request(2))
    second = {"ModelPackageSummaryList": [_summary("churn", 2), _summary("churn", 1)]}
    stubber.add_response("list_model_packages", second, _list_request(2, "t-2"))

    one = await registry.list_versions("churn", max_results=2)
    two = await registry.list_versions("churn", max_results=2, next_token=one.next_token)

    assert [v.version for v in one.items + two.items] == [4, 3, 2, 1]
    assert two.next_token is None


async def test_pages_are_right_when_upstream_ignores_max_results_and_sorting(stubbed):
    registry, stubber, _ = stubbed
    # Everything at once, oldest first: what an upstream ignoring both would send.
    everything = {"ModelPackageSummaryList": [_summary("churn", n) for n in range(1, 6)]}
    for _ in range(3):
        stubber.add_response("list_model_packages", everything, _list_request(2))

    pages, token = [], None
    for _ in range(3):
        page = await registry.list_versions("churn", max_results=2, next_token=token)
        pages.append([v.version for v in page.items])
        token = page.next_token

    assert pages == [[5, 4], [3, 2], [1]]
    assert token is None


async def test_latest_version_asks_for_one_version_of_the_status(stubbed):
    registry, stubber, _ = stubbed
    answer = {"ModelPackageSummaryList": [_summary("churn", 3, "Approved")]}
    stubber.add_response("list_model_packages", answer, _list_request(1, status="Approved"))

    latest = await registry.latest_version("churn", APPROVED)

    assert latest is not None
    assert (latest.version, latest.status) == (3, APPROVED)


async def test_a_foreign_token_is_an_input_error(stubbed):
    registry, _, _ = stubbed

    with pytest.raises(InputError):
        await registry.list_versions("churn", next_token="not-a-token")
