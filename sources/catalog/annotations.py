"""How a catalog entity links to ML data: defined here once (README documents it).

Our own annotations come first; AWS's community ones are accepted as well so a
portal that already uses the AWS plugins needs no new annotations.
"""

from __future__ import annotations

from typing import Any

SPEC_TYPE_PIPELINE = "ml-pipeline"
SPEC_TYPE_MODEL = "ml-model"
SPEC_TYPE_DATASET = "dataset"

STEP_FUNCTIONS_ARN = ("mlmeta.io/step-functions-arn", "aws.amazon.com/step-functions-arn")
SAGEMAKER_PIPELINE = ("mlmeta.io/sagemaker-pipeline", "aws.amazon.com/sagemaker-pipeline-arn")
MODEL_PACKAGE_GROUP = (
    "mlmeta.io/model-package-group",
    "aws.amazon.com/sagemaker-model-package-group-arn",
)
DATASET_URI = ("mlmeta.io/dataset-uri",)


def first_annotation(entity: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    """The value of the first of ``keys`` the entity carries."""
    metadata = entity.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    if not isinstance(annotations, dict):
        return None
    for key in keys:
        value = annotations.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None
