"""Model cards: from mlmeta or SageMaker, pre-filled when none exists, rendered, exported."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON

from gateway.partial_results import answer
from resolvers.context import Info
from resolvers.datasets import Dataset
from resolvers.ids import encode_id
from resolvers.node import Node, keys, register_node
from sources.cards.completeness import empty_sections
from sources.cards.markdown import render_markdown
from sources.cards.sagemaker import content_to_sagemaker
from sources.cards.toolkit import to_model_card_toolkit
from sources.metadb.models import ModelCardStatus
from sources.models.cards import card_in_force, card_key
from sources.models.model import (
    SAGEMAKER_APPROVAL,
    CardRecord,
    CardSource,
    DatasetRef,
    VersionSummary,
)
from sources.models.prefill import KnownFacts, prefilled_content

if TYPE_CHECKING:
    from resolvers.models import ModelVersion

ModelCardStatusEnum = strawberry.enum(
    ModelCardStatus,
    name="ModelCardStatus",
    description="Review state: DRAFT -> PENDING_REVIEW -> APPROVED -> ARCHIVED.",
)


@strawberry.type(description="Who the model is for, and what it must not be used for.")
class IntendedUse:
    primary_uses: list[str]
    primary_users: list[str]
    out_of_scope: list[str]


@strawberry.type(description="One evaluation result: a metric on a dataset (or a slice of it).")
class EvaluationResult:
    metric: str
    value: float
    dataset: str | None
    slice: str | None = strawberry.field(description="e.g. 'country=DE'")
    threshold: float | None
    passed: bool | None


@strawberry.type(
    description="A model card: sections after 'Model Cards for Model Reporting' "
    "(Mitchell et al., 2019).",
    directives=keys(),
)
class ModelCard(Node):
    source: str = strawberry.field(
        description="'mlmeta' or 'sagemaker': where this card lives. The two are never merged."
    )
    name: str | None = strawberry.field(description="The SageMaker model card name.")
    revision: int = strawberry.field(
        description="Every update is a new revision; old ones stay readable. 0: a draft "
        "pre-filled by mlmeta, not saved yet."
    )
    saved: bool = strawberry.field(description="False for the pre-filled draft (revision 0).")
    updated_at: datetime
    updated_by: str | None
    status: ModelCardStatusEnum  # type: ignore[valid-type]
    overview: str | None
    owners: list[str]
    license: str | None
    references: list[str]
    intended_use: IntendedUse | None
    factors: list[str]
    evaluation: list[EvaluationResult]
    training_data: list[Dataset]
    evaluation_data: list[Dataset]
    quantitative_analyses: list[str]
    ethical_considerations: list[str]
    caveats: list[str]
    completeness: list[str] = strawberry.field(
        description="Sections still empty, e.g. ['intendedUse', 'caveats']."
    )
    card: strawberry.Private[CardRecord]
    version: strawberry.Private[VersionSummary]

    @staticmethod
    def of(card: CardRecord, version: VersionSummary) -> ModelCard:
        content = card.content
        use = content.intended_use
        return ModelCard(
            id=strawberry.ID(encode_id("ModelCard", card_key(card))),
            source=str(card.source),
            name=card.name,
            revision=card.revision,
            saved=card.revision > 0,
            updated_at=card.updated_at,
            updated_by=card.updated_by,
            status=card.status,
            overview=content.overview,
            owners=list(content.owners),
            license=content.license,
            references=list(content.references),
            intended_use=IntendedUse(
                primary_uses=list(use.primary_uses),
                primary_users=list(use.primary_users),
                out_of_scope=list(use.out_of_scope),
            )
            if use
            else None,
            factors=list(content.factors),
            evaluation=[
                EvaluationResult(
                    metric=e.metric,
                    value=e.value,
                    dataset=e.dataset,
                    slice=e.slice,
                    threshold=e.threshold,
                    passed=e.passed,
                )
                for e in content.evaluation
            ],
            training_data=[Dataset.of(d) for d in content.training_data],
            evaluation_data=[Dataset.of(d) for d in content.evaluation_data],
            quantitative_analyses=list(content.quantitative_analyses),
            ethical_considerations=list(content.ethical_considerations),
            caveats=list(content.caveats),
            completeness=empty_sections(content),
            card=card,
            version=version,
        )

    @strawberry.field(description="The version this card describes.")
    def model_version(self) -> Annotated[ModelVersion, strawberry.lazy("resolvers.models")]:
        from resolvers.models import ModelVersion

        return ModelVersion.of(self.version)

    @strawberry.field(description="The card rendered as Markdown, for TechDocs or a README.")
    def markdown(self) -> str:
        return render_markdown(
            self.card, model_name=self.version.group, version=str(self.version.version)
        )

    @strawberry.field(description="The card as Google Model Card Toolkit JSON (schema 0.0.2).")
    def model_card_toolkit(self) -> JSON:
        return JSON(to_model_card_toolkit(self.card, model_name=self.version.group))

    @strawberry.field(
        description="The card as SageMaker model card content JSON, ready for "
        "CreateModelCard / UpdateModelCard."
    )
    def sagemaker_content(self) -> JSON:
        return JSON(
            content_to_sagemaker(
                self.card.content,
                model_name=f"{self.version.group}-v{self.version.version}",
                model_package_arn=self.version.arn,
                group=self.version.group,
                version=self.version.version,
                approval=SAGEMAKER_APPROVAL[self.version.status],
            )
        )

    @strawberry.field(description="Every revision of this card, newest first.")
    async def history(self, info: Info) -> list[ModelCard] | None:
        if not self.saved:
            return [self]
        revisions = await info.context.loaders.card_history.load(self.card)
        return [ModelCard.of(c, self.version) for c in revisions]


async def saved_cards_of_version(info: Info, version: VersionSummary) -> list[ModelCard]:
    cards = await info.context.loaders.cards_by_version.load(version.arn)
    return [ModelCard.of(c, version) for c in cards]


async def card_of_version(info: Info, version: VersionSummary) -> ModelCard:
    """The saved card in force (``card_in_force``), else a pre-filled, unsaved draft."""
    cards = await info.context.loaders.cards_by_version.load(version.arn)
    if (card := card_in_force(cards)) is not None:
        return ModelCard.of(card, version)
    return ModelCard.of(await prefilled_card(info, version), version)


async def known_facts(info: Info, version: VersionSummary) -> KnownFacts:
    """What the registry, the training run, its metrics and the catalog say of a version."""
    loaders = info.context.loaders
    detail, run_id, model, claimed = await asyncio.gather(
        loaders.version_details_by_arn.load(version.arn),
        loaders.trained_by_version.load(version.arn),
        loaders.models_by_key.load(version.group),
        loaders.model_entity_by_group.load(version.group),
    )
    run_name = None
    run_metrics: dict[str, float] = {}
    inputs: list[DatasetRef] = []
    if run_id is not None:
        run, summaries, inputs = await asyncio.gather(
            loaders.executions_by_id.load(run_id),
            loaders.metrics_by_execution.load(run_id),
            loaders.inputs_by_execution.load(run_id),
        )
        run_name = run.name if run else None
        run_metrics = {s.name: s.value for s in answer(info, summaries)}
    return KnownFacts(
        summary=version,
        detail=detail,
        model_description=model.description if model else None,
        run_name=run_name,
        run_metrics=run_metrics,
        input_datasets=inputs,
        owner=claimed.owner if claimed else None,
        entity_ref=claimed.ref if claimed else None,
    )


async def prefilled_card(info: Info, version: VersionSummary) -> CardRecord:
    facts = await known_facts(info, version)
    return CardRecord(
        model_version_arn=version.arn,
        source=CardSource.MLMETA,
        revision=0,
        status=ModelCardStatus.DRAFT,
        updated_at=version.created_at,
        updated_by=None,
        content=prefilled_content(facts),
    )


async def _card_node(info: Info, key: str) -> ModelCard | None:
    from resolvers.models import load_version

    arn, _, revision = key.rpartition("@")
    if not arn:
        return None
    source = CardSource.MLMETA
    if "@sagemaker/" in key:
        arn, _, number = key.rpartition("@sagemaker/")
        source, revision = CardSource.SAGEMAKER, number
    version = await load_version(info, arn)
    if version is None or not revision.isdigit():
        return None
    if int(revision) == 0 and source is CardSource.MLMETA:
        saved = await info.context.loaders.cards_by_version.load(arn)
        return (
            None
            if saved
            else ModelCard.of(await prefilled_card(info, version.summary), version.summary)
        )
    for card in await info.context.loaders.cards_by_version.load(arn):
        if card.source is source:
            history = await info.context.loaders.card_history.load(card)
            found = next((c for c in history if c.revision == int(revision)), None)
            return ModelCard.of(found, version.summary) if found else None
    return None


register_node("ModelCard", _card_node)
