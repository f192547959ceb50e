"""Model card mappings: metadb codec, SageMaker both ways, Model Card Toolkit, Markdown, checks.

The SageMaker content is the demo's (``gateway/demo/registry.py``), shaped
like real cards: a complete churn card, its first draft, and a partial fraud card.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.demo.plan import TRAINING_RUNS
from gateway.demo.registry import FRAUD_VERSIONS, churn_card, fraud_card
from sources.cards.codec import content_from_json, content_to_json
from sources.cards.completeness import check_transition, empty_sections
from sources.cards.markdown import render_markdown
from sources.cards.sagemaker import (
    content_from_sagemaker,
    content_to_sagemaker,
    status_from_sagemaker,
    status_to_sagemaker,
)
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

DRAFT = ModelCardStatus.DRAFT
PENDING_REVIEW = ModelCardStatus.PENDING_REVIEW
APPROVED = ModelCardStatus.APPROVED
ARCHIVED = ModelCardStatus.ARCHIVED
REGION = "us-east-1"
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-model/3"
TRAINING_JOB = "arn:aws:sagemaker:us-east-1:123456789012:training-job/churn-train-tuned-600-rounds"
HOLDOUT = "s3://mlmeta-demo-datasets/churn/holdout/2026-10/"
RUN = next(run for run in TRAINING_RUNS if run.name == "tuned-600-rounds")
SNAPSHOTS = Path(__file__).parent / "snapshots"


def churn(*, complete: bool = True) -> dict[str, Any]:
    return churn_card(RUN, 3, PACKAGE, TRAINING_JOB, REGION, complete=complete)


def fraud() -> dict[str, Any]:
    return fraud_card(PACKAGE.replace("churn-model", "fraud-detector"), FRAUD_VERSIONS[0], REGION)


def export(content: CardContent, **overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "model_name": "churn-model",
        "model_package_arn": PACKAGE,
        "group": "churn-model",
        "version": 3,
        "approval": "Approved",
    }
    return content_to_sagemaker(content, **{**arguments, **overrides})


def authored() -> CardContent:
    """A card written in mlmeta, every section filled, with the awkward bits."""
    return CardContent(
        overview="Predicts churn.",
        owners=["group:default/ml-platform", "user:default/alice", "user:default/bob"],
        version="3",
        license="Apache-2.0",
        references=["https://wiki.example.com/churn", "https://arxiv.org/abs/1810.03993"],
        intended_use=IntendedUse(
            primary_uses=["Rank subscribers by churn risk.", "Weekly batch scoring."],
            primary_users=["Retention team"],
            out_of_scope=["Business accounts"],
        ),
        factors=["Tenure", "Contract type"],
        evaluation=[
            EvaluationResult("auc", 0.903, "holdout", None, 0.85, True),
            EvaluationResult("recall", 0.44, "holdout", "tenure < 6; new", 0.5, False),
        ],
        training_data=[DatasetRef("s3://bucket/train.csv")],
        evaluation_data=[DatasetRef(HOLDOUT, name="holdout")],
        quantitative_analyses=["holdout: Recall drops for new customers."],
        ethical_considerations=["Age band is monitored."],
        caveats=["Retrain after price changes."],
        extra={"risk_rating": "Medium"},
    )


def record(content: CardContent, **fields: Any) -> CardRecord:
    defaults: dict[str, Any] = {
        "model_version_arn": PACKAGE,
        "source": CardSource.MLMETA,
        "revision": 2,
        "status": APPROVED,
        "updated_at": datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
        "updated_by": "user:default/alice",
    }
    return CardRecord(content=content, **{**defaults, **fields})


# ------------------------------------------------------------------- codec ---


def test_codec_round_trips_every_field_exactly() -> None:
    content = authored()
    assert content_from_json(content_to_json(content)) == content


def test_codec_round_trips_through_json_text() -> None:
    document = json.loads(json.dumps(content_to_json(authored())))
    assert content_from_json(document) == authored()


def test_codec_writes_every_key_even_when_empty() -> None:
    assert set(content_to_json(CardContent())) == {
        "overview",
        "owners",
        "version",
        "license",
        "references",
        "intended_use",
        "factors",
        "evaluation",
        "training_data",
        "evaluation_data",
        "quantitative_analyses",
        "ethical_considerations",
        "caveats",
        "extra",
    }


def test_codec_reads_older_rows_that_lack_keys() -> None:
    assert content_from_json({}) == CardContent()
    assert content_from_json({"overview": "x", "evaluation": [{"metric": "auc", "value": 1}]}) == (
        CardContent(overview="x", evaluation=[EvaluationResult("auc", 1.0)])
    )


def test_codec_refuses_numbers_json_cannot_hold() -> None:
    with pytest.raises(InputError, match="finite numbers"):
        content_to_json(CardContent(evaluation=[EvaluationResult("auc", float("nan"))]))


# ------------------------------------------------------- SageMaker reading ---


def test_sagemaker_overview_owners_and_version_are_read() -> None:
    content = content_from_sagemaker(churn())
    assert content.overview is not None
    assert content.overview.startswith("Gradient-boosted trees (XGBoost)")
    assert content.owners == ["group:default/ml-platform", "user:default/alice"]
    assert content.version == "3"


def test_sagemaker_purpose_and_intended_uses_are_primary_uses() -> None:
    intended = content_from_sagemaker(churn()).intended_use
    assert intended == IntendedUse(
        primary_uses=[
            "Rank subscribers by churn risk for retention campaigns.",
            "Weekly batch scoring of active subscribers; the top decile is offered a "
            "retention call.",
        ]
    )


def test_sagemaker_number_metrics_are_results_of_their_evaluation() -> None:
    evaluation = content_from_sagemaker(churn()).evaluation
    assert [(r.metric, r.value, r.dataset) for r in evaluation] == [
        ("auc", 0.903, "holdout-2026-10"),
        ("f1", 0.67, "holdout-2026-10"),
        ("precision", 0.71, "holdout-2026-10"),
        ("recall", 0.63, "holdout-2026-10"),
        ("month-to-month", 0.884, "segment-slices"),
        ("one-year", 0.912, "segment-slices"),
        ("two-year", 0.931, "segment-slices"),
    ]


def test_sagemaker_metrics_of_other_types_are_skipped() -> None:
    card = fraud()
    card["evaluation_details"][0]["metric_groups"].append(
        {
            "name": "other",
            "metric_data": [
                {"name": "label", "type": "string", "value": "fraud"},
                {"name": "calibrated", "type": "boolean", "value": True},
                {"name": "confusion", "type": "matrix", "value": [[1, 2], [3, 4]]},
                {"name": "roc", "type": "linear_graph", "value": [[0, 0], [1, 1]]},
            ],
        }
    )
    assert [r.metric for r in content_from_sagemaker(card).evaluation] == [
        "auc",
        "precision_at_1pct_fpr",
        "recall",
    ]


def test_sagemaker_datasets_are_training_and_evaluation_data() -> None:
    content = content_from_sagemaker(churn())
    assert content.training_data == [
        DatasetRef("s3://mlmeta-demo-datasets/churn/training/2026-11-01/train.csv")
    ]
    assert content.evaluation_data == [
        DatasetRef(HOLDOUT, name="holdout-2026-10"),
        DatasetRef(HOLDOUT, name="segment-slices"),
    ]


def test_sagemaker_evaluation_observations_are_quantitative_analyses() -> None:
    assert content_from_sagemaker(churn()).quantitative_analyses == [
        "holdout-2026-10: Passes the release gate (AUC >= 0.85) on the October holdout.",
        "segment-slices: AUC per contract type on the October holdout.",
    ]


def test_sagemaker_additional_information_gives_ethics_and_caveats() -> None:
    content = content_from_sagemaker(churn())
    assert content.factors == [
        "Tenure, contract type and recent support tickets dominate; scores drift after "
        "pricing changes."
    ]
    assert content.ethical_considerations == [
        "No protected attributes are features; age band is checked for disparate offer "
        "rates every month."
    ]
    assert content.caveats == [
        "Not validated for business accounts. Retrain after any price change."
    ]


def test_sagemaker_risk_rating_and_business_details_go_to_extra() -> None:
    extra = content_from_sagemaker(churn()).extra
    assert extra["risk_rating"] == "Medium"
    assert extra["business_problem"] == "Reduce voluntary churn of consumer subscriptions."
    assert extra["training_arn"] == TRAINING_JOB
    assert extra["hyper_parameters"] == {
        "eta": "0.05",
        "num_round": "600",
        "max_depth": "6",
        "subsample": "0.9",
    }
    assert extra["custom_details"] == {"catalog_entity": "resource:default/churn-model"}


def test_sagemaker_first_draft_leaves_its_missing_sections_empty() -> None:
    content = content_from_sagemaker(churn(complete=False))
    assert content.ethical_considerations == []
    assert content.caveats == []
    assert len(content.evaluation) == 4


def test_sagemaker_fraud_card_has_no_training_data() -> None:
    content = content_from_sagemaker(fraud())
    assert content.training_data == []
    assert content.version is None
    assert content.extra["risk_rating"] == "High"


@pytest.mark.parametrize(
    "odd",
    [
        {},
        {"model_overview": "not an object", "evaluation_details": {"name": "x"}},
        {"model_overview": {"model_version": True, "model_owner": 5, "model_description": ""}},
        {"intended_uses": {"purpose_of_model": ["a list"], "intended_uses": None}},
        {"evaluation_details": [None, 3, "x", {"metric_groups": "x"}]},
        {"evaluation_details": [{"name": 7, "datasets": [1, None], "metric_groups": [None]}]},
        {
            "evaluation_details": [
                {
                    "metric_groups": [
                        {
                            "metric_data": [
                                {"name": "auc", "type": "number", "value": "0.9"},
                                {"type": "number", "value": 1},
                                {"name": "", "type": "number", "value": 1},
                                {"name": "flag", "type": "number", "value": True},
                                {"name": "x", "type": "number", "value": 1, "notes": 5},
                                "not a metric",
                            ]
                        }
                    ]
                }
            ]
        },
        {"training_details": {"training_job_details": {"training_datasets": "s3://x"}}},
        {"training_details": {"training_job_details": {"hyper_parameters": [{"name": "a"}]}}},
        {"training_details": {"objective_function": {"function": "Minimize"}}},
        {"additional_information": {"custom_details": {"license": 3, "reference_x": "y"}}},
        {"additional_information": {"ethical_considerations": 12, "custom_details": []}},
    ],
)
def test_sagemaker_partial_or_odd_content_does_not_raise(odd: dict[str, Any]) -> None:
    content = content_from_sagemaker(odd)
    assert len(content.evaluation) <= 1
    assert content.intended_use is None
    assert content.overview is None


def test_sagemaker_notes_not_written_by_us_are_ignored() -> None:
    card = fraud()
    card["evaluation_details"][0]["metric_groups"][0]["metric_data"][0]["notes"] = (
        "Computed on the last week; threshold: see wiki"
    )
    auc = content_from_sagemaker(card).evaluation[0]
    assert (auc.slice, auc.threshold, auc.passed) == (None, None, None)


@pytest.mark.parametrize(
    ("sagemaker", "status"),
    [
        ("Draft", DRAFT),
        ("PendingReview", PENDING_REVIEW),
        ("Approved", APPROVED),
        ("Archived", ARCHIVED),
    ],
)
def test_statuses_map_both_ways(sagemaker: str, status: ModelCardStatus) -> None:
    assert status_from_sagemaker(sagemaker) is status
    assert status_to_sagemaker(status) == sagemaker


def test_unknown_sagemaker_status_reads_as_draft() -> None:
    assert status_from_sagemaker("UnderAudit") is DRAFT


# ------------------------------------------------------- SageMaker writing ---


@pytest.mark.parametrize(
    "card",
    [churn(), churn(complete=False), fraud()],
    ids=["churn-complete", "churn-draft", "fraud"],
)
def test_sagemaker_card_written_back_reads_the_same(card: dict[str, Any]) -> None:
    content = content_from_sagemaker(card)
    assert content_from_sagemaker(export(content, version=None)) == content


def test_sagemaker_write_back_keeps_training_job_facts() -> None:
    written = export(content_from_sagemaker(churn()))
    assert written["training_details"] == churn()["training_details"]
    assert written["business_details"] == churn()["business_details"]


def test_authored_card_round_trips_through_sagemaker() -> None:
    assert content_from_sagemaker(export(authored())) == authored()


def test_authored_card_puts_license_and_references_in_custom_details() -> None:
    custom = export(authored())["additional_information"]["custom_details"]
    assert custom == {
        "license": "Apache-2.0",
        "reference_1": "https://wiki.example.com/churn",
        "reference_2": "https://arxiv.org/abs/1810.03993",
    }


def test_slice_threshold_and_pass_travel_in_metric_notes() -> None:
    [holdout] = export(authored())["evaluation_details"]
    assert holdout["metric_groups"][0]["metric_data"][1] == {
        "name": "recall",
        "type": "number",
        "value": 0.44,
        "notes": "threshold: 0.5; passed: no; slice: tenure < 6; new",
    }


def test_written_content_keeps_to_the_schema_types() -> None:
    for content in (authored(), content_from_sagemaker(churn()), CardContent()):
        _assert_sagemaker_types(export(content))


def test_written_text_is_clipped_to_the_schema_limits() -> None:
    written = export(CardContent(overview="x" * 5000, factors=["y" * 3000]))
    assert len(written["model_overview"]["model_description"]) == 1024
    assert written["model_overview"]["model_description"].endswith("…")
    assert len(written["intended_uses"]["factors_affecting_model_efficiency"]) == 2048


def test_written_content_leaves_out_what_the_schema_refuses() -> None:
    content = CardContent(
        evaluation=[EvaluationResult("auc", float("inf")), EvaluationResult("f1", 0.6)],
        extra={"risk_rating": "Severe", "objective_function": {"function": {"function": "Up"}}},
    )
    written = export(content, approval="Shelved", version=0)
    assert "risk_rating" not in written.get("intended_uses", {})
    assert "training_details" not in written
    assert written["evaluation_details"][0]["metric_groups"][0]["metric_data"] == [
        {"name": "f1", "type": "number", "value": 0.6}
    ]
    assert written["model_package_details"] == {
        "model_package_arn": PACKAGE,
        "model_package_group_name": "churn-model",
    }
    assert "model_version" not in written["model_overview"]


def test_our_approval_spelling_is_written_as_sagemaker_s() -> None:
    written = export(CardContent(), approval="PENDING_MANUAL_APPROVAL")
    assert written["model_package_details"]["model_approval_status"] == "PendingManualApproval"


def test_without_a_package_version_a_numeric_card_version_is_used() -> None:
    assert export(CardContent(version="2"), version=None)["model_overview"]["model_version"] == 2
    assert (
        "model_version"
        not in export(CardContent(version="v2-beta"), version=None)["model_overview"]
    )


def _assert_sagemaker_types(doc: dict[str, Any]) -> None:
    """The parts of the model card JSON schema our writer could get wrong."""
    overview = doc["model_overview"]
    assert isinstance(overview["model_name"], str)
    if "model_version" in overview:
        assert isinstance(overview["model_version"], int | float)
        assert overview["model_version"] >= 1
    for value in doc.get("intended_uses", {}).values():
        assert isinstance(value, str)
        assert len(value) <= 2048
    assert doc.get("intended_uses", {}).get("risk_rating", "High") in (
        "High",
        "Medium",
        "Low",
        "Unknown",
    )
    for evaluation in doc.get("evaluation_details", []):
        assert isinstance(evaluation["name"], str)
        assert 1 <= len(evaluation["name"]) <= 63
        assert all(isinstance(uri, str) for uri in evaluation.get("datasets", []))
        assert len(evaluation.get("datasets", [])) <= 10
        for group in evaluation.get("metric_groups", []):
            assert isinstance(group["name"], str)
            for metric in group["metric_data"]:
                assert set(metric) <= {"name", "type", "value", "notes"}
                assert isinstance(metric["name"], str)
                assert metric["type"] == "number"
                assert isinstance(metric["value"], int | float)
                assert not isinstance(metric["value"], bool)
    job = doc.get("training_details", {}).get("training_job_details", {})
    assert all(isinstance(p["value"], str) for p in job.get("hyper_parameters", []))
    assert all(isinstance(m["value"], int | float) for m in job.get("training_metrics", []))
    custom = doc.get("additional_information", {}).get("custom_details", {})
    assert all(isinstance(v, str) and len(v) <= 1024 for v in custom.values())
    package = doc["model_package_details"]
    assert isinstance(package["model_package_version"], int | float)
    assert package["model_approval_status"] in ("Approved", "Rejected", "PendingManualApproval")
    json.dumps(doc, allow_nan=False)


# ------------------------------------------------------ Model Card Toolkit ---


def test_toolkit_export_has_the_schema_0_0_2_shape() -> None:
    exported = to_model_card_toolkit(record(authored()), model_name="churn-model")
    assert exported["schema_version"] == "0.0.2"
    assert exported["model_details"] == {
        "name": "churn-model",
        "overview": "Predicts churn.",
        "owners": [
            {"name": "group:default/ml-platform"},
            {"name": "user:default/alice"},
            {"name": "user:default/bob"},
        ],
        "version": {"name": "3", "date": "2026-11-20"},
        "licenses": [{"identifier": "Apache-2.0"}],
        "references": [
            {"reference": "https://wiki.example.com/churn"},
            {"reference": "https://arxiv.org/abs/1810.03993"},
        ],
    }
    assert exported["model_parameters"]["data"] == [
        {
            "name": "s3://bucket/train.csv",
            "link": "s3://bucket/train.csv",
            "description": "Training data",
        },
        {"name": "holdout", "link": HOLDOUT, "description": "Evaluation data"},
    ]
    assert exported["quantitative_analysis"]["performance_metrics"] == [
        {"type": "auc", "value": "0.903", "threshold": "0.85"},
        {"type": "recall", "value": "0.44", "slice": "tenure < 6; new", "threshold": "0.5"},
    ]
    assert exported["considerations"] == {
        "users": [{"description": "Retention team"}],
        "use_cases": [
            {"description": "Rank subscribers by churn risk."},
            {"description": "Weekly batch scoring."},
        ],
        "limitations": [
            {"description": "Retrain after price changes."},
            {"description": "Out of scope: Business accounts"},
            {"description": "Factor affecting performance: Tenure"},
            {"description": "Factor affecting performance: Contract type"},
        ],
        "ethical_considerations": [{"name": "Age band is monitored."}],
    }


def test_toolkit_license_that_is_not_an_identifier_is_custom_text() -> None:
    exported = to_model_card_toolkit(
        record(CardContent(license="Internal use only, see legal")), model_name="m"
    )
    assert exported["model_details"]["licenses"] == [
        {"custom_text": "Internal use only, see legal"}
    ]


def test_toolkit_owner_given_as_an_address_is_also_the_contact() -> None:
    exported = to_model_card_toolkit(record(CardContent(owners=["ml@example.com"])), model_name="m")
    assert exported["model_details"]["owners"] == [
        {"name": "ml@example.com", "contact": "ml@example.com"}
    ]


def test_toolkit_export_of_an_empty_card_keeps_only_the_frame() -> None:
    exported = to_model_card_toolkit(record(CardContent()), model_name="m")
    assert exported == {
        "schema_version": "0.0.2",
        "model_details": {"name": "m", "version": {"date": "2026-11-20"}},
        "model_parameters": {},
        "quantitative_analysis": {},
        "considerations": {},
    }


# ---------------------------------------------------------------- Markdown ---


def snapshot_card() -> CardRecord:
    """The complete churn card as read from SageMaker, with mlmeta's additions."""
    content = content_from_sagemaker(churn())
    return record(
        replace(
            content,
            license="Apache-2.0",
            references=["https://wiki.example.com/churn"],
            evaluation=[
                *content.evaluation,
                EvaluationResult("recall", 0.44, "holdout-2026-10", "tenure < 6 | new", 0.5, False),
                EvaluationResult("lift", 3.0, None, "top decile\nweekly", None, True),
            ],
        ),
        revision=3,
        status=PENDING_REVIEW,
    )


