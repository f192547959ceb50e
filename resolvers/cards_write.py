"""Editing mlmeta's model cards: every save is a new revision, guarded by its base revision."""

from __future__ import annotations

import dataclasses
import enum
import math
from typing import Any

import strawberry
from strawberry.scalars import JSON

from resolvers.cards import ModelCard, ModelCardStatusEnum, prefilled_card
from resolvers.context import Info
from resolvers.datasets import dataset_of_key
from resolvers.ids import decode_id
from resolvers.models import load_version
from sources.cards.imports import import_model_card_toolkit, import_sagemaker
from sources.catalog.ownership import owns_with_owner
from sources.errors import InputError, NotAllowedError, NotFoundError
from sources.metadb.models import ModelCardStatus
from sources.models.model import (
    CardContent,
    CardRecord,
    CardSource,
    DatasetRef,
    EvaluationResult,
    IntendedUse,
    VersionSummary,
)

MAX_ITEMS = 200
MAX_TEXT = 20_000


@strawberry.input(
    description="An edit of a version's mlmeta card. Omitted fields keep their current "
    "value (or the pre-filled one for a new card); a given list replaces the whole list."
)
class ModelCardInput:
    model_version_id: strawberry.ID
    overview: str | None = None
    owners: list[str] | None = None
    license: str | None = None
    references: list[str] | None = None
    intended_use: JSON | None = strawberry.field(
        default=None,
        description="{primaryUses: [String], primaryUsers: [String], outOfScope: [String]}",
    )
    factors: list[str] | None = None
    evaluation: JSON | None = strawberry.field(
        default=None,
        description="[{metric, value, dataset?, slice?, threshold?, passed?}]",
    )
    training_data_ids: list[strawberry.ID] | None = None
    evaluation_data_ids: list[strawberry.ID] | None = None
    quantitative_analyses: list[str] | None = None
    ethical_considerations: list[str] | None = None
    caveats: list[str] | None = None
    status: ModelCardStatusEnum | None = None  # type: ignore[valid-type]
    base_revision: int | None = strawberry.field(
        default=None,
        description="Optimistic concurrency: the revision this edit was based on (0 or "
        "null for a version without an mlmeta card). A stale base is a ConflictError.",
    )


def _text(field: str, value: str | None) -> str | None:
    if value is not None and len(value) > MAX_TEXT:
        raise InputError(f"{field}: at most {MAX_TEXT} characters")
    return value


