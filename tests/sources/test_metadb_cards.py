"""CardStore: model card revisions in the metadb, on both backends."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from sources.errors import ConflictError, InputError
from sources.metadb import MetaDB
from sources.metadb.cards import CardStore
from sources.metadb.models import ModelCardStatus
from sources.models.model import (
    CardContent,
    CardSource,
    DatasetRef,
    EvaluationResult,
    IntendedUse,
)
from tests.support.sql import statements

DRAFT = ModelCardStatus.DRAFT
PENDING_REVIEW = ModelCardStatus.PENDING_REVIEW
APPROVED = ModelCardStatus.APPROVED
ARCHIVED = ModelCardStatus.ARCHIVED
ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-model/3"
OTHER = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-model/4"
V1 = CardContent(overview="First draft.")
V2 = CardContent(overview="Reviewed.", owners=["group:default/ml-platform"])
V3 = CardContent(overview="Reviewed, with caveats.", caveats=["Not for business accounts."])


@pytest.fixture
def store(metadb: MetaDB) -> CardStore:
    return CardStore(metadb)


async def save(
    store: CardStore,
    base: int | None,
    content: CardContent,
    status: ModelCardStatus = DRAFT,
    arn: str = ARN,
) -> Any:
    return await store.append(
        arn, base_revision=base, content=content, status=status, updated_by="user:default/alice"
    )


async def test_first_save_is_revision_1_of_an_mlmeta_card(store: CardStore) -> None:
    saved = await save(store, None, V1)
    assert (saved.revision, saved.status, saved.source) == (1, DRAFT, CardSource.MLMETA)
    assert (saved.model_version_arn, saved.updated_by, saved.content) == (
        ARN,
        "user:default/alice",
        V1,
    )


async def test_latest_is_what_append_returned(store: CardStore) -> None:
    saved = await save(store, 0, V1)
    assert await store.latest([ARN]) == [saved]


async def test_every_save_is_a_new_revision_and_history_keeps_them_newest_first(
    store: CardStore,
) -> None:
    await save(store, None, V1)
    await save(store, 1, V2, PENDING_REVIEW)
    await save(store, 2, V3, DRAFT)
    history = await store.history(ARN)
    assert [(r.revision, r.status, r.content) for r in history] == [
        (3, DRAFT, V3),
        (2, PENDING_REVIEW, V2),
        (1, DRAFT, V1),
    ]


async def test_history_of_a_version_without_card_is_empty(store: CardStore) -> None:
    assert await store.history(ARN) == []


async def test_latest_answers_in_key_order_with_none_for_versions_without_card(
    store: CardStore,
) -> None:
    await save(store, None, V1, arn=OTHER)
    await save(store, None, V1)
    await save(store, 1, V2)
    found = await store.latest([ARN, "arn:none", OTHER, ARN])
    assert [r and (r.model_version_arn, r.revision) for r in found] == [
        (ARN, 2),
        None,
        (OTHER, 1),
        (ARN, 2),
    ]


async def test_latest_of_no_arns_asks_nothing(store: CardStore, metadb: MetaDB) -> None:
    with statements(metadb) as sent:
        assert await store.latest([]) == []
    assert sent == []


async def test_latest_of_50_versions_is_one_statement(store: CardStore, metadb: MetaDB) -> None:
    arns = [f"{ARN[:-2]}/{n}" for n in range(50)]
    for arn in arns[::2]:
        await save(store, None, V1, arn=arn)
    with statements(metadb) as sent:
        found = await store.latest(arns)
    assert len(sent) == 1
    assert [r is not None for r in found] == [n % 2 == 0 for n in range(50)]


async def test_content_round_trips_through_the_database(store: CardStore) -> None:
    content = CardContent(
        overview="All sections.",
        owners=["group:default/ml-platform"],
        version="3",
        license="Apache-2.0",
        references=["https://wiki.example.com/churn"],
        intended_use=IntendedUse(["Scoring"], ["Retention team"], ["Business accounts"]),
        factors=["Tenure"],
        evaluation=[
            EvaluationResult("auc", 0.903, "holdout", "tenure < 6", 0.85, True),
            EvaluationResult("rows", 40000.0),
        ],
        training_data=[DatasetRef("s3://b/train.csv", "2026-11-01", "train")],
        evaluation_data=[DatasetRef("s3://b/holdout/", name="holdout")],
        quantitative_analyses=["holdout: fine"],
        ethical_considerations=["Age band is monitored."],
        caveats=["Retrain after price changes."],
        extra={"risk_rating": "Medium", "hyper_parameters": {"eta": "0.05"}, "n": [1, 2.5]},
    )
    await save(store, None, content)
    [stored] = await store.latest([ARN])
    assert stored is not None
    assert stored.content == content


async def test_stale_base_is_a_conflict_naming_both_revisions(store: CardStore) -> None:
    await save(store, None, V1)
    await save(store, 1, V2)
    with pytest.raises(
        ConflictError, match=r"is at revision 2, your edit was based on 1; reload and retry"
    ):
        await save(store, 1, V3)
    assert [r.revision for r in await store.history(ARN)] == [2, 1]


async def test_expecting_no_card_when_one_exists_is_a_conflict(store: CardStore) -> None:
    await save(store, None, V1)
    with pytest.raises(ConflictError, match=r"already exists \(revision 1\)"):
        await save(store, None, V2)
    assert [r.content for r in await store.history(ARN)] == [V1]


async def test_base_ahead_of_the_card_is_a_conflict_and_writes_nothing(store: CardStore) -> None:
    await save(store, None, V1)
    with pytest.raises(ConflictError, match=r"is at revision 1, your edit was based on 5"):
        await save(store, 5, V2)
    assert [r.revision for r in await store.history(ARN)] == [1]


async def test_base_for_a_version_without_card_is_a_conflict(store: CardStore) -> None:
    with pytest.raises(ConflictError, match=r"does not exist"):
        await save(store, 2, V1)
    assert await store.history(ARN) == []


async def test_negative_base_is_refused(store: CardStore) -> None:
    with pytest.raises(InputError, match="not a revision"):
        await save(store, -1, V1)


async def test_of_two_concurrent_saves_on_one_base_exactly_one_wins(store: CardStore) -> None:
    await save(store, None, V1)
    results = await asyncio.gather(save(store, 1, V2), save(store, 1, V3), return_exceptions=True)
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1
    assert len(losers) == 1
    assert isinstance(losers[0], ConflictError)
    assert "is at revision 2, your edit was based on 1" in losers[0].message
    history = await store.history(ARN)
    assert [(r.revision, r.content) for r in history] == [(2, winners[0].content), (1, V1)]


async def test_a_new_card_cannot_start_approved(store: CardStore) -> None:
    with pytest.raises(InputError, match="starts as DRAFT or PENDING_REVIEW"):
        await save(store, None, V1, APPROVED)
    assert await store.history(ARN) == []


async def test_a_draft_cannot_be_approved_without_review(store: CardStore) -> None:
    await save(store, None, V1)
    with pytest.raises(InputError, match="cannot go from DRAFT to APPROVED"):
        await save(store, 1, V1, APPROVED)
    assert [r.revision for r in await store.history(ARN)] == [1]


async def test_the_review_path_reaches_approved_and_archived(store: CardStore) -> None:
    await save(store, None, V1)
    await save(store, 1, V2, PENDING_REVIEW)
    await save(store, 2, V2, APPROVED)
    archived = await save(store, 3, V2, ARCHIVED)
    assert (archived.revision, archived.status) == (4, ARCHIVED)


async def test_an_approved_card_keeps_its_content_while_approved(store: CardStore) -> None:
    await save(store, None, V1, PENDING_REVIEW)
    await save(store, 1, V1, APPROVED)
    with pytest.raises(InputError, match="reopen it as DRAFT"):
        await save(store, 2, V2, APPROVED)
    assert (await save(store, 2, V1, APPROVED)).revision == 3  # unchanged: allowed
    assert (await save(store, 3, V2, DRAFT)).revision == 4  # reopened with the change


async def test_an_archived_card_is_final(store: CardStore) -> None:
    await save(store, None, V1)
    await save(store, 1, V1, ARCHIVED)
    with pytest.raises(InputError, match="ARCHIVED, which is final"):
        await save(store, 2, V1, DRAFT)
    assert [r.revision for r in await store.history(ARN)] == [2, 1]


async def test_as_of_gives_the_revision_in_force_at_an_instant(store: CardStore) -> None:
    before = datetime.now(UTC)
    first = await save(store, None, V1)
    between = datetime.now(UTC)
    second = await save(store, 1, V2)
    assert await store.as_of([ARN], before) == [None]
    assert await store.as_of([ARN], first.updated_at) == [first]
    assert await store.as_of([ARN], between) == [first]
    assert await store.as_of([ARN, OTHER], second.updated_at) == [second, None]


async def test_as_of_refuses_an_instant_without_time_zone(store: CardStore) -> None:
    with pytest.raises(InputError, match="no time zone"):
        await store.as_of([ARN], datetime(2026, 11, 20, 12, 0))


async def test_content_json_cannot_hold_is_refused_before_writing(store: CardStore) -> None:
    with pytest.raises(InputError, match="finite numbers"):
        await save(store, None, CardContent(evaluation=[EvaluationResult("auc", float("inf"))]))
    assert await store.history(ARN) == []
