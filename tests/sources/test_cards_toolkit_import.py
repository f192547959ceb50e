"""Model Card Toolkit JSON -> CardContent: foreign documents, the round trip, odd input.

``MCT_DOCUMENT`` is shaped like the toolkit's own schema 0.0.2 examples (text
metric values, confidence intervals, graphics, sensitive data); the round trip
uses the demo's SageMaker cards (``gateway/demo/registry.py``).
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from gateway.demo.plan import TRAINING_RUNS
from gateway.demo.registry import FRAUD_VERSIONS, churn_card, fraud_card
from sources.cards.sagemaker import content_from_sagemaker
from sources.cards.toolkit import to_model_card_toolkit
from sources.cards.toolkit_import import content_from_model_card_toolkit
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

REGION = "us-east-1"
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-model/3"
TRAINING_JOB = "arn:aws:sagemaker:us-east-1:123456789012:training-job/churn-train-tuned-600-rounds"
RUN = next(run for run in TRAINING_RUNS if run.name == "tuned-600-rounds")
IMAGE = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJ"  # base64 PNG, as the toolkit embeds graphics

MCT_DOCUMENT: dict[str, Any] = {
    "schema_version": "0.0.2",
    "model_details": {
        "name": "Fine-tuned MobileNetV2 Model for Cats vs. Dogs",
        "overview": "This model distinguishes cat and dog images.",
        "documentation": "Trained with the Keras transfer learning recipe.",
        "owners": [
            {"name": "Model Cards Team", "contact": "model-cards@example.com"},
            {"name": "Vision Platform"},
            {"name": "ml-oncall@example.com", "contact": "ml-oncall@example.com"},
        ],
        "version": {"name": "v1.0", "date": "2020-08-28", "diff": "First release."},
        "licenses": [
            {"identifier": "Apache-2.0"},
            {"custom_text": "Images licensed CC BY 4.0 by their authors."},
        ],
        "references": [
            {"reference": "https://www.kaggle.com/c/dogs-vs-cats"},
            {"reference": "https://arxiv.org/abs/1801.04381"},
        ],
        "citations": [{"style": "APA", "citation": "Model Cards Team (2020)."}],
    },
    "model_parameters": {
        "model_architecture": "MobileNetV2",
        "data": [
            {
                "name": "cats_vs_dogs train split",
                "link": "https://www.tensorflow.org/datasets/catalog/cats_vs_dogs",
                "sensitive": {"sensitive_data": []},
                "graphics": {
                    "description": "Class balance",
                    "collection": [{"name": "Train Set Size", "image": IMAGE}],
                },
                "description": "Training split: 80% of the 23,262 images.",
            },
            {
                "name": "cats_vs_dogs validation split",
                "link": "gs://example-datasets/cats_vs_dogs/validation/",
                "graphics": {"collection": [{"name": "Validation Set Size", "image": IMAGE}]},
                "description": "Held-out validation split: 20% of the images.",
            },
        ],
        "input_format": "224x224 RGB image",
        "output_format": "Probability of 'dog'",
    },
    "quantitative_analysis": {
        "performance_metrics": [
            {
                "type": "accuracy",
                "value": "0.981",
                "slice": "Cat",
                "confidence_interval": {"lower_bound": "0.975", "upper_bound": "0.987"},
            },
            {"type": "accuracy", "value": "0.989", "slice": "Dog", "threshold": "0.95"},
            {"type": "accuracy", "value": "0.985"},
            {"type": "loss", "value": "0.052", "slice": "Cat"},
            {"type": "confusion matrix", "value": "[[0.98, 0.02], [0.01, 0.99]]"},
        ],
        "graphics": {"description": "Accuracy by slice", "collection": [{"image": IMAGE}]},
    },
    "considerations": {
        "users": [{"description": "ML practitioners"}, {"description": "Pet app developers"}],
        "use_cases": [{"description": "Classify a photo as a cat or a dog."}],
        "limitations": [
            {"description": "Images with both a cat and a dog are not handled."},
            {"description": "Out of scope: Breed identification"},
            {"description": "Factor affecting performance: Low light"},
        ],
        "tradeoffs": [{"description": "Smaller than ResNet-50, 1.5 points less accurate."}],
        "ethical_considerations": [
            {
                "name": "Images may show people",
                "mitigation_strategy": "Faces are blurred before training.",
            },
            {"name": "No known fairness risk."},
        ],
    },
}


def record(content: CardContent) -> CardRecord:
    return CardRecord(
        model_version_arn=PACKAGE,
        source=CardSource.MLMETA,
        revision=2,
        status=ModelCardStatus.APPROVED,
        updated_at=datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
        updated_by="user:default/alice",
        content=content,
    )


def round_trip(content: CardContent) -> CardContent:
    exported = to_model_card_toolkit(record(content), model_name="churn-model")
    return content_from_model_card_toolkit(json.loads(json.dumps(exported)))


def exportable(content: CardContent) -> CardContent:
    """``content`` without what the toolkit export cannot carry (the module's lossy list)."""
    intended = content.intended_use
    return replace(
        content,
        intended_use=None if intended == IntendedUse() else intended,
        evaluation=[replace(r, dataset=None, passed=None) for r in content.evaluation],
        extra={},
    )


def imported(**changes: Any) -> CardContent:
    document = copy.deepcopy(MCT_DOCUMENT)
    for section, fields in changes.items():
        document[section] = {**document[section], **fields}
    return content_from_model_card_toolkit(document)


# --------------------------------------------------------- a toolkit card ---


def test_model_details_are_read() -> None:
    content = imported()
    assert content.overview == "This model distinguishes cat and dog images."
    assert content.version == "v1.0"
    assert content.references == [
        "https://www.kaggle.com/c/dogs-vs-cats",
        "https://arxiv.org/abs/1801.04381",
    ]


def test_owner_contacts_follow_the_name_unless_they_are_the_name() -> None:
    assert imported().owners == [
        "Model Cards Team <model-cards@example.com>",
        "Vision Platform",
        "ml-oncall@example.com",
    ]


def test_several_licenses_are_joined() -> None:
    assert imported().license == "Apache-2.0; Images licensed CC BY 4.0 by their authors."


def test_datasets_are_training_or_evaluation_by_their_description() -> None:
    content = imported()
    assert content.training_data == [
        DatasetRef(
            "https://www.tensorflow.org/datasets/catalog/cats_vs_dogs",
            name="cats_vs_dogs train split",
        )
    ]
    assert content.evaluation_data == [
        DatasetRef(
            "gs://example-datasets/cats_vs_dogs/validation/", name="cats_vs_dogs validation split"
        )
    ]


def test_dataset_without_a_hint_in_its_description_is_placed_by_its_name() -> None:
    data = [{"name": "eval_images", "link": "gs://b/eval/"}, {"name": "images", "uri": "gs://b/"}]
    content = imported(model_parameters={"data": data})
    assert content.evaluation_data == [DatasetRef("gs://b/eval/", name="eval_images")]
    assert content.training_data == [DatasetRef("gs://b/", name="images")]


def test_dataset_for_training_and_testing_is_in_both_lists() -> None:
    data = [{"name": "pets", "description": "Used to train and test the model."}]
    content = imported(model_parameters={"data": data})
    assert content.training_data == content.evaluation_data == [DatasetRef("pets")]


def test_numeric_metrics_are_read_with_slice_and_threshold() -> None:
    assert imported().evaluation == [
        EvaluationResult("accuracy", 0.981, slice="Cat"),
        EvaluationResult("accuracy", 0.989, slice="Dog", threshold=0.95),
        EvaluationResult("accuracy", 0.985),
        EvaluationResult("loss", 0.052, slice="Cat"),
    ]


def test_considerations_are_intended_use_factors_and_caveats() -> None:
    content = imported()
    assert content.intended_use == IntendedUse(
        primary_uses=["Classify a photo as a cat or a dog."],
        primary_users=["ML practitioners", "Pet app developers"],
        out_of_scope=["Breed identification"],
    )
    assert content.factors == ["Low light"]
    assert content.caveats == [
        "Images with both a cat and a dog are not handled.",
        "Tradeoff: Smaller than ResNet-50, 1.5 points less accurate.",
    ]


def test_ethical_considerations_carry_their_mitigation() -> None:
    assert imported().ethical_considerations == [
        "Images may show people: Faces are blurred before training.",
        "No known fairness risk.",
    ]


def test_schema_0_0_1_shapes_are_read() -> None:
    document = {
        "schema_version": "0.0.1",
        "model_details": {
            "license": "Apache-2.0",
            "references": ["https://arxiv.org/abs/1801.04381"],
            "version": {"name": 2},
        },
        "model_parameters": {
            "data": {"train": {"name": "train", "link": "gs://b/t"}, "eval": {"name": "gs://b/e"}}
        },
        "quantitative_analysis": {"performance_metrics": [{"type": "auc", "value": 0.9}]},
        "considerations": {"users": ["Analysts"], "limitations": ["Small sample."]},
    }
    assert content_from_model_card_toolkit(document) == CardContent(
        version="2",
        license="Apache-2.0",
        references=["https://arxiv.org/abs/1801.04381"],
        intended_use=IntendedUse(primary_users=["Analysts"]),
        evaluation=[EvaluationResult("auc", 0.9)],
        training_data=[DatasetRef("gs://b/t", name="train")],
        evaluation_data=[DatasetRef("gs://b/e")],
        caveats=["Small sample."],
    )


# ------------------------------------------------------------- round trip ---


@pytest.mark.parametrize(
    "sagemaker_card",
    [
        pytest.param(churn_card(RUN, 3, PACKAGE, TRAINING_JOB, REGION, complete=True), id="churn"),
        pytest.param(
            churn_card(RUN, 3, PACKAGE, TRAINING_JOB, REGION, complete=False), id="churn-draft"
        ),
        pytest.param(
            fraud_card(PACKAGE.replace("churn-model", "fraud-detector"), FRAUD_VERSIONS[0], REGION),
            id="fraud",
        ),
    ],
)
def test_demo_cards_round_trip_through_the_toolkit(sagemaker_card: dict[str, Any]) -> None:
    content = content_from_sagemaker(sagemaker_card)
    assert round_trip(content) == exportable(content)


def test_authored_card_round_trips_every_section_the_export_writes() -> None:
    content = CardContent(
        overview="Predicts churn.\nSecond line.",
        owners=["group:default/ml-platform", "ml@example.com", "Ann Lee <ann@example.com>"],
        version="3.1",
        license="Internal use only, see legal",
        references=["https://wiki.example.com/churn"],
        intended_use=IntendedUse(
            primary_uses=["Rank subscribers by churn risk."],
            primary_users=["Retention team"],
            out_of_scope=["Business accounts"],
        ),
        factors=["Tenure", "Contract type"],
        evaluation=[
            EvaluationResult("auc", 0.903, "holdout", None, 0.85, True),
            EvaluationResult("recall", 1 / 3, "holdout", "tenure < 6; new", 1e-7, False),
            EvaluationResult("lift", 3.0, None, "top decile"),
        ],
        training_data=[DatasetRef("s3://bucket/train.csv", version="2026-11-01")],
        evaluation_data=[DatasetRef("s3://bucket/holdout/", name="holdout", version="v2")],
        quantitative_analyses=["holdout: Recall drops for new customers."],
        ethical_considerations=["Age band is monitored."],
        caveats=["Retrain after price changes.", "Tradeoff: recall for precision."],
        extra={"risk_rating": "Medium"},
    )
    assert round_trip(content) == exportable(content)


def test_empty_card_round_trips_to_empty_content() -> None:
    assert round_trip(CardContent()) == CardContent()


def test_lossy_fields_read_back_empty() -> None:
    content = CardContent(
        intended_use=IntendedUse(),
        evaluation=[EvaluationResult("auc", 0.9, "holdout", passed=True)],
        training_data=[DatasetRef("s3://b/t", name="s3://b/t")],
        quantitative_analyses=["Stable across months.\n\nExcept in December."],
        extra={"risk_rating": "Low"},
    )
    assert round_trip(content) == CardContent(
        evaluation=[EvaluationResult("auc", 0.9)],
        training_data=[DatasetRef("s3://b/t")],
        quantitative_analyses=["Stable across months.", "Except in December."],
    )


# -------------------------------------------------------------- odd input ---


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"schema_version": "0.0.2"},
        {"model_details": None, "model_parameters": [], "considerations": "none"},
        {"model_details": {"owners": "me", "licenses": "MIT", "references": {"a": 1}}},
        {"model_details": {"owners": [1, None, {}, {"name": 3}, {"name": " "}]}},
        {"model_details": {"overview": 7, "version": "   ", "licenses": [{}, 3, {"x": "y"}]}},
        {"model_details": {"version": {"name": True}}},
        {"model_details": {"version": {"name": 10**400}}},
        {"model_parameters": {"data": ["s3://b/t", None, {}, {"description": "train"}]}},
        {"model_parameters": {"data": {"train": "s3://b/t", "eval": None}}},
        {"quantitative_analysis": {"performance_metrics": {"type": "auc", "value": "0.9"}}},
        {"considerations": {"users": [None, 1, {"description": None}], "limitations": [{}]}},
        {"considerations": {"limitations": [{"description": "Out of scope: "}]}},
        {"considerations": {"ethical_considerations": [{"name": None}, [], "  "]}},
    ],
)
def test_documents_with_nothing_usable_read_as_empty_content(document: dict[str, Any]) -> None:
    assert content_from_model_card_toolkit(document) == CardContent()


@pytest.mark.parametrize(
    "metric",
    [
        {"value": "0.9"},
        {"type": "auc"},
        {"type": "auc", "value": None},
        {"type": "auc", "value": "n/a"},
        {"type": "auc", "value": "nan"},
        {"type": "auc", "value": "inf"},
        {"type": "auc", "value": True},
        {"type": "auc", "value": 10**400},
        {"type": "auc", "value": [0.9]},
        {"type": 3, "value": "0.9"},
        "auc=0.9",
    ],
)
def test_metrics_without_a_type_or_a_finite_value_are_skipped(metric: Any) -> None:
    good = {"type": "f1", "value": "0.5", "threshold": "high", "slice": 4}
    content = imported(quantitative_analysis={"performance_metrics": [metric, good]})
    assert content.evaluation == [EvaluationResult("f1", 0.5)]


@pytest.mark.parametrize("document", [None, [], "{}", 3, [{"model_details": {}}]])
def test_a_document_that_is_not_an_object_is_an_input_error(document: Any) -> None:
    with pytest.raises(InputError, match="JSON object"):
        content_from_model_card_toolkit(document)
