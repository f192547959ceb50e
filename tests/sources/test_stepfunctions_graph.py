"""graph_from_definition: the static DAG of an Amazon States Language definition."""

from __future__ import annotations

from typing import Any

from gateway.demo.asl import training_pipeline
from gateway.demo.asl_scoring import scoring_pipeline
from sources.pipelines.model import GraphEdge, GraphNode
from sources.stepfunctions.graph import graph_from_definition

TRAINING = {
    "StartAt": "Validate",
    "States": {
        "Validate": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:s3:headObject",
            "Catch": [
                {"ErrorEquals": ["States.TaskFailed"], "Next": "Invalid"},
                {"ErrorEquals": ["States.ALL"], "Next": "Invalid"},
            ],
            "Next": "Features",
        },
        "Invalid": {"Type": "Fail", "Error": "DataValidationFailed"},
        "Features": {
            "Type": "Parallel",
            "Branches": [
                {
                    "StartAt": "Customers",
                    "States": {
                        "Customers": {"Type": "Task", "Resource": "r", "Next": "Join"},
                        "Join": {"Type": "Pass", "End": True},
                    },
                },
                {
                    "StartAt": "UsageReady",
                    "States": {
                        "UsageReady": {
                            "Type": "Choice",
                            "Choices": [
                                {"Variable": "$.usage", "IsPresent": True, "Next": "Usage"}
                            ],
                            "Default": "NoUsage",
                        },
                        "Usage": {"Type": "Task", "Resource": "r", "End": True},
                        "NoUsage": {"Type": "Succeed"},
                    },
                },
            ],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Invalid"}],
            "Next": "Score",
        },
        "Score": {
            "Type": "Map",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "Predict",
                "States": {
                    "Predict": {"Type": "Task", "Resource": "r", "Next": "Write"},
                    "Write": {"Type": "Task", "Resource": "r", "End": True},
                },
            },
            "Next": "Gate",
        },
        "Gate": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.auc", "NumericGreaterThanEquals": 0.85, "Next": "Register"},
                {"Variable": "$.auc", "NumericLessThan": 0.5, "Next": "Broken"},
                {"Variable": "$.retry", "BooleanEquals": True, "Next": "Register"},
            ],
            "Default": "Rejected",
        },
        "Register": {"Type": "Task", "Resource": "r", "Next": "Done"},
        "Rejected": {"Type": "Fail", "Error": "QualityGate"},
        "Broken": {"Type": "Fail"},
        "Done": {"Type": "Succeed"},
    },
}


def edges(*pairs: str) -> list[GraphEdge]:
    return [GraphEdge(*pair.split(" -> ")) for pair in pairs]


def test_every_state_is_a_node_with_its_enclosing_state_as_parent() -> None:
    graph = graph_from_definition(TRAINING)
    assert graph.nodes == [
        GraphNode("Validate", "Task"),
        GraphNode("Invalid", "Fail"),
        GraphNode("Features", "Parallel"),
        GraphNode("Customers", "Task", parent="Features"),
        GraphNode("Join", "Pass", parent="Features"),
        GraphNode("UsageReady", "Choice", parent="Features"),
        GraphNode("Usage", "Task", parent="Features"),
        GraphNode("NoUsage", "Succeed", parent="Features"),
        GraphNode("Score", "Map"),
        GraphNode("Predict", "Task", parent="Score"),
        GraphNode("Write", "Task", parent="Score"),
        GraphNode("Gate", "Choice"),
        GraphNode("Register", "Task"),
        GraphNode("Rejected", "Fail"),
        GraphNode("Broken", "Fail"),
        GraphNode("Done", "Succeed"),
    ]


def test_edges_follow_next_choices_catches_and_nested_flows_once_each() -> None:
    assert graph_from_definition(TRAINING).edges == edges(
        "Validate -> Features",
        "Validate -> Invalid",  # two catchers, one edge
        "Features -> Customers",
        "Features -> UsageReady",
        "Features -> Score",
        "Features -> Invalid",
        "Customers -> Join",
        "Join -> Score",  # a branch's ends join the Parallel's Next
        "UsageReady -> Usage",
        "UsageReady -> NoUsage",
        "Usage -> Score",
        "NoUsage -> Score",  # a Succeed ends its branch too
        "Score -> Predict",
        "Score -> Gate",
        "Predict -> Write",
        "Write -> Gate",
        "Gate -> Register",  # two rules, one edge
        "Gate -> Broken",
        "Gate -> Rejected",  # Default after the rules
        "Register -> Done",
    )


def test_legacy_map_iterator_is_read_like_an_item_processor() -> None:
    definition = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "Iterator": {"StartAt": "One", "States": {"One": {"Type": "Pass", "End": True}}},
                "Next": "After",
            },
            "After": {"Type": "Pass", "End": True},
        },
    }
    graph = graph_from_definition(definition)
    assert graph.nodes == [
        GraphNode("Each", "Map"),
        GraphNode("One", "Pass", parent="Each"),
        GraphNode("After", "Pass"),
    ]
    assert graph.edges == edges("Each -> One", "Each -> After", "One -> After")


def test_nested_parallel_in_a_map_has_the_innermost_parent() -> None:
    definition = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemProcessor": {
                    "StartAt": "Both",
                    "States": {
                        "Both": {
                            "Type": "Parallel",
                            "Branches": [
                                {"StartAt": "L", "States": {"L": {"Type": "Pass", "End": True}}},
                                {"StartAt": "R", "States": {"R": {"Type": "Pass", "End": True}}},
                            ],
                            "End": True,
                        }
                    },
                },
                "End": True,
            }
        },
    }
    graph = graph_from_definition(definition)
    assert [(n.name, n.parent) for n in graph.nodes] == [
        ("Each", None),
        ("Both", "Each"),
        ("L", "Both"),
        ("R", "Both"),
    ]
    # Nothing follows an End: true Parallel or Map, so no join edges.
    assert graph.edges == edges("Each -> Both", "Both -> L", "Both -> R")


def test_malformed_definitions_give_what_can_be_read() -> None:
    assert graph_from_definition({}).nodes == []
    odd: dict[str, Any] = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Parallel", "Branches": "oops", "Next": 3, "Catch": [None]},
            "B": "not a state",
            "C": {"Type": "Choice", "Choices": [{"Next": "A"}, "x"]},
        },
    }
    graph = graph_from_definition(odd)
    assert graph.nodes == [GraphNode("A", "Parallel"), GraphNode("C", "Choice")]
    assert graph.edges == edges("C -> A")


def test_the_demo_pipelines_graph_is_connected_from_start() -> None:
    for definition in (training_pipeline("us-east-1"), scoring_pipeline("us-east-1")):
        graph = graph_from_definition(definition)
        names = {n.name for n in graph.nodes}
        assert {e.source for e in graph.edges} | {e.target for e in graph.edges} <= names
        reached, frontier = set(), [definition["StartAt"]]
        while frontier:
            name = frontier.pop()
            if name not in reached:
                reached.add(name)
                frontier += [e.target for e in graph.edges if e.source == name]
        assert reached == names
