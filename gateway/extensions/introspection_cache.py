"""Answer a repeated introspection query from memory.

GraphiQL, code generators and routers send the same introspection query again
and again, and executing it walks the whole type system: ~20 ms of CPU on the
event loop for the standard query, every time. The schema does not change
while the process runs, so an operation whose root fields are all introspection
(``__schema``, ``__type``, ``__typename``) is executed once per distinct
(document, operation, variables) and its result kept, in a small LRU per
schema. Every other extension still runs: the document is parsed, limited,
validated, costed and charged to the caller's budget as before; only the
execution is skipped.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

from graphql import ExecutionResult, FieldNode, OperationDefinitionNode
from strawberry.extensions import SchemaExtension

from sources.telemetry import cache_lookup

INTROSPECTION_ROOTS = frozenset({"__schema", "__type", "__typename"})

Key = tuple[str, str | None, str]


def introspection_cache(size: int = 32) -> Callable[[], SchemaExtension]:
    """An extension factory; the factories of one schema share one cache."""
    cache: OrderedDict[Key, ExecutionResult] = OrderedDict()

    class IntrospectionCache(SchemaExtension):
        def on_execute(self) -> Iterator[None]:
            context = self.execution_context
            key = _key(context) if _introspection_only(context) else None
            if key is not None:
                cache_lookup("introspection", key in cache)
            if key is not None and key in cache:
                cache.move_to_end(key)
                context.result = cache[key]
            yield
            result = context.result
            if (
                key is not None
                and key not in cache
                and isinstance(result, ExecutionResult)
                and not result.errors
            ):
                cache[key] = result
                if len(cache) > size:
                    cache.popitem(last=False)

    return IntrospectionCache


def _introspection_only(context: Any) -> bool:
    document = context.graphql_document
    if document is None or context.query is None or "__" not in context.query:
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if context.operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == context.operation_name]
    if len(operations) != 1 or operations[0].operation.value != "query":
        return False
    selections = operations[0].selection_set.selections
    return all(isinstance(s, FieldNode) and s.name.value in INTROSPECTION_ROOTS for s in selections)


def _key(context: Any) -> Key | None:
    try:
        variables = json.dumps(context.variables or {}, sort_keys=True)
    except (TypeError, ValueError):
        return None
    return (context.query, context.operation_name, variables)
