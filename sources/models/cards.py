"""Model cards from both places they live: mlmeta's metadb and SageMaker Model Cards.

The two are never merged: a version may have one of each, and each keeps its
own ``source``, revisions and status. mlmeta's cards are the editable ones.
Which of them is "the" card of a version, now (``ModelVersion.card``) and at
any past instant (a lineage walk's ``ModelCard`` node), is one rule:
``card_in_force``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sources.cards.sagemaker import content_from_sagemaker, status_from_sagemaker
from sources.metadb.cards import CardStore
from sources.metadb.models import ModelCardStatus
from sources.models.model import CardContent, CardRecord, CardSource

if TYPE_CHECKING:
    from sources.sagemaker.registry import SageMakerCard
    from sources.sagemaker.registry_source import SageMakerRegistry


def card_key(card: CardRecord) -> str:
    """The natural key of a card revision: its GraphQL id's and its lineage node's."""
    if card.source is CardSource.SAGEMAKER:
        return f"{card.model_version_arn}@sagemaker/{card.revision}"
    return f"{card.model_version_arn}@{card.revision}"


def card_in_force(cards: Sequence[CardRecord]) -> CardRecord | None:
    """The card a reviewer takes as the version's: the newest APPROVED one, whichever tool
    holds it, else the newest one (by last update); None when there is none.

    An approval outranks recency so that a newer draft (an import, an edit in
    progress) never silently replaces the card a reviewer signed off.
    """
    approved = [c for c in cards if c.status is ModelCardStatus.APPROVED]
    return max(approved or cards, key=lambda c: c.updated_at, default=None)


def card_from_sagemaker(card: SageMakerCard, package_arn: str) -> CardRecord:
    return CardRecord(
        model_version_arn=package_arn,
        source=CardSource.SAGEMAKER,
        revision=card.version,
        status=status_from_sagemaker(card.status),
        updated_at=card.updated_at or card.created_at,
        updated_by=card.updated_by,
        content=content_from_sagemaker(card.content),
        name=card.name,
    )


class CardService:
    def __init__(self, store: CardStore, registry: SageMakerRegistry | None) -> None:
        self._store = store
        self._registry = registry

    async def saved_cards(self, arns: Sequence[str]) -> list[list[CardRecord]]:
        """For each version: its mlmeta card (latest revision), then its SageMaker card."""
        ours = await self._store.latest(arns)
        theirs: Sequence[SageMakerCard | None] = [None] * len(arns)
        if self._registry is not None:
            theirs = await self._registry.card_for_versions(arns)
        cards: list[list[CardRecord]] = []
        for arn, mine, other in zip(arns, ours, theirs, strict=True):
            found = [mine] if mine is not None else []
            if other is not None:
                found.append(card_from_sagemaker(other, arn))
            cards.append(found)
        return cards

    async def history(self, card: CardRecord) -> list[CardRecord]:
        """Every revision of that card, newest first."""
        if card.source is CardSource.MLMETA:
            return await self._store.history(card.model_version_arn)
        if self._registry is None or card.name is None:
            return [card]
        versions = await self._registry.card_versions(card.name)
        return [card_from_sagemaker(v, card.model_version_arn) for v in versions]

    async def as_of(self, arns: Sequence[str], at: datetime) -> list[CardRecord | None]:
        """For each version, the card in force at ``at`` (``card_in_force``) among its
        mlmeta card and its SageMaker card, each as last changed by then."""
        ours = list(await self._store.as_of(arns, at))
        if self._registry is None:
            return ours
        theirs = await self._registry.card_for_versions(arns)
        named = [(i, card.name) for i, card in enumerate(theirs) if card]
        histories = await asyncio.gather(*(self._registry.card_versions(name) for _, name in named))
        found: list[CardRecord | None] = []
        then: dict[int, CardRecord] = {}
        for (index, _), versions in zip(named, histories, strict=True):
            known = [v for v in versions if v.updated_at <= at]
            if known:
                then[index] = card_from_sagemaker(max(known, key=lambda v: v.version), arns[index])
        for index, mine in enumerate(ours):
            cards = [c for c in (mine, then.get(index)) if c is not None]
            found.append(card_in_force(cards))
        return found

    async def save(
        self,
        arn: str,
        *,
        base_revision: int | None,
        content: CardContent,
        status: ModelCardStatus,
        updated_by: str | None,
    ) -> CardRecord:
        return await self._store.append(
            arn,
            base_revision=base_revision,
            content=content,
            status=status,
            updated_by=updated_by,
        )
