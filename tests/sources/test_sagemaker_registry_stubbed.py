"""SageMakerRegistry against botocore's Stubber: BatchDescribeModelPackage itself,
and exact paging requests, including an upstream that ignores MaxResults and sorting.

The moto-backed behaviour is in ``test_sagemaker_registry.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import Stubber

from sources.aws import open_client
from sources.errors import InputError
from sources.models.model import ApprovalStatus
from sources.sagemaker.registry_source import SageMakerRegistry
from tests.support.aws_calls import CountingClient
from tests.support.sagemaker_registry import (
    ACCOUNT,
    IMAGE,
    REGION,
    artifact_url,
    registry_settings,
)

APPROVED = ApprovalStatus.APPROVED


# ---- Stubber: BatchDescribeModelPackage and exact paging --------------------------------------


@pytest.fixture
async def stubbed() -> AsyncIterator[tuple[SageMakerRegistry, Stubber, CountingClient]]:
    """A registry whose client is answered by a Stubber: no request leaves the process."""
    async with AsyncExitStack() as stack:
        client = await open_client(stack, "sagemaker", registry_settings("http://127.0.0.1:9"))
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
            "Containers": [{"Image": IMAGE, "ModelDataUrl": artifact_url(group, number)}]
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
    assert found[0].artifact_uri == artifact_url("churn", 2)
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
