"""What each field costs: its own work and, for lists, how many items to expect.

Keyed by ``Type.field``. A field not listed weighs nothing of its own: it costs
1 per object it returns (0 for a scalar), times the items of a list. Fields
whose resolver reaches an upstream weigh more, by the upstream's price: a call
served from the metadb or the catalog is cheap next to an AWS API call, which is
throttled per account. Loaders batch those calls, so a weight is the share of
work a field adds, not one request each: a ranking, not a bill.

The README's "Errors and limits" section summarises this table; the schema's
field descriptions state each weighted field's cost (``describe``).
"""

from __future__ import annotations

from dataclasses import dataclass

from graphql import GraphQLSchema

METADB = 2  # a metadb query (batched per request by a loader)
CATALOG = 2  # a catalog read (Backstage by-refs / query, or the folder index)
REGISTRY = 3  # SageMaker registry, mostly from an index cached for seconds
AWS = 5  # a live AWS call: DescribeExecution, GetExecutionHistory, ListExecutions...
PROBE = 10  # every source checked now

DEFAULT_PAGE = 50  # a connection's page when neither `first` nor its default says
DEFAULT_LIST = 10  # a list of objects with nothing better known


@dataclass(frozen=True)
class FieldCost:
    weight: int = 0
    """Work of resolving the field, once per parent object."""
    items: int | None = None
    """Expected items of a list field when no argument says."""
    items_from: str | None = None
    """This field's argument that counts the items: an Int, or a list's length."""
    items_from_parent: str | None = None
    """The enclosing field's argument that counts the items (e.g. `lastRuns`)."""
    weight_per_item: bool = False
    """The weight is paid per counted item (a list of ids is looked up one by one)."""


