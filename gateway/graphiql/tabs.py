"""The tabs GraphiQL opens with: README's examples, ready to run against the demo.

Refs and names (``component:churn-training-pipeline``, ``resource:churn-model``)
are the demo catalog's. The two examples that take an id get one computed here
the way the gateway computes it (``resolvers.ids.encode_id`` of the natural key),
so it is the id the demo really has; ids are opaque to clients, stable for us.
The demo's names are spelled out rather than imported: ``gateway.demo`` needs
the ``demo`` extra, and this page is served without it.
``tests/gateway/test_graphiql_tabs.py`` runs every tab against the demo's data.
"""

from __future__ import annotations

from dataclasses import dataclass

from resolvers.ids import encode_id

DEMO_ACCOUNT = "123456789012"  # moto's default account, as in gateway/demo/names.py
DEMO_PIPELINE = "churn-training-pipeline"
DEMO_MODEL = "churn-model"
DEMO_SERVED_VERSION = 3  # the churn-model version the demo's endpoint serves

HEADERS_EDITOR = '{\n  "Authorization": ""\n}\n'
"""The header editor's text: an empty Authorization counts as none (anonymous in the
demo); a signed-in user puts ``Bearer <token>`` between the quotes."""


@dataclass(frozen=True)
class Tab:
    """One GraphiQL tab; GraphiQL titles it with the operation's name."""

    query: str

    def as_graphiql(self) -> dict[str, str]:
        return {"query": self.query, "headers": HEADERS_EDITOR}


def demo_pipeline_id(region: str) -> str:
    arn = f"arn:aws:states:{region}:{DEMO_ACCOUNT}:stateMachine:{DEMO_PIPELINE}"
    return encode_id("Pipeline", arn)


def demo_model_version_id(region: str) -> str:
    arn = (
        f"arn:aws:sagemaker:{region}:{DEMO_ACCOUNT}:model-package/"
        f"{DEMO_MODEL}/{DEMO_SERVED_VERSION}"
    )
    return encode_id("ModelVersion", arn)


OVERVIEW = """\
# mlmeta's GraphiQL, served by the gateway itself (no CDN, works offline).
# Run with Ctrl-Enter or the play button. The other tabs hold README's examples;
# Explorer (left) builds queries by clicking, Docs shows every field's cost.
query Overview {
  viewer { subject kind }
  sources { name healthy latencyMs lastError }
  pipeline(ref: "component:churn-training-pipeline") {
    latestExecution { id name status steps { name status } }
    metricEvolution(metrics: ["roc_auc"]) { points { startedAt value } }
  }
}
"""

ENTITY_PAGE = """\
# What a Backstage entity page shows: the pipeline's graph, its latest run, failures.
query EntityPage {
  entity(ref: "component:churn-training-pipeline") {
    pipeline {
      graph { nodes { name type parent } edges { from to } }
      latestExecution {
        status startedAt
        steps { name status durationSeconds attempts resourceArn }
      }
      executions(first: 20, status: [FAILED]) {
        edges { node { name error { error cause } } }
      }
    }
  }
}
"""

METRICS = """\
# Metric series per run (downsampled in the database) and their evolution across runs.
query Metrics {
  pipeline(ref: "component:churn-training-pipeline") {
    metricNames
    metricEvolution(metrics: ["roc_auc", "loss"], lastRuns: 50) {
      metric points { startedAt value execution { name } }
    }
    latestExecution {
      metrics { name value step }
      metricSeries(names: ["loss"], maxPoints: 500) { count downsampled min max columns }
    }
  }
}
"""

MODEL_CARD = """\
# A registered model's versions, its approved version's deployments and model card.
query ModelCard {
  entity(ref: "resource:churn-model") {
    model {
      versions(first: 10) { edges { node { version status createdAt } } }
      latestVersion(status: APPROVED) {
        version artifactUri metrics { name value }
        trainedBy { name status pipeline { name } }
        deployments { name environment status deployedAt }
        card {
          source revision status completeness markdown
          history { revision status updatedBy }
        }
      }
    }
  }
}
"""

LINEAGE = """\
# Where the model version in production came from (add asOf: "<instant>" to read
# the graph as it stood then). The id is churn-model version 3's.
query Lineage {
  lineage(of: "{model_version_id}", direction: UPSTREAM, depth: 10) {
    asOf truncated digest nodeIds
    nodes { __typename id ... on Dataset { uri version } ... on ModelCard { revision status } }
    edges { from to kind recordedAt origin }
  }
}
"""

WATCH_RUNS = """\
# Live: every change of the training pipeline's runs, over graphql-transport-ws.
# The demo starts a run every 5 minutes; this tab waits for it.
subscription WatchRuns {
  executionUpdated(pipelineId: "{pipeline_id}") { name status steps { name status } }
}
"""


def default_tabs(region: str) -> list[Tab]:
    """README's examples in the order README shows them, ids for ``region``'s demo."""
    return [
        Tab(OVERVIEW),
        Tab(ENTITY_PAGE),
        Tab(METRICS),
        Tab(MODEL_CARD),
        Tab(LINEAGE.replace("{model_version_id}", demo_model_version_id(region))),
        Tab(WATCH_RUNS.replace("{pipeline_id}", demo_pipeline_id(region))),
    ]
