"""graphql-core's executor (as Strawberry configures it), made cheaper per field.

A page of 100 runs with their parameters and metrics is ~5,000 fields, and
nearly all of them are plain leaves: a scalar or enum read off an attribute
(``KeyValue.key``, ``MetricValue.value``). graphql-core runs each one through
the whole field machinery: resolve info, the resolver chain, awaitable checks,
nullability and leaf completion, ~3 us a field. A plain leaf here is read and
serialised directly, which is all that machinery amounts to for it; anything
unusual about its value (null, an exception, an awaitable, a value the scalar
refuses) goes the ordinary way, so errors and nulls come out exactly as before.

Only fields Strawberry itself marks as basic (no resolver, no field extensions
or permission classes) qualify, and only while no schema extension wraps
resolvers (``resolve`` hooks): such a hook must see every field.

The execution deadline (``gateway.extensions.deadline``) is applied here too,
to each resolver result that must be awaited, so it needs no per-field hook.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from graphql import GraphQLField, GraphQLLeafType, GraphQLObjectType, Undefined
from graphql.type import get_nullable_type, is_leaf_type, is_non_null_type
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from gateway.extensions.deadline import active_deadline

# How to read a plain leaf field: the attribute holding it (None: call the field's
# resolver), its leaf type and whether it is non-null. None for any other field.
_Plan = tuple[str | None, GraphQLLeafType, bool] | None
_PLAIN_VALUES = (str, int, float, bool)
# Keyed by the field's identity (GraphQLField is not hashable); the field is kept in
# the value so its id cannot be reused. Schemas live as long as the process.
_plans: dict[int, tuple[GraphQLField, _Plan]] = {}
READS = "_gateway_reads"
F = TypeVar("F", bound=Callable[..., Any])


def reads(attribute: str) -> Callable[[F], F]:
    """Mark a resolver (no arguments besides ``self``) that only returns ``attribute``:
    the executor reads the attribute itself, without calling the resolver."""

    def mark(resolver: F) -> F:
        setattr(resolver, READS, attribute)
        return resolver

    return mark


PREPARED = "_gateway_prepared"
"""Attribute of a source object: {response key: value} its parent resolver already
computed for those fields (see ``prepare``); the executor completes them directly."""


def prepare(source: object, response_key: str, value: Any) -> None:
    """Have the field at ``response_key`` of ``source`` answer ``value`` without its resolver.

    For values that resolver would return, with nothing left to report: the
    executor completes them as it would complete the resolver's result."""
    prepared = source.__dict__.setdefault(PREPARED, {})
    prepared[response_key] = value


# An object selection of plain leaves: (response name, field, plan); field None: __typename
_LeafObject = list[tuple[str, GraphQLField | None, Any]]


def _plan(field: GraphQLField) -> _Plan:
    cached = _plans.get(id(field))
    if cached is not None and cached[0] is field:
        return cached[1]
    plan: _Plan = None
    nullable = get_nullable_type(field.type)
    # Strawberry marks the resolver of a field without resolver, extensions or
    # permission classes; it reads the attribute and ignores every other argument.
    definition = field.extensions.get("strawberry-definition")
    if field.args or not is_leaf_type(nullable):
        pass
    elif getattr(field.resolve, "_is_default", False):
        by_getattr = getattr(definition, "default_resolver", None) is getattr
        attribute = definition.python_name if by_getattr else None  # type: ignore[union-attr]
        plan = (attribute, nullable, is_non_null_type(field.type))
    elif definition is not None and not definition.extensions and definition.base_resolver:
        # A resolver that only returns an attribute says so (``reads``).
        attribute = getattr(definition.base_resolver.wrapped_func, READS, None)
        if attribute is not None:
            plan = (attribute, nullable, is_non_null_type(field.type))
    _plans[id(field)] = (field, plan)
    return plan


