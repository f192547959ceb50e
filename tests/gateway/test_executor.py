"""The gateway's executor answers exactly as graphql-core's own, only cheaper.

Plain leaf fields (and objects made only of them) skip graphql-core's per-field
machinery; every case where that could differ (nulls in non-null fields, values
a scalar refuses, exceptions, awaitables, aliases, fragments, __typename,
directives) is run through both executors and must give the same data and the
same errors.
"""

from __future__ import annotations

import asyncio
import enum
from datetime import UTC, datetime
from typing import Any

import pytest
import strawberry
from graphql import GraphQLResolveInfo
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from gateway.executor import GatewayExecutor, prepare, reads
from resolvers.scalars import SCALAR_OVERRIDES


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Pair:
    key: str
    value: str | None


@strawberry.type
class Item:
    id: strawberry.ID
    name: str
    count: int
    ratio: float | None
    colour: Colour
    at: datetime | None
    pairs: list[Pair]
    maybe: list[Pair | None] | None

    @strawberry.field
    def computed(self) -> str:
        return self.name.upper()

    @strawberry.field
    async def later(self) -> int:
        await asyncio.sleep(0)
        return self.count * 2

    @strawberry.field
    @reads("name")
    def same_name(self) -> str:
        return self.name

    @strawberry.field
    def first_pairs(self, n: int = 1) -> list[Pair]:
        return self.pairs[:n]


def item(index: int, **overrides: Any) -> Item:
    values: dict[str, Any] = {
        "id": strawberry.ID(f"i{index}"),
        "name": f"item {index}",
        "count": index,
        "ratio": index / 3 if index % 2 else None,
        "colour": Colour.RED if index % 2 else Colour.BLUE,
        "at": datetime(2026, 1, 1, index % 24, tzinfo=UTC) if index % 3 else None,
        "pairs": [Pair(key=f"k{j}", value=None if j == 1 else f"v{j}") for j in range(3)],
        "maybe": [Pair(key="m", value="x"), None] if index % 2 else None,
    }
    values.update(overrides)
    return Item(**values)


BROKEN: dict[str, list[Item]] = {
    "fine": [item(i) for i in range(6)],
    # a null where the schema promises a value, in a leaf and inside a leaf object
    "null_leaf": [item(0), item(1, name=None), item(2)],
    "null_in_pair": [item(0, pairs=[Pair(key=None, value="v")])],  # type: ignore[arg-type]
    # values the scalars refuse
    "bad_int": [item(0, count="seven"), item(1)],
    "bad_enum": [item(0, colour="green")],
    "bad_float": [item(0, ratio="x")],
    "huge_int": [item(0, count=2**40)],
    # an exception object as a value, an awaitable in an attribute
    "exception": [item(0, name=ValueError("boom"))],
    "awaitable": [],  # filled in the test, which has a loop: a done future in an attribute
}


@strawberry.type
class Query:
    @strawberry.field
    def items(self, case: str) -> list[Item]:
        return BROKEN[case]

    @strawberry.field
    def maybe_items(self, case: str) -> list[Item | None] | None:
        return list(BROKEN[case])


class EveryField(SchemaExtension):
    """A resolve hook sees every field, so the executor must not shortcut any."""

    def resolve(
        self, _next: Any, root: Any, info: GraphQLResolveInfo, *args: Any, **kwargs: Any
    ) -> Any:
        return _next(root, info, *args, **kwargs)


def schema(executor: type, extensions: list[Any] | None = None) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        execution_context_class=executor,
        scalar_overrides=SCALAR_OVERRIDES,  # type: ignore[arg-type]
        extensions=extensions or [],
    )


FAST = schema(GatewayExecutor)
PLAIN = schema(StrawberryGraphQLCoreExecutionContext)
HOOKED = schema(GatewayExecutor, [EveryField])

FIELDS = """id name count ratio colour at computed later sameName
  pairs { key value } maybe { key value __typename } __typename"""
DOCUMENTS = {
    "all fields": f"query ($c: String!) {{ items(case: $c) {{ {FIELDS} }} }}",
    "nullable list": f"query ($c: String!) {{ maybeItems(case: $c) {{ {FIELDS} }} }}",
    "aliases and repeats": """query ($c: String!) { items(case: $c) {
        n: name name count c2: count pairs { k: key key v: value } } }""",
    "fragments": """query ($c: String!) { items(case: $c) { ...F pairs { ...P } } }
        fragment F on Item { name colour ... on Item { count at } }
        fragment P on Pair { key value }""",
    "directives": """query ($c: String!, $yes: Boolean!) { items(case: $c) {
        name @include(if: $yes) count @skip(if: $yes) pairs { key @skip(if: $yes) value } } }""",
    "typename only": "query ($c: String!) { __typename items(case: $c) { __typename } }",
}


def outcome(result: Any) -> tuple[Any, list[tuple[str, Any, Any]]]:
    errors = sorted(
        (e.message, e.path, [(loc.line, loc.column) for loc in e.locations or []])
        for e in result.errors or []
    )
    return result.data, errors


@pytest.mark.parametrize("case", sorted(BROKEN))
@pytest.mark.parametrize("document", sorted(DOCUMENTS))
async def test_the_fast_executor_answers_as_graphql_core_does(document: str, case: str) -> None:
    variables = {"c": case, "yes": True}
    if case == "awaitable":
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        done.set_result(5)
        BROKEN[case] = [item(0, count=done)]
    fast = await FAST.execute(DOCUMENTS[document], variable_values=variables)
    plain = await PLAIN.execute(DOCUMENTS[document], variable_values=variables)
    assert outcome(fast) == outcome(plain)


async def test_a_resolve_hook_still_sees_plain_fields() -> None:
    seen: list[str] = []

    class Counting(SchemaExtension):
        def resolve(
            self, _next: Any, root: Any, info: GraphQLResolveInfo, *args: Any, **kwargs: Any
        ) -> Any:
            seen.append(info.field_name)
            return _next(root, info, *args, **kwargs)

    hooked = schema(GatewayExecutor, [Counting])
    result = await hooked.execute('{ items(case: "fine") { name pairs { key } } }')
    assert result.errors is None
    assert seen.count("name") == len(BROKEN["fine"])
    assert seen.count("key") == 3 * len(BROKEN["fine"])
    plain = await PLAIN.execute('{ items(case: "fine") { name pairs { key } } }')
    assert result.data == plain.data
    assert (await HOOKED.execute(DOCUMENTS["all fields"], {"c": "fine"})).data == (
        await PLAIN.execute(DOCUMENTS["all fields"], {"c": "fine"})
    ).data


async def test_prepared_values_are_completed_like_the_resolvers_results() -> None:
    document = """{ items(case: "fine") { firstPairs { key } two: firstPairs(n: 2) { key value }
        renamed: name } }"""
    plain = await PLAIN.execute(document)
    items = [item(i) for i in range(6)]
    for it in items:
        # what the resolvers would return, keyed by response key (aliases included)
        prepare(it, "firstPairs", it.pairs[:1])
        prepare(it, "two", it.pairs[:2])
    original = BROKEN["fine"]
    BROKEN["fine"] = items
    try:
        fast = await FAST.execute(document)
        # a prepared null in a non-null list is the same error as a resolver's null
        prepare(items[1], "two", [None])
        broken_fast = await FAST.execute(document)
    finally:
        BROKEN["fine"] = original
    assert outcome(fast) == outcome(plain)
    [error] = broken_fast.errors or []
    assert error.path == ["items", 1, "two", 0]
    assert "Cannot return null for non-nullable field" in error.message
