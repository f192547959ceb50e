"""The annotation conventions that link entities to ML data."""

from __future__ import annotations

from sources.catalog.annotations import (
    MODEL_PACKAGE_GROUP,
    STEP_FUNCTIONS_ARN,
    AnnotationKeys,
    first_annotation,
)
from sources.pipelines.ids import claim_key


def entity(**annotations: str) -> dict[str, object]:
    return {"kind": "Component", "metadata": {"name": "x", "annotations": annotations}}


def test_our_annotation_wins_over_the_aws_one() -> None:
    e = entity(
        **{"mlmeta.io/step-functions-arn": "ours", "aws.amazon.com/step-functions-arn": "aws"}
    )
    assert first_annotation(e, STEP_FUNCTIONS_ARN) == "ours"


def test_the_aws_community_annotation_is_accepted() -> None:
    e = entity(**{"aws.amazon.com/sagemaker-model-package-group-arn": "arn:aws:sagemaker:g"})
    assert first_annotation(e, MODEL_PACKAGE_GROUP) == "arn:aws:sagemaker:g"


def test_blank_or_missing_annotations_are_none() -> None:
    assert (
        first_annotation(entity(**{"mlmeta.io/step-functions-arn": " "}), STEP_FUNCTIONS_ARN)
        is None
    )
    assert first_annotation({"metadata": {}}, STEP_FUNCTIONS_ARN) is None


ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:churn"


def test_the_state_machine_arn_key_some_portals_use_is_a_default() -> None:
    e = entity(**{"aws.amazon.com/step-functions-state-machine-arn": ARN})
    assert AnnotationKeys().pipeline_of(e) == ARN


def test_configured_keys_replace_the_defaults() -> None:
    keys = AnnotationKeys(step_functions=("portal.example.com/sfn",))
    assert keys.pipeline_of(entity(**{"portal.example.com/sfn": ARN})) == ARN
    assert keys.pipeline_of(entity(**{"mlmeta.io/step-functions-arn": ARN})) is None


def test_a_sagemaker_pipeline_named_without_arn_gets_a_name_id() -> None:
    e = entity(**{"mlmeta.io/sagemaker-pipeline": "fraud-training"})
    assert AnnotationKeys().pipeline_of(e) == "sagemaker-name:fraud-training"


def test_a_claim_on_a_sagemaker_pipeline_is_found_by_its_arn_or_its_name() -> None:
    arn = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/fraud-training"
    assert claim_key(arn) == claim_key("sagemaker-name:Fraud-Training")
    assert claim_key(ARN) == ARN