class GatewayExecutor(StrawberryGraphQLCoreExecutionContext):
    """Plain leaves read directly; awaited resolver results bounded by the deadline."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Per selection of an object type: its fields, when all are plain leaves.
        self._leaf_objects: dict[tuple[GraphQLObjectType, int], _LeafObject | None] = {}
        # A resolve hook (schema extension) must see every field: then no shortcuts.
        manager = self.middleware_manager
        self._shortcuts = manager is None or not manager.middlewares

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        if self._shortcuts:
            name = field_details_list[0].node.name.value
            if name == "__typename":
                return parent_type.name
            field = parent_type.fields.get(name)
            plan = _plan(field) if field is not None else None
            if plan is not None:
                value = self._plain_leaf(field, plan, source)
                if value is not Undefined:
                    return value
            elif field is not None:
                prepared = getattr(source, PREPARED, None)
                if prepared is not None and path.key in prepared:
                    return self._complete_prepared(
                        field, parent_type, field_details_list, path, prepared[path.key]
                    )
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

    def _complete_prepared(
        self,
        field: GraphQLField,
        parent_type: GraphQLObjectType,
        field_details_list: Any,
        path: Any,
        value: Any,
    ) -> Any:
        """Complete a value the parent prepared for this field, as graphql-core completes
        a resolver's result (without calling the resolver or converting arguments)."""
        return_type = field.type
        try:
            info = self.build_resolve_info(
                field, [d.node for d in field_details_list], parent_type, path
            )
            completed = self.complete_value(
                return_type, field_details_list, info, path, value, None
            )
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
        if not self.is_awaitable(completed):
            return completed

        async def later() -> Any:
            try:
                return await completed
            except Exception as raw_error:
                self.handle_field_error(raw_error, return_type, field_details_list, path)
                return None

        return later()

    def collect_and_execute_subfields(
        self,
        return_type: GraphQLObjectType,
        field_details_list: Any,
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        # An object whose selected fields are all plain leaves (a KeyValue, a metric
        # value) is completed in one go, without a path or a call per field.
        if position_context is None and self._shortcuts:
            leaves = self._leaf_object(return_type, field_details_list)
            if leaves is not None:
                completed: dict[str, Any] = {}
                for response_name, field, plan in leaves:
                    if field is None:
                        completed[response_name] = return_type.name
                        continue
                    value = self._plain_leaf(field, plan, result)
                    if value is Undefined:
                        break
                    completed[response_name] = value
                else:
                    return completed
        return super().collect_and_execute_subfields(
            return_type, field_details_list, path, result, position_context
        )

    def _leaf_object(
        self, return_type: GraphQLObjectType, field_details_list: Any
    ) -> _LeafObject | None:
        key = (return_type, id(field_details_list))
        if key in self._leaf_objects:
            return self._leaf_objects[key]
        # Memoised by graphql-core on the same key, which keeps the list (and its id) alive.
        grouped, new_defer_usages, _ = self.collect_subfields(return_type, field_details_list)
        leaves: _LeafObject | None = None if new_defer_usages else []
        for response_name, details in grouped.items():
            if leaves is None:
                break
            name = details[0].node.name.value
            if name == "__typename":
                leaves.append((response_name, None, None))
                continue
            field = return_type.fields.get(name)
            plan = _plan(field) if field is not None else None
            if plan is None:
                leaves = None
            else:
                leaves.append((response_name, field, plan))
        self._leaf_objects[key] = leaves
        return leaves

    def _plain_leaf(self, field: GraphQLField, plan: Any, source: Any) -> Any:
        """The completed value, or Undefined to take the ordinary way (which also
        reports any error with its path)."""
        attribute, leaf_type, non_null = plan
        try:
            if attribute is not None:
                value = getattr(source, attribute)
            else:
                value = field.resolve(source, None)  # type: ignore[misc]
            if value is None:
                return Undefined if non_null else None
            if type(value) not in _PLAIN_VALUES and (
                isinstance(value, BaseException) or self.is_awaitable(value)
            ):
                return Undefined
            coerced = leaf_type.coerce_output_value(value)
        except Exception:
            return Undefined
        if coerced is None or coerced is Undefined:
            return Undefined
        return coerced

    def complete_awaitable_value(
        self,
        return_type: Any,
        field_details_list: Any,
        info: Any,
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        deadline = active_deadline.get()
        if deadline is not None:
            result = deadline.bound(result, root=path.prev is None)
        return super().complete_awaitable_value(
            return_type, field_details_list, info, path, result, position_context
        )
