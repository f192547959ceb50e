"""The demo's mlmeta model cards: several revisions each, seeded once into the metadb."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import Settings
from gateway.demo import DemoSummary
from gateway.demo.cards_seed import seed_cards
from sources.metadb import MetaDB
from sources.metadb.cards import CardStore
from tests.conftest import gql


@pytest.fixture
async def cards(settings: Settings) -> AsyncIterator[CardStore]:
    """A CardStore over a copy of the migrated SQLite metadb."""
    metadb = MetaDB.connect(settings.database_url)
    yield CardStore(metadb)
    await metadb.close()


def churn(demo: DemoSummary, version: int) -> str:
    return demo.model_package_arns["churn-model"][version - 1]


def fraud(demo: DemoSummary, version: int) -> str:
    return demo.model_package_arns["fraud-detector"][version - 1]


async def test_churn_v4_goes_from_draft_to_review_in_three_revisions(
    demo_aws: DemoSummary, cards: CardStore
) -> None:
    await seed_cards(demo_aws, cards)
    history = await cards.history(churn(demo_aws, 4))
    assert [(c.revision, c.status, c.updated_by) for c in history] == [
        (3, "PENDING_REVIEW", "user:default/bob"),
        (2, "DRAFT", "user:default/alice"),
        (1, "DRAFT", "user:default/alice"),
    ]
    draft = history[2].content
    assert draft.overview
    assert draft.intended_use
    assert draft.training_data
    assert draft.evaluation == []
    assert draft.caveats == []
    evaluated = history[1].content
    assert all(e.threshold is not None and e.passed is not None for e in evaluated.evaluation)
    assert {e.passed for e in evaluated.evaluation} == {True, False}
    assert evaluated.caveats
    assert history[0].content.ethical_considerations


async def test_fraud_v2_is_sent_to_review_then_approved_as_written(
    demo_aws: DemoSummary, cards: CardStore
) -> None:
    await seed_cards(demo_aws, cards)
    history = await cards.history(fraud(demo_aws, 2))
    assert [(c.revision, c.status, c.updated_by) for c in history] == [
        (2, "APPROVED", "user:default/bob"),
        (1, "PENDING_REVIEW", "user:default/carol"),
    ]
    assert history[0].content == history[1].content
    assert history[0].content.evaluation
    assert history[0].content.evaluation_data


async def test_versions_with_a_sagemaker_card_get_no_mlmeta_card(
    demo_aws: DemoSummary, cards: CardStore
) -> None:
    await seed_cards(demo_aws, cards)
    arns = [churn(demo_aws, 1), churn(demo_aws, 3), fraud(demo_aws, 1)]
    assert await cards.latest(arns) == [None, None, None]


async def test_seeding_twice_writes_nothing_new(demo_aws: DemoSummary, cards: CardStore) -> None:
    assert await seed_cards(demo_aws, cards) == 5
    before = [await cards.history(churn(demo_aws, 4)), await cards.history(fraud(demo_aws, 2))]
    assert await seed_cards(demo_aws, cards) == 0
    after = [await cards.history(churn(demo_aws, 4)), await cards.history(fraud(demo_aws, 2))]
    assert after == before


def test_the_gateway_shows_the_seeded_card_with_its_history(
    settings: Settings, demo_aws: DemoSummary
) -> None:
    async def seed() -> None:
        metadb = MetaDB.connect(settings.database_url)
        try:
            await seed_cards(demo_aws, CardStore(metadb))
        finally:
            await metadb.close()

    asyncio.run(seed())
    query = """query { modelVersion(model: "churn-model", version: "4") {
      card { source revision status updatedBy history { revision status } } } }"""
    with TestClient(create_app(settings)) as client:
        card = gql(client, query)["data"]["modelVersion"]["card"]
    assert (card["source"], card["revision"], card["status"]) == ("mlmeta", 3, "PENDING_REVIEW")
    assert card["updatedBy"] == "user:default/bob"
    assert [(h["revision"], h["status"]) for h in card["history"]] == [
        (3, "PENDING_REVIEW"),
        (2, "DRAFT"),
        (1, "DRAFT"),
    ]