def test_markdown_matches_the_committed_snapshot() -> None:
    rendered = render_markdown(snapshot_card(), model_name="churn-model", version="3")
    path = SNAPSHOTS / "churn_model_card.md"
    if os.environ.get("MLMETA_UPDATE_SNAPSHOTS") == "1":
        path.write_text(rendered)
    assert rendered == path.read_text(), (
        "the Markdown card changed: review it, then run with MLMETA_UPDATE_SNAPSHOTS=1"
    )


def test_markdown_escapes_pipes_and_line_breaks_in_table_cells() -> None:
    rendered = render_markdown(snapshot_card(), model_name="churn-model", version="3")
    assert "| recall | 0.44 | holdout-2026-10 | tenure < 6 \\| new | 0.5 | no |" in rendered
    assert "| lift | 3 | — | top decile<br>weekly | — | yes |" in rendered


def test_markdown_marks_every_empty_section_not_documented() -> None:
    rendered = render_markdown(
        record(CardContent(), revision=0, status=DRAFT, updated_by=None),
        model_name="churn-model",
        version="4",
    )
    assert rendered.count("_Not documented yet._") == 12  # 8 sections + 4 model details
    assert "**Revision:** not saved yet" in rendered
    assert "- **Version:** 4" in rendered


def test_markdown_is_the_same_for_the_same_card() -> None:
    first = render_markdown(snapshot_card(), model_name="churn-model", version="3")
    assert render_markdown(snapshot_card(), model_name="churn-model", version="3") == first


