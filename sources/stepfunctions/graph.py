"""The static graph of a state machine, read from its Amazon States Language definition.

Nodes are every state, those inside Parallel branches and Map processors
included, in definition order (depth first: a Parallel or Map, then the
states it runs). Edges are the transitions a run can take:

- ``Next``; a Choice's rules' ``Next`` then its ``Default``; each ``Catch``
  handler's ``Next``;
- a Parallel to the ``StartAt`` of each branch, a Map to its processor's
  ``StartAt`` (``ItemProcessor``, or the legacy ``Iterator``);
- each terminal state of a branch or processor (``End: true`` or a Succeed
  state) to the enclosing state's ``Next``, so the nested states join the
  flow and a layout engine draws one DAG. The Parallel/Map's own ``Next``
  edge stays too, for views that collapse nested states.

Fail states end a branch by failing the enclosing state, so they get no edge
to its ``Next``. Duplicate edges (two Choice rules to one state) are kept
once, at their first place.
"""

from __future__ import annotations

from typing import Any

from sources.pipelines.model import GraphEdge, GraphNode, PipelineGraph


def graph_from_definition(definition: dict[str, Any]) -> PipelineGraph:
    """Nodes and edges of an ASL definition; malformed parts are skipped, not raised."""
    nodes: list[GraphNode] = []
    edges: dict[tuple[str, str], None] = {}  # an ordered set
    _walk(_states(definition), None, nodes, edges)
    return PipelineGraph(nodes=nodes, edges=[GraphEdge(source=s, target=t) for s, t in edges])


def _walk(
    states: dict[str, dict[str, Any]],
    parent: str | None,
    nodes: list[GraphNode],
    edges: dict[tuple[str, str], None],
) -> None:
    for name, state in states.items():
        kind = str(state.get("Type", ""))
        nodes.append(GraphNode(name=name, type=kind, parent=parent))
        flows = _nested_flows(state)
        for flow in flows:
            start = flow.get("StartAt")
            if isinstance(start, str):
                edges[(name, start)] = None
        for target in _transitions(state):
            edges[(name, target)] = None
        for flow in flows:
            nested = _states(flow)
            _walk(nested, name, nodes, edges)
            after = state.get("Next")
            if isinstance(after, str):
                for end in _terminal_states(nested):
                    edges[(end, after)] = None


def _transitions(state: dict[str, Any]) -> list[str]:
    """Where a state can go next, in the order a reader meets them in the definition."""
    targets: list[Any] = []
    if state.get("Type") == "Choice":
        targets += [rule.get("Next") for rule in _dicts(state.get("Choices"))]
        targets.append(state.get("Default"))
    targets.append(state.get("Next"))
    targets += [catcher.get("Next") for catcher in _dicts(state.get("Catch"))]
    return [t for t in targets if isinstance(t, str)]


def _nested_flows(state: dict[str, Any]) -> list[dict[str, Any]]:
    """The branches of a Parallel, or the one item processor of a Map."""
    kind = state.get("Type")
    if kind == "Parallel":
        return _dicts(state.get("Branches"))
    if kind == "Map":
        processor = state.get("ItemProcessor", state.get("Iterator"))
        return [processor] if isinstance(processor, dict) else []
    return []


def _terminal_states(states: dict[str, dict[str, Any]]) -> list[str]:
    return [
        name
        for name, state in states.items()
        if state.get("End") is True or state.get("Type") == "Succeed"
    ]


def _states(flow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    states = flow.get("States")
    if not isinstance(states, dict):
        return {}
    return {str(k): v for k, v in states.items() if isinstance(v, dict)}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
