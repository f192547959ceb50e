"""How a catalog entity links to ML data: defined here once (README documents it).

Which annotation keys link an entity to an AWS resource is configurable
(portals name them differently); these are the defaults. Our own keys come
first; AWS's community ones are accepted as well, so a portal that already
uses the AWS plugins needs no new annotations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sources.pipelines.ids import SAGEMAKER_NAME_PREFIX

SPEC_TYPE_PIPELINE = "ml-pipeline"
SPEC_TYPE_MODEL = "ml-model"
SPEC_TYPE_DATASET = "dataset"

STEP_FUNCTIONS_ARN = (
    "mlmeta.io/step-functions-arn",
    "aws.amazon.com/step-functions-arn",
    "aws.amazon.com/step-functions-state-machine-arn",
)
SAGEMAKER_PIPELINE = ("mlmeta.io/sagemaker-pipeline", "aws.amazon.com/sagemaker-pipeline-arn")
MODEL_PACKAGE_GROUP = (
    "mlmeta.io/model-package-group",
    "aws.amazon.com/sagemaker-model-package-group-arn",
)
DATASET_URI = ("mlmeta.io/dataset-uri",)


@dataclass(frozen=True)
class AnnotationKeys:
    """The annotation keys read for each link, in order: the first one an entity carries wins."""

    step_functions: tuple[str, ...] = STEP_FUNCTIONS_ARN
    sagemaker_pipeline: tuple[str, ...] = SAGEMAKER_PIPELINE
    model_package_group: tuple[str, ...] = MODEL_PACKAGE_GROUP
    dataset_uri: tuple[str, ...] = DATASET_URI

    def pipeline_of(self, entity: dict[str, Any]) -> str | None:
        """The id of the pipeline the entity is linked to: a state machine ARN, a SageMaker
        pipeline ARN, or ``sagemaker-name:<name>`` when the annotation holds a bare name."""
        arn = first_annotation(entity, self.step_functions)
        if arn:
            return arn
        sagemaker = first_annotation(entity, self.sagemaker_pipeline)
        if sagemaker:
            return sagemaker if sagemaker.startswith("arn:") else SAGEMAKER_NAME_PREFIX + sagemaker
        return None

    def model_group_of(self, entity: dict[str, Any]) -> str | None:
        """The model package group (name or ARN) the entity claims."""
        return first_annotation(entity, self.model_package_group)

    def dataset_uri_of(self, entity: dict[str, Any]) -> str | None:
        """The location prefix of the dataset the entity stands for."""
        return first_annotation(entity, self.dataset_uri)


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
