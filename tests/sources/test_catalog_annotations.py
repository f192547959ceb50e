"""The annotation conventions that link entities to ML data."""

from __future__ import annotations

from sources.catalog.annotations import MODEL_PACKAGE_GROUP, STEP_FUNCTIONS_ARN, first_annotation


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
