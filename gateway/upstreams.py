"""Which fields need which upstream: the table behind the schema's nullability rule.

The rule (README, "Schema conventions"): a field whose value needs an upstream
call is nullable, so that when the upstream fails graphql-core nulls that field
alone, not everything up to the nearest nullable ancestor. Where the items of a
list are looked up one by one, each can fail on its own: the items are
nullable too. Fields computed from what is already in hand stay non-null.

Keyed by ``Type.field``, like ``gateway.limits.weights``. A field listed here
with ``answers`` catches its sources' failures, reports them as errors and
returns what the other sources gave (``gateway.partial_results``), so it may
stay non-null; one with ``partial`` does so for those sources only (training
metrics imported from AWS, lineage edges AWS implies) and is null when another
fails. ``tests/gateway/test_nullability.py`` holds the schema to this
table, and the table to the weights and the resolvers; each listed field's
description names its sources (``annotate_sources``).
"""

from __future__ import annotations

from dataclasses import dataclass

from graphql import GraphQLSchema


@dataclass(frozen=True)
class Upstream:
    sources: str
    """The upstreams the field may call, ``|``-separated, as in ``extensions.source``."""
    items: bool = False
    """A list whose items are looked up one by one: each item may fail (and null) alone."""
    answers: bool = False
    """Catches its sources' failures and reports them: it always answers, so non-null."""
    partial: str = ""
    """Sources (``|``-separated, among ``sources``) whose failure the field reports while
    answering what the others gave: the part they add is missing, not the field."""


RUNS = "stepfunctions|sagemaker|metadb"  # a run: live from AWS, or stored / pushed
PIPELINE = "stepfunctions|sagemaker|metadb|catalog"  # described, then its claim checked
REGISTRY = "sagemaker|catalog"  # a model, readable if its claiming entity is
ANY = "catalog|stepfunctions|sagemaker|metadb"  # a node of any type
METRICS = "metadb|sagemaker|cloudwatch"  # stored, once imported from the training job
IMPORTED = "sagemaker|cloudwatch"  # the import failing leaves what is stored, reported