# ------------------------------------------------------------ completeness ---

ALL_SECTIONS = [
    "overview",
    "owners",
    "license",
    "references",
    "intendedUse",
    "factors",
    "evaluation",
    "trainingData",
    "evaluationData",
    "quantitativeAnalyses",
    "ethicalConsiderations",
    "caveats",
]


def test_empty_card_lacks_every_section_in_card_order() -> None:
    assert empty_sections(CardContent()) == ALL_SECTIONS


def test_complete_churn_card_lacks_only_license_and_references() -> None:
    assert empty_sections(content_from_sagemaker(churn())) == ["license", "references"]


def test_first_churn_draft_also_lacks_ethics_and_caveats() -> None:
    assert empty_sections(content_from_sagemaker(churn(complete=False))) == [
        "license",
        "references",
        "ethicalConsiderations",
        "caveats",
    ]


def test_blank_overview_and_empty_intended_use_count_as_empty() -> None:
    content = CardContent(overview="  ", intended_use=IntendedUse())
    assert empty_sections(content)[:5] == [
        "overview",
        "owners",
        "license",
        "references",
        "intendedUse",
    ]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (None, DRAFT),
        (None, PENDING_REVIEW),
        (DRAFT, DRAFT),
        (DRAFT, PENDING_REVIEW),
        (DRAFT, ARCHIVED),
        (PENDING_REVIEW, PENDING_REVIEW),
        (PENDING_REVIEW, DRAFT),
        (PENDING_REVIEW, APPROVED),
        (PENDING_REVIEW, ARCHIVED),
        (APPROVED, DRAFT),
        (APPROVED, PENDING_REVIEW),
        (APPROVED, ARCHIVED),
    ],
)
def test_lifecycle_allows(old: ModelCardStatus | None, new: ModelCardStatus) -> None:
    check_transition(old, new, content_changed=True)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (None, APPROVED, "a new card starts as DRAFT or PENDING_REVIEW, not APPROVED"),
        (None, ARCHIVED, "a new card starts as DRAFT or PENDING_REVIEW, not ARCHIVED"),
        (DRAFT, APPROVED, "cannot go from DRAFT to APPROVED"),
        (ARCHIVED, DRAFT, "ARCHIVED, which is final"),
        (ARCHIVED, ARCHIVED, "ARCHIVED, which is final"),
    ],
)
def test_lifecycle_refuses(old: ModelCardStatus | None, new: ModelCardStatus, message: str) -> None:
    with pytest.raises(InputError, match=message):
        check_transition(old, new, content_changed=False)


def test_approved_card_content_cannot_change_while_it_stays_approved() -> None:
    with pytest.raises(InputError, match="reopen it as DRAFT or send it to PENDING_REVIEW"):
        check_transition(APPROVED, APPROVED, content_changed=True)


def test_approved_card_may_be_saved_again_unchanged() -> None:
    check_transition(APPROVED, APPROVED, content_changed=False)