WEIGHTS: dict[str, FieldCost] = {
    # Roots.
    "Query.node": FieldCost(METADB),
    "Query.nodes": FieldCost(METADB, items=100, items_from="ids", weight_per_item=True),
    # A router's batch (gateway.federation): one lookup per representation, like `nodes`.
    "Query._entities": FieldCost(
        METADB, items=100, items_from="representations", weight_per_item=True
    ),
    "Query.sources": FieldCost(PROBE, items=6),
    "Query.entity": FieldCost(CATALOG),
    "Query.entities": FieldCost(CATALOG),
    "Query.entityFacets": FieldCost(CATALOG, items=20),
    "Query.pipeline": FieldCost(CATALOG + METADB),
    "Query.pipelines": FieldCost(CATALOG + METADB),
    "Query.execution": FieldCost(AWS),
    "Query.compareRuns": FieldCost(
        METADB, items=100, items_from="executionIds", weight_per_item=True
    ),
    "Query.compareRunsTable": FieldCost(
        METADB, items=100, items_from="executionIds", weight_per_item=True
    ),
    "Query.model": FieldCost(REGISTRY),
    "Query.models": FieldCost(REGISTRY),
    "Query.modelVersion": FieldCost(REGISTRY),
    "Query.lineage": FieldCost(5 * METADB),
    "Query.dataset": FieldCost(METADB),
    "Query.impact": FieldCost(5 * METADB, items=DEFAULT_LIST),
    "Subscription.executionUpdated": FieldCost(AWS),
    "Mutation.recordRun": FieldCost(5 * METADB),
    "Mutation.logMetrics": FieldCost(5 * METADB),
    "Mutation.upsertModelCard": FieldCost(5 * METADB),
    "Mutation.importModelCard": FieldCost(5 * METADB),
    "Mutation.recordLineage": FieldCost(5 * METADB),
    "Mutation.retireLineage": FieldCost(5 * METADB),
    # Catalog.
    "Viewer.user": FieldCost(CATALOG),
    "Viewer.ownedEntities": FieldCost(CATALOG),
    "CatalogEntity.owner": FieldCost(CATALOG),
    "CatalogEntity.system": FieldCost(CATALOG),
    "CatalogEntity.pipeline": FieldCost(METADB),
    "CatalogEntity.model": FieldCost(REGISTRY),
    "CatalogEntity.relations": FieldCost(items=10),
    "EntityRelation.target": FieldCost(CATALOG),
    "Dataset.entity": FieldCost(CATALOG),
    # Pipelines and runs.
    "Pipeline.graph": FieldCost(AWS),
    "Pipeline.entity": FieldCost(CATALOG),
    "Pipeline.executions": FieldCost(AWS),
    "Pipeline.models": FieldCost(CATALOG + REGISTRY, items=5),
    "Pipeline.metricNames": FieldCost(METADB),
    "Pipeline.metricEvolution": FieldCost(METADB, items=DEFAULT_LIST, items_from="metrics"),
    "Pipeline.latestExecution": FieldCost(AWS),
    "PipelineGraph.nodes": FieldCost(items=30),
    "PipelineGraph.edges": FieldCost(items=30),
    "PipelineExecutionConnection.table": FieldCost(METADB),
    "PipelineExecution.pipeline": FieldCost(METADB),
    "PipelineExecution.error": FieldCost(AWS),
    "PipelineExecution.parameters": FieldCost(AWS, items=20),
    "PipelineExecution.metrics": FieldCost(METADB, items=20),
    "PipelineExecution.metricSeries": FieldCost(METADB, items=DEFAULT_LIST, items_from="names"),
    "PipelineExecution.inputs": FieldCost(METADB, items=5),
    "PipelineExecution.producedModels": FieldCost(METADB, items=5),
    "PipelineExecution.steps": FieldCost(AWS, items=20),
    "MetricEvolution.points": FieldCost(items=50, items_from_parent="lastRuns"),
    "RunMetricPoint.execution": FieldCost(METADB),
    "MetricSeries.execution": FieldCost(METADB),
    "MetricSeries.points": FieldCost(items=500, items_from_parent="maxPoints"),
    # Models and cards.
    "Model.entity": FieldCost(CATALOG),
    "Model.versions": FieldCost(REGISTRY),
    "Model.latestVersion": FieldCost(REGISTRY),
    "ModelVersion.model": FieldCost(REGISTRY),
    "ModelVersion.approval": FieldCost(AWS),
    "ModelVersion.artifactUri": FieldCost(REGISTRY),
    "ModelVersion.trainedBy": FieldCost(METADB),
    "ModelVersion.metrics": FieldCost(REGISTRY, items=20),
    "ModelVersion.metadata": FieldCost(REGISTRY, items=10),
    "ModelVersion.reports": FieldCost(REGISTRY, items=10),
    "ModelVersion.deployments": FieldCost(REGISTRY, items=5),
    "ModelVersion.card": FieldCost(METADB),
    "ModelVersion.cards": FieldCost(METADB, items=3),
    "Deployment.modelVersion": FieldCost(REGISTRY),
    "ModelCard.modelVersion": FieldCost(REGISTRY),
    "ModelCard.trainingData": FieldCost(METADB, items=5),
    "ModelCard.evaluationData": FieldCost(METADB, items=5),
    "ModelCard.history": FieldCost(METADB, items=DEFAULT_LIST),
    # Lineage: a graph holds at most nodeBudget nodes.
    "LineageGraph.root": FieldCost(METADB),
    "LineageGraph.nodes": FieldCost(items=1000, items_from_parent="nodeBudget"),
    "LineageGraph.edges": FieldCost(items=1000, items_from_parent="nodeBudget"),
    "ImpactPath.deployment": FieldCost(REGISTRY),
    "ImpactPath.path": FieldCost(items=DEFAULT_LIST),
}


def describe(key: str) -> str | None:
    """The sentence appended to a listed field's description, or None."""
    cost = WEIGHTS.get(key)
    if cost is None:
        return None
    parts = []
    if cost.weight:
        per = " per item" if cost.weight_per_item else ""
        parts.append(f"{cost.weight}{per} for the upstream work")
    counter = cost.items_from or cost.items_from_parent
    if counter is not None:
        parts.append(f"items counted from `{counter}` ({cost.items} when not given)")
    elif cost.items is not None:
        parts.append(f"counted as {cost.items} items")
    return "Cost: " + "; ".join(parts) + "."


def annotate_costs(schema: GraphQLSchema) -> None:
    """Append each weighted field's cost to its description (GraphiQL's docs, the SDL)."""
    for key in WEIGHTS:
        type_name, field_name = key.split(".")
        graphql_type = schema.get_type(type_name)
        found = getattr(graphql_type, "fields", {}).get(field_name)
        sentence = describe(key)
        if found is None or sentence is None or "Cost:" in (found.description or ""):
            continue
        found.description = f"{found.description} {sentence}" if found.description else sentence
