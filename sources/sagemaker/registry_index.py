"""Whole-account reads behind SageMakerRegistry's cached indexes: deployments and model cards.

Neither can be asked for by model version: SageMaker has no "endpoints serving
this package" or "cards of this package" call. So each is read whole (a fixed
number of calls per endpoint or card, none per version asked about) and kept
for a few seconds by the adapter.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from sources.errors import (
    NotFoundError,
    UpstreamError,
    UpstreamThrottledError,
    UpstreamTimeoutError,
)
from sources.models.model import DeploymentInfo
from sources.resilience.breaker import CircuitOpenError
from sources.sagemaker.concurrency import gather_limited
from sources.sagemaker.registry import (
    ModelFacts,
    SageMakerCard,
    card_from_description,
    data_url_of_model,
    deployments_of_endpoint,
    environment_from_tags,
    latest_card_per_package,
    package_arn_of_model,
    tag_map,
)

log = logging.getLogger("mlmeta.sources.sagemaker")

MAX_FOLLOWED_PAGES = 50
"""Bounds paging through a list call, should a token never end."""


class Call(Protocol):
    """SageMakerRegistry._call: one API call, errors translated to our tree."""

    async def __call__(self, operation: str, /, **params: Any) -> dict[str, Any]: ...


async def all_pages(call: Call, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for _ in range(MAX_FOLLOWED_PAGES):
        page = await call(operation, **params)
        items += page.get(key) or []
        if not page.get("NextToken"):
            break
        params["NextToken"] = page["NextToken"]
    return items


async def optional(call: Call, operation: str, **params: Any) -> dict[str, Any] | None:
    """The response, or None when the resource is gone (deleted between list and describe)."""
    try:
        return await call(operation, **params)
    except NotFoundError:
        return None


async def tags_of(call: Call, arn: str) -> dict[str, str]:
    """The resource's tags; none when they cannot be read.

    Tags only add facts (environment, package), so a resource whose tags the
    upstream will not list (a fake without the API, a missing permission) is
    still shown. Throttling, timeouts and an open circuit are not swallowed:
    they would turn into facts missing for the whole cache period.
    """
    try:
        pages = await all_pages(call, "list_tags", "Tags", ResourceArn=arn, MaxResults=100)
    except (UpstreamThrottledError, UpstreamTimeoutError, CircuitOpenError):
        raise
    except (NotFoundError, UpstreamError) as exc:
        log.debug("no tags for %s: %s", arn, exc.message)
        return {}
    return tag_map(pages)


# ---- deployments ---------------------------------------------------------------------------


async def load_deployments(call: Call, limit: int) -> list[DeploymentInfo]:
    """Every production variant of every endpoint, with the model version it serves.

    ListEndpoints (all pages), then DescribeEndpoint and ListTags per endpoint,
    DescribeEndpointConfig per distinct config and DescribeModel per distinct
    model (ListTags on a model only when no container names its package), each
    stage at most ``limit`` calls in flight.
    """
    listed = await all_pages(call, "list_endpoints", "Endpoints", MaxResults=100)
    arns = {e["EndpointName"]: e["EndpointArn"] for e in listed}

    async def endpoint(name: str) -> tuple[dict[str, Any], str | None] | None:
        described = await optional(call, "describe_endpoint", EndpointName=name)
        if described is None:
            return None
        return described, environment_from_tags(await tags_of(call, arns[name]))

    endpoints = {
        name: found
        for name, found in (await gather_limited(arns, endpoint, limit=limit)).items()
        if found is not None
    }
    config_names = [e["EndpointConfigName"] for e, _ in endpoints.values()]
    configs = await gather_limited(
        config_names,
        lambda name: optional(call, "describe_endpoint_config", EndpointConfigName=name),
        limit=limit,
    )
    model_names = [
        variant["ModelName"]
        for config in configs.values()
        if config is not None
        for variant in config.get("ProductionVariants") or []
        if variant.get("ModelName")
    ]

    async def model(name: str) -> ModelFacts:
        described = await optional(call, "describe_model", ModelName=name)
        if described is None:
            return ModelFacts(None, None)
        package = package_arn_of_model(described, {})
        if package is None and described.get("ModelArn"):
            package = package_arn_of_model(described, await tags_of(call, described["ModelArn"]))
        return ModelFacts(package, data_url_of_model(described))

    models = await gather_limited(model_names, model, limit=limit)
    deployments: list[DeploymentInfo] = []
    for name in sorted(endpoints):
        described, environment = endpoints[name]
        config = configs.get(described["EndpointConfigName"])
        if config is not None:
            deployments += deployments_of_endpoint(described, config, models, environment)
    return deployments


# ---- model cards ---------------------------------------------------------------------------


async def load_card_index(call: Call, limit: int) -> dict[str, SageMakerCard]:
    """Lower-cased package ARN -> the most recently modified card documenting it.

    ListModelCards (all pages), then DescribeModelCard (latest version) per card.
    """
    listed = await all_pages(call, "list_model_cards", "ModelCardSummaries", MaxResults=100)
    modified = {s["ModelCardName"]: s.get("LastModifiedTime") for s in listed}
    described = await gather_limited(
        modified,
        lambda name: optional(call, "describe_model_card", ModelCardName=name),
        limit=limit,
    )
    return latest_card_per_package(
        card_from_description(response, modified[name])
        for name, response in described.items()
        if response is not None
    )


async def load_card_versions(call: Call, name: str, limit: int) -> list[SageMakerCard]:
    """Every version of one card, newest first; none for a card that does not exist."""
    try:
        listed = await all_pages(
            call,
            "list_model_card_versions",
            "ModelCardVersionSummaryList",
            ModelCardName=name,
            SortBy="Version",
            SortOrder="Descending",
            MaxResults=100,
        )
    except NotFoundError:
        return []
    modified = {int(s["ModelCardVersion"]): s.get("LastModifiedTime") for s in listed}
    described = await gather_limited(
        modified,
        lambda version: optional(
            call, "describe_model_card", ModelCardName=name, ModelCardVersion=version
        ),
        limit=limit,
    )
    cards = [
        card_from_description(response, modified[version])
        for version, response in described.items()
        if response is not None
    ]
    return sorted(cards, key=lambda card: card.version, reverse=True)
