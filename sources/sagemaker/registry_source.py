"""SageMaker model registry adapter: models, versions, deployments and model cards.

Shares the process's aiobotocore SageMaker client with SageMakerSource. Every
method is batch-shaped, so a loader asks once for all the keys of a request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from sources.aws import translate
from sources.errors import InputError, NotFoundError
from sources.models.model import (
    SAGEMAKER_APPROVAL,
    Approval,
    ApprovalStatus,
    DeploymentInfo,
    ModelInfo,
    ModelPage,
    VersionDetail,
    VersionPage,
    VersionSummary,
)
from sources.sagemaker.concurrency import SharedAnswers, TtlCache, gather_limited
from sources.sagemaker.pipelines import PageToken
from sources.sagemaker.registry import (
    PACKAGE_ARN,
    SageMakerCard,
    approval_from_package,
    deployments_serving,
    detail_from_package,
    group_region_and_name,
    model_from_group,
    newest_first,
    version_from_package,
)
from sources.sagemaker.registry_index import (
    load_card_index,
    load_card_versions,
    load_deployments,
)

log = logging.getLogger("mlmeta.sources.sagemaker")

T = TypeVar("T")

MAX_PAGE_SIZE = 100
"""The largest MaxResults the SageMaker list APIs take."""
MAX_SCANNED_PAGES = 5
"""Upstream pages one page of ours reads at most (short upstream pages are topped up)."""
MAX_CONCURRENT_DESCRIBES = 8
"""Describe calls one method has in flight at most."""
BATCH_DESCRIBE_SIZE = 100
"""The most ARNs BatchDescribeModelPackage takes in one call."""
DEFAULT_CACHE_SECONDS = 30.0
UNIMPLEMENTED_CODES = frozenset(
    {"UnknownOperationException", "UnknownOperation", "InvalidAction", "NotImplemented"}
)


class _BatchUnsupported(Exception):
    """The endpoint does not know BatchDescribeModelPackage (moto does not)."""


class SageMakerRegistry:
    """Model package groups (models), packages (versions), endpoints and model cards.

    The deployment and card indexes are whole-account reads kept for
    ``cache_seconds`` and shared by every request: they hold nothing
    principal-specific. So is each card's version history (a card's latest
    version comes from the index, as old as it). Create one adapter per process,
    in the lifespan.
    """

    name = "sagemaker"

    def __init__(
        self,
        client: Any,
        region: str = "us-east-1",
        *,
        cache_seconds: float = DEFAULT_CACHE_SECONDS,
        max_stale_seconds: float = 0.0,
    ) -> None:
        """``max_stale_seconds``: how old an index may be when it is served because
        re-reading it failed (0: never served stale)."""
        self._client = client
        self._region = region
        self._batch_describe = True
        limit = MAX_CONCURRENT_DESCRIBES
        self._deployments: TtlCache[list[DeploymentInfo]] = TtlCache(
            lambda: load_deployments(self._call, limit),
            cache_seconds,
            source=self.name,
            max_stale_seconds=max_stale_seconds,
            name="sagemaker_deployments",
        )
        self._cards: TtlCache[dict[str, SageMakerCard]] = TtlCache(
            lambda: load_card_index(self._call, limit),
            cache_seconds,
            source=self.name,
            max_stale_seconds=max_stale_seconds,
            name="sagemaker_cards",
        )
        self._card_versions: SharedAnswers[str, list[SageMakerCard]] = SharedAnswers(
            cache_seconds, name="sagemaker_card_versions"
        )

    # ---- models ----------------------------------------------------------------------------

    async def describe_groups(self, names_or_arns: Sequence[str]) -> list[ModelInfo | None]:
        """DescribeModelPackageGroup per distinct name or ARN, in order; None where missing.

        An ARN must match the group found (account included): another account's
        group of the same name is None, not this account's namesake.
        """

        async def describe(name_or_arn: str) -> ModelInfo | None:
            try:
                model = model_from_group(await self._group_call(name_or_arn))
            except NotFoundError:
                return None
            if group_region_and_name(name_or_arn) and model.arn.lower() != name_or_arn.lower():
                return None
            return model

        found = await gather_limited(names_or_arns, describe, limit=MAX_CONCURRENT_DESCRIBES)
        return [found[key] for key in names_or_arns]

    async def list_groups(self, *, max_results: int, next_token: str | None) -> ModelPage:
        """Models by name; tokens are this adapter's own, opaque to callers."""
        items, token, cursors = await self._page(
            "list_model_package_groups",
            "ModelPackageGroupSummaryList",
            {"SortBy": "Name", "SortOrder": "Ascending"},
            max_results,
            next_token,
            sort_key=lambda s: str(s.get("ModelPackageGroupName", "")),
            convert=model_from_group,
        )
        return ModelPage(items=items, next_token=token, item_cursors=cursors)

    # ---- versions --------------------------------------------------------------------------

    async def list_versions(
        self,
        group: str,
        *,
        status: ApprovalStatus | None = None,
        max_results: int = 20,
        next_token: str | None = None,
    ) -> VersionPage:
        """A group's versions, newest first, optionally of one approval status.

        ``group`` is a group name or ARN; an unknown group has no versions. Each
        upstream page is sorted again here and read from an offset the token
        keeps, so pages are right whether or not the upstream honours SortBy
        and MaxResults.
        """
        items, token, cursors = await self._page(
            "list_model_packages",
            "ModelPackageSummaryList",
            self._versions_request(group, status),
            max_results,
            next_token,
            sort_key=newest_first,
            convert=lambda summary: _with_status(version_from_package(summary), status),
        )
        return VersionPage(items=items, next_token=token, item_cursors=cursors)

    async def latest_version(
        self, group: str, status: ApprovalStatus | None
    ) -> VersionSummary | None:
        """The newest version (of that status), in one ListModelPackages call."""
        page = await self._call(
            "list_model_packages", **self._versions_request(group, status), MaxResults=1
        )
        for summary in sorted(page.get("ModelPackageSummaryList") or [], key=newest_first):
            if version := _with_status(version_from_package(summary), status):
                return version
        return None

    async def versions_by_arns(self, arns: Sequence[str]) -> list[VersionSummary | None]:
        """Summaries with artefact URIs by package ARN, in order; None where missing.

        BatchDescribeModelPackage, 100 ARNs a call. An endpoint without that
        operation (moto) gets DescribeModelPackage per ARN instead, from then on
        for the life of this adapter. Anything but a package ARN is None.
        """
        unique = [arn for arn in dict.fromkeys(arns) if PACKAGE_ARN.match(arn)]
        found: dict[str, VersionSummary | None] = {}
        if unique and self._batch_describe:
            try:
                found = await self._batch_versions(unique)
            except _BatchUnsupported:
                if self._batch_describe:
                    self._batch_describe = False
                    log.info("BatchDescribeModelPackage is not available: describing one by one")
        if unique and not self._batch_describe:

            async def describe(arn: str) -> VersionSummary | None:
                response = await self._describe_package(arn)
                return version_from_package(response) if response else None

            found = await gather_limited(unique, describe, limit=MAX_CONCURRENT_DESCRIBES)
        return [found.get(arn) for arn in arns]

    async def version_details(self, arns: Sequence[str]) -> list[VersionDetail | None]:
        """DescribeModelPackage per distinct ARN, in order; None where missing."""

        async def describe(arn: str) -> VersionDetail | None:
            response = await self._describe_package(arn)
            return detail_from_package(response) if response else None

        found = await gather_limited(arns, describe, limit=MAX_CONCURRENT_DESCRIBES)
        return [found[arn] for arn in arns]

    async def approvals(self, arns: Sequence[str]) -> list[Approval | None]:
        """The review decision on each version, fresh (DescribeModelPackage per ARN)."""

        async def describe(arn: str) -> Approval | None:
            response = await self._describe_package(arn)
            return approval_from_package(response) if response else None

        found = await gather_limited(arns, describe, limit=MAX_CONCURRENT_DESCRIBES)
        return [found[arn] for arn in arns]

    # ---- deployments -----------------------------------------------------------------------

    async def deployments(self) -> list[DeploymentInfo]:
        """Every endpoint variant in the region (cached; see ``registry_index``)."""
        return list(await self._deployments.get())

    async def deployments_for(
        self, versions: Sequence[tuple[str, str | None]]
    ) -> list[list[DeploymentInfo]]:
        """For each (package ARN, artefact URI), the variants serving it: no calls per version."""
        return deployments_serving(await self._deployments.get(), versions)

    # ---- model cards -----------------------------------------------------------------------

    async def card_for_versions(self, package_arns: Sequence[str]) -> list[SageMakerCard | None]:
        """The latest SageMaker model card of each version (cached index), in order."""
        index = await self._cards.get()
        return [index.get(arn.lower()) for arn in package_arns]

    async def card_versions(self, name: str) -> list[SageMakerCard]:
        """Every version of a card, newest first; empty for an unknown card."""
        versions = await self._card_versions.get(
            name, lambda: load_card_versions(self._call, name, MAX_CONCURRENT_DESCRIBES)
        )
        return list(versions)

    # ---- calls -----------------------------------------------------------------------------

    def _versions_request(self, group: str, status: ApprovalStatus | None) -> dict[str, Any]:
        params: dict[str, Any] = {
            "ModelPackageGroupName": group,
            "SortBy": "CreationTime",
            "SortOrder": "Descending",
        }
        if status is not None:
            params["ModelApprovalStatus"] = SAGEMAKER_APPROVAL[status]
        return params

    async def _page(
        self,
        operation: str,
        key: str,
        params: Mapping[str, Any],
        max_results: int,
        next_token: str | None,
        *,
        sort_key: Callable[[dict[str, Any]], Any],
        convert: Callable[[dict[str, Any]], T | None],
    ) -> tuple[list[T], str | None, list[str]]:
        """One page of ``max_results`` converted items (``convert`` None: skipped), the
        token of the next page, and for each item a token resuming right after it.

        The token is an upstream token plus an offset into that upstream page,
        sorted by ``sort_key``: an upstream that ignores MaxResults (and returns
        everything) is read in slices, one that ignores sorting is sorted here.
        """
        if not 1 <= max_results <= MAX_PAGE_SIZE:
            raise InputError(f"max_results must be 1 to {MAX_PAGE_SIZE}", source=self.name)
        token = PageToken.decode(next_token) if next_token else PageToken(None, 0, max_results)
        items: list[T] = []
        cursors: list[str] = []
        for _ in range(MAX_SCANNED_PAGES):
            request = {**params, "MaxResults": token.page_size}
            if token.upstream:
                request["NextToken"] = token.upstream
            page = await self._call(operation, **request)
            rows = sorted(page.get(key) or [], key=sort_key)
            for index in range(token.offset, len(rows)):
                if len(items) == max_results:
                    resume = PageToken(token.upstream, index, token.page_size).encode()
                    return items, resume, cursors
                if (item := convert(rows[index])) is not None:
                    items.append(item)
                    cursors.append(PageToken(token.upstream, index + 1, token.page_size).encode())
            if not page.get("NextToken"):
                return items, None, cursors
            token = PageToken(page["NextToken"], 0, token.page_size)
            if len(items) == max_results:
                break
        return items, token.encode(), cursors

    async def _batch_versions(self, arns: list[str]) -> dict[str, VersionSummary | None]:
        chunks = [
            tuple(arns[i : i + BATCH_DESCRIBE_SIZE])
            for i in range(0, len(arns), BATCH_DESCRIBE_SIZE)
        ]

        async def batch(chunk: tuple[str, ...]) -> dict[str, dict[str, Any]]:
            try:
                response = await self._client.batch_describe_model_package(
                    ModelPackageArnList=list(chunk)
                )
            except ClientError as exc:
                if _unimplemented(exc):
                    raise _BatchUnsupported from exc
                raise translate(exc, self.name) from exc
            except Exception as exc:
                raise translate(exc, self.name) from exc
            # Errors (BatchDescribeModelPackageErrorMap) are simply absent: None.
            summaries = response.get("ModelPackageSummaries") or {}
            return {arn.lower(): summary for arn, summary in summaries.items()}

        found: dict[str, dict[str, Any]] = {}
        for part in (await gather_limited(chunks, batch, limit=MAX_CONCURRENT_DESCRIBES)).values():
            found |= part
        return {
            arn: version_from_package(found[arn.lower()]) if arn.lower() in found else None
            for arn in arns
        }

    async def _describe_package(self, arn: str) -> dict[str, Any] | None:
        try:
            return await self._call("describe_model_package", ModelPackageName=arn)
        except NotFoundError:
            return None

    async def _group_call(self, name_or_arn: str) -> dict[str, Any]:
        """DescribeModelPackageGroup by name or ARN.

        AWS takes either; moto knows groups by name only, so an ARN of this
        client's region that is not found is asked for again by name (the
        caller then checks the ARN found is the one asked for).
        """
        try:
            return await self._call(
                "describe_model_package_group", ModelPackageGroupName=name_or_arn
            )
        except NotFoundError:
            parsed = group_region_and_name(name_or_arn)
            if parsed is None or parsed[0] != self._region:
                raise
            return await self._call("describe_model_package_group", ModelPackageGroupName=parsed[1])

    async def _call(self, operation: str, /, **params: Any) -> dict[str, Any]:
        try:
            response: dict[str, Any] = await getattr(self._client, operation)(**params)
        except Exception as exc:
            raise translate(exc, self.name) from exc
        return response


def _with_status(
    version: VersionSummary | None, status: ApprovalStatus | None
) -> VersionSummary | None:
    """The version if it has ``status`` (checked here too, should the filter be ignored)."""
    if version is None or (status is not None and version.status != status):
        return None
    return version


def _unimplemented(exc: ClientError) -> bool:
    """An answer meaning "no such operation": a known error code, or (moto's way) an
    HTTP 500/501 whose body is not an AWS error document, so its code is the status."""
    error = exc.response.get("Error") or {}
    code = str(error.get("Code", ""))
    status = (exc.response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    return code in UNIMPLEMENTED_CODES or (status in (500, 501) and code == str(status))
