"""A first draft of a model card, from what mlmeta already knows about the version.

Nothing here is invented: each section is filled only from a fact another
source holds (the registry, the training run, its metrics, the catalog);
everything else stays empty and shows up in ``completeness``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sources.models.model import (
    CardContent,
    DatasetRef,
    EvaluationResult,
    VersionDetail,
    VersionSummary,
)

DATASET_KEY = "mlmeta:dataset-uri"


@dataclass(frozen=True)
class KnownFacts:
    """What the other sources say about one version."""

    summary: VersionSummary
    detail: VersionDetail | None = None
    model_description: str | None = None
    run_name: str | None = None
    run_metrics: dict[str, float] = field(default_factory=dict)
    """The training run's final (last reported) value of each metric."""
    input_datasets: Sequence[DatasetRef] = ()
    owner: str | None = None
    entity_ref: str | None = None


def prefilled_content(facts: KnownFacts) -> CardContent:
    summary, detail = facts.summary, facts.detail
    overview = summary.description or facts.model_description
    references: list[str] = []
    if facts.entity_ref:
        references.append(f"Backstage catalog entity {facts.entity_ref}")
    if facts.run_name:
        references.append(f"Training run {facts.run_name}")
    if detail is not None:
        references += [f"{report}: {uri}" for report, uri in sorted(detail.model_metrics.items())]
    evaluation = [
        EvaluationResult(metric=name, value=value, dataset="registered with the version")
        for name, value in sorted((detail.metrics if detail else {}).items())
    ]
    evaluation += [
        EvaluationResult(metric=name, value=value, dataset="training run")
        for name, value in sorted(facts.run_metrics.items())
    ]
    # The dataset the pipeline declared first, then what lineage says the run read.
    recorded = detail.customer_metadata.get(DATASET_KEY) if detail else None
    training = [DatasetRef(uri=recorded)] if recorded else []
    training += [d for d in facts.input_datasets if d.uri != recorded]
    return CardContent(
        overview=overview,
        owners=[facts.owner] if facts.owner else [],
        version=str(summary.version),
        references=references,
        evaluation=evaluation,
        training_data=training,
    )
