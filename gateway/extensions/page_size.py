"""Refuse any ``first``/``last`` above the page-size limit before execution.

Runs after validation, with the request's variables, so a limit hidden in a
variable or a fragment is caught as well as a literal, and no upstream is
called for a query that would be refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)
from strawberry.extensions import SchemaExtension

PAGE_ARGUMENTS = ("first", "last")


def oversized_pages(
    document_definitions: tuple[Any, ...] | list[Any],
    variables: Mapping[str, Any],
    limit: int,
    operation_name: str | None = None,
) -> list[GraphQLError]:
    """Every page argument of the operation that asks for more than ``limit``."""
    fragments = {
        d.name.value: d for d in document_definitions if isinstance(d, FragmentDefinitionNode)
    }
    operations = [d for d in document_definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    errors: list[GraphQLError] = []
    seen: set[str] = set()

    def value_of(node: Any) -> Any:
        if isinstance(node, IntValueNode):
            return int(node.value)
        if isinstance(node, VariableNode):
            return variables.get(node.name.value)
        return None

    def walk(selection_set: SelectionSetNode | None) -> None:
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                for argument in selection.arguments or ():
                    if argument.name.value not in PAGE_ARGUMENTS:
                        continue
                    value = value_of(argument.value)
                    if isinstance(value, int) and value > limit:
                        errors.append(
                            GraphQLError(
                                f"'{selection.name.value}' asks for {argument.name.value}: "
                                f"{value}, which exceeds the maximum page size of {limit}.",
                                nodes=[argument],
                                extensions={"code": "QUERY_TOO_COMPLEX"},
                            )
                        )
                walk(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                walk(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in seen and name in fragments:
                    seen.add(name)
                    walk(fragments[name].selection_set)

    for operation in operations:
        walk(operation.selection_set)
    return errors


def max_page_size(limit: int) -> Callable[[], SchemaExtension]:
    """An extension factory (a fresh instance per operation) for ``limit``."""

    class MaxPageSize(SchemaExtension):
        def on_execute(self) -> Iterator[None]:
            context = self.execution_context
            document = context.graphql_document
            if document is not None and context.result is None:
                errors = oversized_pages(
                    document.definitions, context.variables or {}, limit, context.operation_name
                )
                if errors:
                    context.result = ExecutionResult(data=None, errors=errors)
            yield

    return MaxPageSize
