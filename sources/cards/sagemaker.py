"""SageMaker Model Card content <-> CardContent.

SageMaker keeps a card as one JSON document (the model card JSON schema),
mostly free text where CardContent keeps lists. The mapping:

- overview: ``model_overview.model_description``; owners: ``model_owner``, then
  ``model_creator`` (the owners past the first, joined by ``; ``); version:
  ``model_overview.model_version`` (a number);
- license, references: ``additional_information.custom_details`` (``license``,
  ``reference_1``, ...): SageMaker has no field for them;
- intended use: ``purpose_of_model``, then the lines of ``intended_uses``, where
  lines starting ``Primary user:`` or ``Out of scope:`` are users and out-of-scope uses;
- factors, ethical considerations, caveats: one item per line of
  ``factors_affecting_model_efficiency``, ``ethical_considerations``,
  ``caveats_and_recommendations``;
- evaluation: the ``number`` metrics of ``evaluation_details[].metric_groups[]``, the
  evaluation's name as dataset; slice, threshold and pass/fail travel in the
  metric's ``notes`` (``threshold: 0.85; passed: yes; slice: tenure < 6``);
- training data: ``training_datasets``; evaluation data: each evaluation's
  ``datasets``, named after it; quantitative analyses: each
  ``evaluation_observation``, as ``<evaluation>: <observation>``;
- extra: risk rating, business details, training job facts and the other
  custom details, under their SageMaker names, so writing a card back to
  SageMaker keeps them.

Reading (``sagemaker_read``) never raises on a JSON object: real cards are partial, so
whatever is missing or of an unexpected type is skipped (so are non-number metrics).
Writing (``sagemaker_write``) keeps to the schema's types and lengths (longer text is
clipped), and a card read from SageMaker and written back reads the same.
"""

from __future__ import annotations

from sources.cards.sagemaker_read import content_from_sagemaker
from sources.cards.sagemaker_write import content_to_sagemaker
from sources.metadb.models import ModelCardStatus

__all__ = [
    "content_from_sagemaker",
    "content_to_sagemaker",
    "status_from_sagemaker",
    "status_to_sagemaker",
]

_STATUS_FROM_SAGEMAKER = {
    "Draft": ModelCardStatus.DRAFT,
    "PendingReview": ModelCardStatus.PENDING_REVIEW,
    "Approved": ModelCardStatus.APPROVED,
    "Archived": ModelCardStatus.ARCHIVED,
}
_STATUS_TO_SAGEMAKER = {status: name for name, status in _STATUS_FROM_SAGEMAKER.items()}


def status_from_sagemaker(status: str) -> ModelCardStatus:
    """The status of a SageMaker card; an unknown one reads as DRAFT (it approves nothing)."""
    return _STATUS_FROM_SAGEMAKER.get(status, ModelCardStatus.DRAFT)


def status_to_sagemaker(status: ModelCardStatus) -> str:
    """The ``ModelCardStatus`` SageMaker's API takes: Draft, PendingReview, Approved, Archived."""
    return _STATUS_TO_SAGEMAKER[status]
