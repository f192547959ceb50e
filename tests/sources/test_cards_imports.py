"""Card imports: each format's schema is checked, and a round trip loses nothing it can hold.

A round trip goes out through the export mlmeta serves (``modelCardToolkit``,
``sagemakerContent``) and back in through ``importModelCard``'s path (schema
check, then read), with a card that fills every section.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from gateway.demo.plan import TRAINING_RUNS
from gateway.demo.registry import FRAUD_VERSIONS, churn_card, fraud_card
from sources.cards.imports import import_model_card_toolkit, import_sagemaker
from sources.cards.sagemaker import content_to_sagemaker
from sources.cards.toolkit import to_model_card_toolkit
from sources.errors import InputError
from sources.metadb.models import ModelCardStatus
from sources.models.model import (
    CardContent,
    CardRecord,
    CardSource,
    DatasetRef,
    EvaluationResult,
    IntendedUse,
)
from tests.sources.test_cards_toolkit_import import MCT_DOCUMENT

PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-model/3"
TRAINING_JOB = "arn:aws:sagemaker:us-east-1:123456789012:training-job/churn-train-tuned-600-rounds"
RUN = next(run for run in TRAINING_RUNS if run.name == "tuned-600-rounds")


def full_card() -> CardContent:
    """Every section filled, including the free-text quantitative analyses."""
    return CardContent(
        overview="Predicts churn.",
        owners=["group:default/ml-platform", "user:default/alice"],
        version="3",
        license="Apache-2.0",
        references=["https://wiki.example.com/churn"],
        intended_use=IntendedUse(
            primary_uses=["Rank subscribers by churn risk.", "Weekly batch scoring."],
            primary_users=["Retention team"],
            out_of_scope=["Business accounts"],
        ),
        factors=["Tenure", "Contract type"],
        evaluation=[
            EvaluationResult("auc", 0.903, "holdout", None, 0.85, True),
            EvaluationResult("recall", 0.44, "holdout", "tenure < 6", 0.5, False),
        ],
        training_data=[DatasetRef("s3://bucket/train.csv")],
        evaluation_data=[DatasetRef("s3://bucket/holdout/", name="holdout")],
        quantitative_analyses=["holdout: Recall drops for new customers."],
        ethical_considerations=["Age band is monitored."],
        caveats=["Retrain after price changes."],
        extra={"risk_rating": "Medium", "business_problem": "Reduce churn."},
    )


def toolkit(content: CardContent) -> dict[str, Any]:
    record = CardRecord(
        model_version_arn=PACKAGE,
        source=CardSource.MLMETA,
        revision=1,
        status=ModelCardStatus.DRAFT,
        updated_at=datetime(2026, 11, 20, tzinfo=UTC),
        updated_by=None,
        content=content,
    )
    exported = to_model_card_toolkit(record, model_name="churn-model")
    return dict(json.loads(json.dumps(exported)))


def sagemaker(content: CardContent) -> dict[str, Any]:
    exported = content_to_sagemaker(
        content,
        model_name="churn-model-v3",
        model_package_arn=PACKAGE,
        group="churn-model",
        version=3,
        approval="Approved",
    )
    return dict(json.loads(json.dumps(exported)))


# ------------------------------------------------------------ round trips ---


def test_a_full_card_round_trips_through_the_toolkit_but_what_it_has_no_field_for() -> None:
    content = full_card()
    # The toolkit has no field for a metric's dataset or pass/fail, nor for
    # SageMaker's risk rating and business details (``extra``).
    no_place = replace(
        content,
        evaluation=[replace(r, dataset=None, passed=None) for r in content.evaluation],
        extra={},
    )
    assert import_model_card_toolkit(toolkit(content)) == no_place


def test_a_full_card_round_trips_through_sagemaker_whole() -> None:
    assert import_sagemaker(sagemaker(full_card())) == full_card()


def test_a_toolkit_document_read_and_written_back_is_the_same() -> None:
    exported = toolkit(full_card())
    assert toolkit(import_model_card_toolkit(exported)) == exported


def test_sagemaker_content_read_and_written_back_is_the_same() -> None:
    exported = sagemaker(full_card())
    assert sagemaker(import_sagemaker(exported)) == exported


# ----------------------------------------------------- what the checks let in ---


def test_the_toolkit_s_own_example_document_fits_schema_0_0_2() -> None:
    assert import_model_card_toolkit(MCT_DOCUMENT).overview


@pytest.mark.parametrize(
    "card",
    [
        churn_card(RUN, 3, PACKAGE, TRAINING_JOB, "us-east-1", complete=True),
        churn_card(RUN, 3, PACKAGE, TRAINING_JOB, "us-east-1", complete=False),
        fraud_card(
            PACKAGE.replace("churn-model", "fraud-detector"), FRAUD_VERSIONS[0], "us-east-1"
        ),
    ],
    ids=["churn", "churn-draft", "fraud"],
)
def test_real_sagemaker_cards_fit_the_content_schema(card: dict[str, Any]) -> None:
    assert import_sagemaker(card).overview


# ---------------------------------------------------- what the checks keep out ---


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"foo": 1}, "foo: unknown key"),
        ({"model_details": []}, "model_details: expected an object"),
        ({"model_details": {"owners": "me"}}, "model_details.owners: expected an array"),
        ({"model_details": {"licenses": [{}]}}, "model_details.licenses[0]: needs exactly one"),
        (
            {"quantitative_analysis": {"performance_metrics": [{"type": "auc", "value": True}]}},
            "quantitative_analysis.performance_metrics[0].value: expected a number or a string",
        ),
        ({"considerations": {"users": ["Retention team"]}}, "considerations.users[0]: expected"),
        ({"model_details": {"name": "churn"}}, "content: this Model Card Toolkit document holds"),
    ],
)
def test_a_toolkit_document_outside_schema_0_0_2_is_refused(
    document: dict[str, Any], message: str
) -> None:
    with pytest.raises(InputError) as refused:
        import_model_card_toolkit(document)
    assert refused.value.message.startswith(message)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"model_overview": {"overview": "x"}}, "model_overview.overview: unknown key"),
        ({"model_overview": {"model_description": "x" * 1025}}, "model_overview.model_descr"),
        ({"model_overview": {"model_version": 0}}, "model_overview.model_version: must be at"),
        (
            {"evaluation_details": [{"name": "e", "metric_groups": [{"name": "g"}]}]},
            "evaluation_details[0].metric_groups[0].metric_data: is required",
        ),
        (
            {
                "evaluation_details": [
                    {
                        "name": "e",
                        "metric_groups": [
                            {
                                "name": "g",
                                "metric_data": [{"name": "auc", "type": "number", "value": "hi"}],
                            }
                        ],
                    }
                ]
            },
            "evaluation_details[0].metric_groups[0].metric_data[0].value: expected a number",
        ),
        ({"additional_information": {"custom_details": {"k": 1}}}, "additional_information.cu"),
        ({"model_package_details": {"model_package_group_name": "g"}}, "content: this SageMaker"),
    ],
)
def test_sagemaker_content_outside_its_schema_is_refused(
    document: dict[str, Any], message: str
) -> None:
    with pytest.raises(InputError) as refused:
        import_sagemaker(document)
    assert refused.value.message.startswith(message)