def _texts(field: str, values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    if len(values) > MAX_ITEMS:
        raise InputError(f"{field}: at most {MAX_ITEMS} items")
    for value in values:
        _text(field, value)
    return [v.strip() for v in values if v.strip()]


def _strings(field: str, raw: Any) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise InputError(f"{field}: expected a list of strings")
    return _texts(field, raw) or []


def parse_intended_use(raw: Any) -> IntendedUse:
    if not isinstance(raw, dict):
        raise InputError("intendedUse: expected an object")
    unknown = set(raw) - {"primaryUses", "primaryUsers", "outOfScope"}
    if unknown:
        raise InputError(f"intendedUse: unknown field(s) {', '.join(sorted(unknown))}")
    return IntendedUse(
        primary_uses=_strings("intendedUse.primaryUses", raw.get("primaryUses")),
        primary_users=_strings("intendedUse.primaryUsers", raw.get("primaryUsers")),
        out_of_scope=_strings("intendedUse.outOfScope", raw.get("outOfScope")),
    )


def _number(field: str, raw: Any, *, required: bool) -> float | None:
    if raw is None and not required:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise InputError(f"{field}: expected a finite number")
    return float(raw)


def _optional_text(field: str, raw: Any) -> str | None:
    if raw is not None and not isinstance(raw, str):
        raise InputError(f"{field}: expected a string")
    return _text(field, raw)


def parse_evaluation(raw: Any) -> list[EvaluationResult]:
    if not isinstance(raw, list) or len(raw) > MAX_ITEMS:
        raise InputError(f"evaluation: expected a list of at most {MAX_ITEMS} results")
    results = []
    allowed = {"metric", "value", "dataset", "slice", "threshold", "passed"}
    for index, item in enumerate(raw):
        where = f"evaluation[{index}]"
        if not isinstance(item, dict):
            raise InputError(f"{where}: expected an object")
        if unknown := set(item) - allowed:
            raise InputError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        metric = item.get("metric")
        if not isinstance(metric, str) or not metric.strip():
            raise InputError(f"{where}.metric: expected a non-empty string")
        passed = item.get("passed")
        if passed is not None and not isinstance(passed, bool):
            raise InputError(f"{where}.passed: expected true, false or null")
        results.append(
            EvaluationResult(
                metric=metric.strip(),
                value=_number(f"{where}.value", item.get("value"), required=True) or 0.0,
                dataset=_optional_text(f"{where}.dataset", item.get("dataset")),
                slice=_optional_text(f"{where}.slice", item.get("slice")),
                threshold=_number(f"{where}.threshold", item.get("threshold"), required=False),
                passed=passed,
            )
        )
    return results


def _datasets(field: str, ids: list[strawberry.ID] | None) -> list[DatasetRef] | None:
    if ids is None:
        return None
    if len(ids) > MAX_ITEMS:
        raise InputError(f"{field}: at most {MAX_ITEMS} ids")
    refs = []
    for global_id in ids:
        type_name, key = decode_id(global_id)
        if type_name != "Dataset":
            raise InputError(f"{field}: {global_id!r} is not the id of a Dataset")
        refs.append(dataset_of_key(key))
    return refs


def apply_edit(base: CardContent, edit: ModelCardInput) -> CardContent:
    """The base content with every given field replaced (InputError on a malformed one)."""
    changes: dict[str, Any] = {
        "overview": _text("overview", edit.overview),
        "owners": _texts("owners", edit.owners),
        "license": _text("license", edit.license),
        "references": _texts("references", edit.references),
        "factors": _texts("factors", edit.factors),
        "quantitative_analyses": _texts("quantitativeAnalyses", edit.quantitative_analyses),
        "ethical_considerations": _texts("ethicalConsiderations", edit.ethical_considerations),
        "caveats": _texts("caveats", edit.caveats),
        "training_data": _datasets("trainingDataIds", edit.training_data_ids),
        "evaluation_data": _datasets("evaluationDataIds", edit.evaluation_data_ids),
    }
    if edit.intended_use is not None:
        changes["intended_use"] = parse_intended_use(edit.intended_use)
    if edit.evaluation is not None:
        changes["evaluation"] = parse_evaluation(edit.evaluation)
    return dataclasses.replace(base, **{k: v for k, v in changes.items() if v is not None})


async def check_can_edit(info: Info, group: str) -> None:
    """A writing service token, or a user owning the model's catalog entity."""
    principal = info.context.principal
    if principal.can_write:
        return
    claimed = await info.context.loaders.model_entity_by_group.load(group)
    if claimed is None or not owns_with_owner(principal, claimed.ref, claimed.owner):
        raise NotAllowedError(
            "editing a model card needs a service token allowed to write, or a user who "
            "owns the model's catalog entity"
        )


@strawberry.enum(description="A model card format mlmeta reads.")
class CardFormat(enum.Enum):
    SAGEMAKER = "SAGEMAKER"
    MODEL_CARD_TOOLKIT = "MODEL_CARD_TOOLKIT"


@strawberry.input(description="A card written in another tool, to save as a new mlmeta revision.")
class ImportModelCardInput:
    model_version_id: strawberry.ID
    format: CardFormat
    content: JSON = strawberry.field(
        description="SageMaker model card content, or Google Model Card Toolkit JSON (0.0.2)."
    )
    status: ModelCardStatusEnum | None = None  # type: ignore[valid-type]
    base_revision: int | None = strawberry.field(
        default=None, description="As in upsertModelCard: the revision this replaces."
    )


async def _editable_version(info: Info, model_version_id: str) -> VersionSummary:
    """The version behind an id, once the caller is known to may edit its card."""
    type_name, arn = decode_id(model_version_id)
    if type_name != "ModelVersion":
        raise InputError(f"{model_version_id!r} is not the id of a ModelVersion")
    version = await load_version(info, arn)
    if version is None:
        raise NotFoundError(f"no model version {model_version_id!r}")
    await check_can_edit(info, version.summary.group)
    return version.summary


async def _current(info: Info, arn: str) -> CardRecord | None:
    cards = await info.context.loaders.cards_by_version.load(arn)
    return next((c for c in cards if c.source is CardSource.MLMETA), None)


@strawberry.type
class CardMutation:
    @strawberry.mutation(
        description="Save a new revision of a version's mlmeta card. Needs the model's "
        "owner or a writing service token; a stale baseRevision is a ConflictError and "
        "nothing is written."
    )
    async def upsert_model_card(self, info: Info, input: ModelCardInput) -> ModelCard | None:
        version = await _editable_version(info, input.model_version_id)
        current = await _current(info, version.arn)
        base = current or await prefilled_card(info, version)
        content = apply_edit(base.content, input)
        status = input.status or (current.status if current else ModelCardStatus.DRAFT)
        saved = await info.context.resources.cards.save(
            version.arn,
            base_revision=input.base_revision,
            content=content,
            status=status,
            updated_by=info.context.principal.subject,
        )
        return ModelCard.of(saved, version)

    @strawberry.mutation(
        description="Save a card written in SageMaker or the Model Card Toolkit as a new "
        "revision of the version's mlmeta card (the whole content is replaced). The content "
        "is checked against the format's schema first (SageMaker's model card content "
        "schema; Model Card Toolkit 0.0.2): an unknown key, a value of the wrong type, or "
        "content holding nothing mlmeta keeps is an InputError naming the key, and nothing "
        "is stored. Same access and baseRevision rules as upsertModelCard."
    )
    async def import_model_card(self, info: Info, input: ImportModelCardInput) -> ModelCard | None:
        version = await _editable_version(info, input.model_version_id)
        if not isinstance(input.content, dict):
            raise InputError("content: expected a JSON object")
        if input.format is CardFormat.SAGEMAKER:
            content = import_sagemaker(input.content)
        else:
            content = import_model_card_toolkit(input.content)
        current = await _current(info, version.arn)
        status = input.status or (current.status if current else ModelCardStatus.DRAFT)
        saved = await info.context.resources.cards.save(
            version.arn,
            base_revision=input.base_revision,
            content=content,
            status=status,
            updated_by=info.context.principal.subject,
        )
        return ModelCard.of(saved, version)
