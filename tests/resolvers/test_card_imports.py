"""Importing cards from other tools: checked before storing, never hiding an approved card.

The demo's churn-model v3 is in production with an APPROVED SageMaker card
(revision 2); these tests import onto it and read what a reviewer then sees.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import Settings
from gateway.demo import DemoSummary
from gateway.demo.catalog_files import write_catalog
from tests.conftest import WRITER_TOKEN, codes, gql

WRITER = {"Authorization": f"Bearer {WRITER_TOKEN}"}
IMPORT = """mutation ($input: ImportModelCardInput!) { importModelCard(input: $input) {
  source revision status overview } }"""
CARDS = """query { modelVersion(model: "churn-model", version: "3") {
  id card { source revision status } cards { source revision status } } }"""


@pytest.fixture
def gateway(settings: Settings, tmp_path: Path, demo_aws: DemoSummary) -> Iterator[TestClient]:
    folder = tmp_path / "demo-catalog"
    write_catalog(folder)
    with TestClient(create_app(settings.replace(catalog_folder=str(folder)))) as client:
        yield client


def production(client: TestClient) -> dict[str, Any]:
    found: dict[str, Any] = gql(client, CARDS)["data"]["modelVersion"]
    return found


def import_card(client: TestClient, format_: str, content: Any) -> dict[str, Any]:
    edit = {"modelVersionId": production(client)["id"], "format": format_, "content": content}
    return gql(client, IMPORT, {"input": edit}, WRITER, expect_errors=True)


@pytest.mark.parametrize(
    ("format_", "content", "named"),
    [
        ("MODEL_CARD_TOOLKIT", {"foo": 1}, "foo"),
        ("MODEL_CARD_TOOLKIT", {}, "content"),
        ("MODEL_CARD_TOOLKIT", {"schema_version": "0.0.2", "model_details": {}}, "content"),
        ("MODEL_CARD_TOOLKIT", {"model_details": {"overview": 3}}, "model_details.overview"),
        (
            "MODEL_CARD_TOOLKIT",
            {"model_details": {"licenses": [{"identifier": "MIT", "custom_text": "Mine"}]}},
            "model_details.licenses[0]",
        ),
        ("SAGEMAKER", {"foo": 1}, "foo"),
        ("SAGEMAKER", {}, "content"),
        ("SAGEMAKER", {"model_overview": {"description": "x"}}, "model_overview.description"),
        (
            "SAGEMAKER",
            {"evaluation_details": [{"metric_groups": []}]},
            "evaluation_details[0].name",
        ),
        ("SAGEMAKER", {"intended_uses": {"risk_rating": "Severe"}}, "intended_uses.risk_rating"),
    ],
)
def test_an_import_that_does_not_fit_its_schema_names_the_key_and_stores_nothing(
    gateway: TestClient, format_: str, content: dict[str, Any], named: str
) -> None:
    before = production(gateway)
    body = import_card(gateway, format_, content)
    assert codes(body) == ["InputError"]
    assert body["errors"][0]["message"].startswith(f"{named}:")
    assert production(gateway) == before


def test_a_newer_draft_import_does_not_hide_the_approved_card(gateway: TestClient) -> None:
    document = {"model_details": {"overview": "Re-trained on November data, not reviewed."}}
    saved = import_card(gateway, "MODEL_CARD_TOOLKIT", document)["data"]["importModelCard"]
    assert (saved["source"], saved["status"]) == ("mlmeta", "DRAFT")
    version = production(gateway)
    assert version["card"] == {"source": "sagemaker", "revision": 2, "status": "APPROVED"}
    assert version["cards"] == [
        {"source": "mlmeta", "revision": 1, "status": "DRAFT"},
        {"source": "sagemaker", "revision": 2, "status": "APPROVED"},
    ]
