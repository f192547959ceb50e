"""Static cost of an operation, computed from the document, the schema and the variables.

In the manner of GitHub's node limit and Shopify's calculated cost::

    cost(field) = weight(field) + items(field) * (object + cost(its selections))

``object`` is 1 when the field returns an object (0 for a scalar or enum);
``items`` is 1 for a single value and, for a list, its `first`/`last` (read from
the enclosing connection field for `edges`/`nodes`), the length of the list
argument it answers (`ids`, `executionIds`, `metrics`, `names`), an Int argument
(`lastRuns`, `maxPoints`, `nodeBudget`), or the expected size in ``WEIGHTS``.
Where a type condition splits a selection (`... on Pipeline`), every branch is
added: an upper bound. Introspection is bounded by the schema's size, not by
the document: `__schema` costs a flat ``SCHEMA_INTROSPECTION_COST`` (the whole
type system, about as much CPU as the entity page when not cached), `__type`
``TYPE_INTROSPECTION_COST``, and what they select nothing more.

The same walk refuses any `first`/`last` over the page size, so one pass over the
document does both. Fragments are costed once per (fragment, enclosing
arguments) and the walk is a trampoline, not recursion: its stack stays flat
however deep the spreads nest.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    is_composite_type,
    is_list_type,
    is_non_null_type,
)
from graphql.pyutils import Undefined

from gateway.limits.weights import DEFAULT_LIST, DEFAULT_PAGE, WEIGHTS, FieldCost

PAGE_ARGUMENTS = ("first", "last")
_ROOT_OF = {"query": "query_type", "mutation": "mutation_type", "subscription": "subscription_type"}

SCHEMA_INTROSPECTION_COST = 500
TYPE_INTROSPECTION_COST = 5
_INTROSPECTION = {"__schema": SCHEMA_INTROSPECTION_COST, "__type": TYPE_INTROSPECTION_COST}

# A step of the walk: yields the sub-walks it needs, returns a cost.
Walk = Generator["Walk", int, int]


@dataclass
class Cost:
    """The requested cost of one operation, and its oversized pages."""

    requested: int = 0
    page_errors: list[GraphQLError] = field(default_factory=list)
    fields_walked: int = 0


class _Walker:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        max_page_size: int,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.max_page_size = max_page_size
        self.memo: dict[tuple[str, frozenset[tuple[str, int]]], int] = {}
        self.reported: set[int] = set()
        self.cost = Cost()

    def selection_set(
        self, node: SelectionSetNode | None, parent: Any, hints: Mapping[str, int]
    ) -> Walk:
        total = 0
        for selection in node.selections if node is not None else ():
            if isinstance(selection, FieldNode):
                total += yield self.field(selection, parent, hints)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                total += yield self.selection_set(selection.selection_set, inner, hints)
            elif isinstance(selection, FragmentSpreadNode):
                total += yield self.spread(selection.name.value, hints)
        return total

    def spread(self, name: str, hints: Mapping[str, int]) -> Walk:
        key = (name, frozenset(hints.items()))
        if key in self.memo:
            return self.memo[key]
        self.memo[key] = 0  # a cycle (refused by validation anyway) adds nothing
        fragment = self.fragments.get(name)
        if fragment is None:
            return 0
        parent = self.schema.get_type(fragment.type_condition.name.value)
        self.memo[key] = yield self.selection_set(fragment.selection_set, parent, hints)
        return self.memo[key]

    def field(self, node: FieldNode, parent: Any, hints: Mapping[str, int]) -> Walk:
        self.cost.fields_walked += 1
        name = node.name.value
        self._check_pages(node)
        if name.startswith("__"):
            return _INTROSPECTION.get(name, 0)
        definition: GraphQLField | None = getattr(parent, "fields", {}).get(name)
        if definition is None:  # unknown to the schema: validation says so
            return 0
        key = f"{parent.name}.{name}"
        spec = WEIGHTS.get(key, FieldCost())
        arguments = self._arguments(node, definition)
        items = self._items(key, spec, definition, arguments, hints)
        returned = get_named_type(definition.type)
        children = 0
        if node.selection_set is not None:
            children = yield self.selection_set(node.selection_set, returned, arguments)
        weight = spec.weight * (items if spec.weight_per_item else 1)
        return weight + items * (int(is_composite_type(returned)) + children)

    def _items(
        self,
        key: str,
        spec: FieldCost,
        definition: GraphQLField,
        arguments: Mapping[str, int],
        hints: Mapping[str, int],
    ) -> int:
        if spec.items_from is not None and spec.items_from in arguments:
            return arguments[spec.items_from]
        if spec.items_from_parent is not None and spec.items_from_parent in hints:
            return hints[spec.items_from_parent]
        wrapped = definition.type.of_type if is_non_null_type(definition.type) else definition.type
        if not is_list_type(wrapped):
            return 1
        if key.split(".")[0].endswith("Connection") and key.endswith((".edges", ".nodes")):
            page = [hints[a] for a in PAGE_ARGUMENTS if a in hints]
            return max(page) if page else DEFAULT_PAGE
        return spec.items if spec.items is not None else DEFAULT_LIST

    def _arguments(self, node: FieldNode, definition: GraphQLField) -> dict[str, int]:
        """Each argument that counts something, as a number: Ints as given, lists by length;
        a missing argument takes its schema default."""
        counts: dict[str, int] = {}
        for name, argument in definition.args.items():
            if argument.default_value is not Undefined:
                _put(counts, name, argument.default_value)
        for argument_node in node.arguments or ():
            _put(counts, argument_node.name.value, self._value(argument_node.value))
        return counts

    def _value(self, node: ValueNode) -> Any:
        if isinstance(node, VariableNode):
            return self.variables.get(node.name.value)
        return _literal(node)

    def _check_pages(self, node: FieldNode) -> None:
        for argument in node.arguments or ():
            if argument.name.value not in PAGE_ARGUMENTS:
                continue
            value = self._value(argument.value)
            if id(argument) in self.reported:  # a fragment walked again under other hints
                continue
            if (
                isinstance(value, int)
                and not isinstance(value, bool)
                and value > self.max_page_size
            ):
                self.reported.add(id(argument))
                self.cost.page_errors.append(
                    GraphQLError(
                        f"'{node.name.value}' asks for {argument.name.value}: {value}, "
                        f"which exceeds the maximum page size of {self.max_page_size}.",
                        nodes=[argument],
                        extensions={"code": "QUERY_TOO_COMPLEX", "measure": "pageSize"},
                    )
                )


def _put(counts: dict[str, int], name: str, value: Any) -> None:
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        counts[name] = max(value, 0)
    elif isinstance(value, list | tuple):
        counts[name] = len(value)
    elif value is None:
        counts.pop(name, None)


def _run(walk: Walk) -> int:
    """Drive nested walks with an explicit stack instead of Python recursion."""
    stack: list[Walk] = [walk]
    sent: int | None = None
    result = 0
    while stack:
        try:
            child = stack[-1].send(sent) if sent is not None else next(stack[-1])
        except StopIteration as done:
            stack.pop()
            result = sent = done.value
            continue
        stack.append(child)
        sent = None
    return result


def operation_cost(
    schema: GraphQLSchema,
    definitions: Iterable[object],
    variables: Mapping[str, Any] | None,
    operation_name: str | None,
    max_page_size: int,
) -> Cost:
    """The cost of the operation that would run (every operation when none is named)."""
    definitions = list(definitions)
    fragments = {d.name.value: d for d in definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    cost = Cost()
    for operation in operations:
        given = dict(variables or {})
        for definition in operation.variable_definitions or ():
            default = definition.default_value
            if definition.variable.name.value not in given and default is not None:
                given[definition.variable.name.value] = _literal(default)
        walker = _Walker(schema, fragments, given, max_page_size)
        root = getattr(schema, _ROOT_OF[operation.operation.value])
        cost.requested += _run(walker.selection_set(operation.selection_set, root, {}))
        cost.page_errors += walker.cost.page_errors
        cost.fields_walked += walker.cost.fields_walked
    return cost


def _literal(node: ValueNode) -> Any:
    if isinstance(node, IntValueNode):
        return int(node.value)
    if isinstance(node, ListValueNode):
        return list(node.values)
    return None
