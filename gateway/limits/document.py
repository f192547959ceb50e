"""Measure a parsed document in time linear in its size, whatever its shape.

graphql-core's validation (OverlappingFieldsCanBeMerged is quadratic in repeated
fields) and any walk that re-expands fragment spreads can be made to take
seconds or hours by a small document: 24 fragments that each spread the previous
one twice expand to 2^24 fields in under 1 KB. So the document is measured
first, each fragment once: a spread adds the memoised totals of its fragment
instead of walking it again. Fragments are summarised in dependency order; a
spread of a fragment that is not summarised yet (a cycle, or an unknown name)
adds nothing, so the walk always ends. NoFragmentCycles and
KnownFragmentNames then refuse such documents in validation.

The walk is iterative: a document nested a thousand levels deep must not raise
RecursionError here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

# Counts saturate here: 2^1000 expanded fields is no more refused than 2^62.
_SATURATED = 2**62


@dataclass(frozen=True)
class Totals:
    """One definition with its spreads expanded (counted, never performed)."""

    fields: int = 0
    aliases: int = 0
    depth: int = 0


@dataclass
class Measures:
    """What the limits compare, for the whole document."""

    operations: int = 0
    fragments: int = 0
    selections: int = 0  # fields, spreads and inline fragments as written
    spreads: int = 0
    expanded: int = 0  # fields once every spread is replaced by its fragment
    aliases: int = 0  # aliases once every spread is replaced by its fragment
    depth: int = 0  # nesting of fields with a selection set, as QueryDepthLimiter counts it
    steps: int = field(default=0, repr=False)  # selections visited: linear in the text


def measure(document: DocumentNode) -> Measures:
    """Count the document's size, depth and aliases, each fragment walked once."""
    measures = Measures()
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    measures.operations, measures.fragments = len(operations), len(fragments)
    direct = {name: _direct_spreads(f.selection_set) for name, f in fragments.items()}
    totals: dict[str, Totals] = {}
    for name in _dependency_order(direct):
        totals[name] = _summarise(fragments[name].selection_set, totals, measures)
    reached = _reachable(operations, direct)
    tops = [_summarise(o.selection_set, totals, measures) for o in operations]
    # Unused fragments are refused by validation, but validation still walks them.
    tops += [t for name, t in totals.items() if name not in reached]
    measures.expanded = min(sum(t.fields for t in tops), _SATURATED)
    measures.aliases = min(sum(t.aliases for t in tops), _SATURATED)
    measures.depth = max((t.depth for t in [*tops, *totals.values()]), default=0)
    return measures


def _selections(root: SelectionSetNode) -> Iterator[tuple[object, int, bool]]:
    """Every selection under ``root`` with its field nesting level, without spreads'
    fragments. ``counted`` is False under introspection fields, which the depth
    limit ignores (GraphiQL's introspection query is deeper than any real page)."""
    stack: list[tuple[SelectionSetNode, int, bool]] = [(root, 0, True)]
    while stack:
        selection_set, level, counted = stack.pop()
        for selection in selection_set.selections:
            yield selection, level, counted
            if isinstance(selection, FieldNode) and selection.selection_set is not None:
                inner = counted and not selection.name.value.startswith("__")
                stack.append((selection.selection_set, level + 1, inner))
            elif isinstance(selection, InlineFragmentNode):
                stack.append((selection.selection_set, level, counted))


def _summarise(root: SelectionSetNode, totals: Mapping[str, Totals], measures: Measures) -> Totals:
    fields = aliases = depth = 0
    for selection, level, counted in _selections(root):
        measures.steps += 1
        measures.selections += 1
        if isinstance(selection, FieldNode):
            fields += 1
            aliases += selection.alias is not None
            introspection = selection.name.value.startswith("__")
            if counted and not introspection and selection.selection_set is not None:
                depth = max(depth, level + 1)
        elif isinstance(selection, FragmentSpreadNode):
            measures.spreads += 1
            spread = totals.get(selection.name.value)
            if spread is not None:
                fields = min(fields + spread.fields, _SATURATED)
                aliases = min(aliases + spread.aliases, _SATURATED)
                if counted:
                    depth = max(depth, level + spread.depth)
    return Totals(fields, aliases, depth)


def _direct_spreads(root: SelectionSetNode) -> list[str]:
    return [s.name.value for s, _, _ in _selections(root) if isinstance(s, FragmentSpreadNode)]


def _dependency_order(direct: Mapping[str, list[str]]) -> list[str]:
    """Fragments so that each comes after those it spreads; an edge closing a cycle
    is ignored (the fragment it points to is still being ordered)."""
    order: list[str] = []
    state: dict[str, int] = {}  # 1: being ordered, 2: done
    for start in direct:
        if start in state:
            continue
        state[start] = 1
        stack = [(start, iter(direct[start]))]
        while stack:
            name, pending = stack[-1]
            child = next(pending, None)
            if child is None:
                stack.pop()
                state[name] = 2
                order.append(name)
            elif child in direct and child not in state:
                state[child] = 1
                stack.append((child, iter(direct[child])))
    return order


def _reachable(
    operations: list[OperationDefinitionNode], direct: Mapping[str, list[str]]
) -> set[str]:
    pending = [name for o in operations for name in _direct_spreads(o.selection_set)]
    reached: set[str] = set()
    while pending:
        name = pending.pop()
        if name not in reached and name in direct:
            reached.add(name)
            pending.extend(direct[name])
    return reached