UPSTREAMS: dict[str, Upstream] = {
    # Roots.
    "Query.node": Upstream(ANY),
    "Query.nodes": Upstream(ANY, items=True, answers=True),
    "Query._entities": Upstream(ANY, items=True, answers=True),  # federation only
    "Query.sources": Upstream(f"{ANY}|cloudwatch|redis", answers=True),
    "Query.entity": Upstream("catalog"),
    "Query.entities": Upstream("catalog"),
    "Query.entityFacets": Upstream("catalog"),
    "Query.pipeline": Upstream(PIPELINE),
    "Query.pipelines": Upstream(PIPELINE, answers=True),
    "Query.execution": Upstream(RUNS),
    "Query.compareRuns": Upstream(RUNS, items=True, answers=True),
    "Query.compareRunsTable": Upstream(RUNS),
    "Query.model": Upstream(REGISTRY),
    "Query.models": Upstream(REGISTRY),
    "Query.modelVersion": Upstream(REGISTRY),
    "Query.lineage": Upstream("metadb|catalog|sagemaker", partial="sagemaker"),
    "Query.dataset": Upstream("metadb"),
    "Query.impact": Upstream("metadb|catalog|sagemaker", partial="sagemaker"),
    "Subscription.executionUpdated": Upstream(f"{RUNS}|redis"),
    # Writes: nullable, so a failed write nulls its own field and not the results of
    # the writes before it in the same document, which are done.
    "Mutation.recordRun": Upstream("metadb|catalog"),
    "Mutation.logMetrics": Upstream(f"{RUNS}|catalog"),
    "Mutation.upsertModelCard": Upstream("metadb|sagemaker|catalog"),
    "Mutation.importModelCard": Upstream("metadb|sagemaker|catalog"),
    "Mutation.recordLineage": Upstream("metadb"),
    "Mutation.retireLineage": Upstream("metadb"),
    # Catalog.
    "Viewer.user": Upstream("catalog"),
    "Viewer.ownedEntities": Upstream("catalog"),
    "CatalogEntity.owner": Upstream("catalog"),
    "CatalogEntity.system": Upstream("catalog"),
    "CatalogEntity.pipeline": Upstream(PIPELINE),
    "CatalogEntity.model": Upstream(REGISTRY),
    "EntityRelation.target": Upstream("catalog"),
    "Dataset.entity": Upstream("catalog"),
    # Pipelines and runs.
    "PipelineEdge.node": Upstream(PIPELINE),
    "Pipeline.entity": Upstream("catalog"),
    "Pipeline.executions": Upstream(RUNS),
    "Pipeline.models": Upstream(REGISTRY, items=True),
    "Pipeline.metricNames": Upstream("metadb"),
    "Pipeline.metricEvolution": Upstream("metadb"),
    "Pipeline.latestExecution": Upstream(RUNS),
    "PipelineExecutionConnection.table": Upstream(METRICS, partial=IMPORTED),
    "PipelineExecution.pipeline": Upstream(PIPELINE),
    "PipelineExecution.error": Upstream(RUNS),
    "PipelineExecution.parameters": Upstream(RUNS),
    "PipelineExecution.metrics": Upstream(METRICS, partial=IMPORTED),
    "PipelineExecution.metricSeries": Upstream(METRICS, partial=IMPORTED),
    "PipelineExecution.inputs": Upstream("metadb"),
    "PipelineExecution.producedModels": Upstream(f"metadb|{REGISTRY}", items=True),
    "PipelineExecution.steps": Upstream(RUNS),
    "RunMetricPoint.execution": Upstream(RUNS),
    "MetricSeries.execution": Upstream(RUNS),
    # Models and cards.
    "Model.entity": Upstream("catalog"),
    "Model.versions": Upstream("sagemaker"),
    "Model.latestVersion": Upstream("sagemaker"),
    "ModelVersion.model": Upstream(REGISTRY),
    "ModelVersion.approval": Upstream("sagemaker"),
    "ModelVersion.artifactUri": Upstream("sagemaker"),
    "ModelVersion.trainedBy": Upstream(RUNS),
    "ModelVersion.metrics": Upstream("sagemaker"),
    "ModelVersion.metadata": Upstream("sagemaker"),
    "ModelVersion.reports": Upstream("sagemaker"),
    "ModelVersion.deployments": Upstream("sagemaker"),
    # A draft pre-filled with the training run's metrics: imported from AWS if need be.
    "ModelVersion.card": Upstream("metadb|sagemaker|catalog|cloudwatch", partial="cloudwatch"),
    "ModelVersion.cards": Upstream("metadb|sagemaker"),
    "ModelCard.history": Upstream("metadb|sagemaker"),
    # Lineage.
    "LineageGraph.root": Upstream(ANY),
    "LineageGraph.nodes": Upstream(ANY, items=True),
    "LineageGraph.openLineage": Upstream(RUNS),
    "ImpactPath.deployment": Upstream(REGISTRY),
    "ImpactPath.path": Upstream(ANY, items=True),
}

IN_HAND: dict[str, str] = {
    # Weighted in gateway.limits.weights (the work of getting them is real), but
    # served from what the parent already holds: they cannot fail on their own.
    "Pipeline.graph": "described with its pipeline; no Pipeline exists without it",
    "Deployment.modelVersion": "the version the deployment was found for",
    "ModelCard.modelVersion": "the version the card was read for",
    "ModelCard.trainingData": "named in the card's own content",
    "ModelCard.evaluationData": "named in the card's own content",
}


def sources_of(key: str) -> list[str]:
    return UPSTREAMS[key].sources.split("|")


def describe(key: str) -> str | None:
    """The sentence appended to a listed field's description, or None."""
    upstream = UPSTREAMS.get(key)
    if upstream is None:
        return None
    names = ", ".join(sources_of(key))
    partial = upstream.partial.split("|") if upstream.partial else []
    if upstream.answers:
        sentence = f"Sources: {names} (one failing is reported; the rest still answers)."
    elif partial:
        others = ", ".join(s for s in sources_of(key) if s not in partial)
        sentence = (
            f"Sources: {others} (null if one fails); {', '.join(partial)} (one failing is "
            "reported; the field answers without its part)."
        )
    else:
        sentence = f"Sources: {names} (null if one fails)."
    if upstream.items:
        sentence += " Items may be null alone."
    return sentence


def annotate_sources(schema: GraphQLSchema) -> None:
    """Append each listed field's sources to its description (GraphiQL's docs, the SDL)."""
    for key in UPSTREAMS:
        type_name, field_name = key.split(".")
        graphql_type = schema.get_type(type_name)
        found = getattr(graphql_type, "fields", {}).get(field_name)
        sentence = describe(key)
        if found is None or sentence is None or sentence in (found.description or ""):
            continue
        found.description = f"{found.description} {sentence}" if found.description else sentence
