"""Lineage edges in the metadb, readable as of any past instant.

Edges are only ever inserted, and retired once by setting ``retired_at``; they
are never updated otherwise or deleted. An edge *holds at t* when
``recorded_at <= t AND (retired_at IS NULL OR retired_at > t)``, so the graph
as it stood at any instant can be read back. Reads report an edge as it was
known at the instant asked: a retirement after it is not shown, hence
``retired_at`` is ``None`` on every edge a read returns (so a digest of a past
graph stays the same whatever is retired later).

Key sets travel as one bound parameter (see ``DatasetStore._among``): a lookup
is one statement however many keys. Walks are breadth-first, one statement per
depth level; ``walk`` says exactly when a result is ``truncated``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from sources.errors import InputError
from sources.lineage.model import Direction, Edge, EdgeInput, Graph, check_edge, split_key
from sources.metadb.datasets import DatasetStore
from sources.metadb.models import LineageEdge, utcnow

SOURCE = "metadb"
MAX_BATCH = 1_000
"""Most edges one write takes."""
MAX_DEPTH = 100
MAX_NODE_BUDGET = 10_000
MAX_ORIGIN_LENGTH = 64

_EDGE_COLUMNS = (
    col(LineageEdge.from_id),
    col(LineageEdge.to_id),
    col(LineageEdge.kind),
    col(LineageEdge.recorded_at),
    col(LineageEdge.origin),
)


class LineageStore(DatasetStore):
    """Lineage edges (recorded, retired, walked as of an instant) and the datasets they join."""

    # ---------------------------------------------------------------- edges ---

    async def record(
        self, edges: Sequence[EdgeInput], *, origin: str, at: datetime | None = None
    ) -> int:
        """Record edges live from ``at`` (default now); return how many were new.

        An edge already live is left as it is (its first origin and time are
        kept). The whole batch is checked before anything is written and is
        written in one transaction: any bad edge raises ``InputError`` and
        nothing is stored. ``at`` is for imports and tests: an ``at`` before the
        retirement of an earlier copy of the edge would overlap its history
        (reads then report the earliest copy).
        """
        async with self._metadb.session() as session, session.begin():
            return await self.record_in(session, edges, origin=origin, at=at)

    async def record_in(
        self,
        session: AsyncSession,
        edges: Sequence[EdgeInput],
        *,
        origin: str,
        at: datetime | None = None,
    ) -> int:
        """``record`` inside the caller's transaction (for writers that store more with it)."""
        checked = _checked_batch(edges)
        if not origin.strip() or len(origin) > MAX_ORIGIN_LENGTH:
            raise InputError(f"origin must be 1 to {MAX_ORIGIN_LENGTH} characters", source=SOURCE)
        when = _instant("at", at)
        if not checked:
            return 0
        rows = [
            {
                "from_id": e.from_key,
                "to_id": e.to_key,
                "kind": e.kind,
                "origin": origin,
                "recorded_at": when,
            }
            for e in checked
        ]
        statement = (
            self._insert(LineageEdge)
            .values(rows)
            .on_conflict_do_nothing(
                index_elements=["from_id", "to_id", "kind"],
                index_where=sa.text("retired_at IS NULL"),
            )
            .returning(col(LineageEdge.id))
        )
        return len((await session.exec(statement)).all())

    async def retire(self, edges: Sequence[EdgeInput], *, at: datetime | None = None) -> int:
        """Retire the live copies of ``edges`` from ``at`` (default now); return how many.

        An edge not live, or recorded after ``at``, is left alone (its interval
        would run backwards). Checked and written like ``record``.
        """
        checked = _checked_batch(edges)
        when = _instant("at", at)
        if not checked:
            return 0
        triples = [(e.from_key, e.to_key, e.kind.value) for e in checked]
        statement = (
            sa.update(LineageEdge)
            .where(
                col(LineageEdge.retired_at).is_(None),
                col(LineageEdge.recorded_at) <= when,
                sa.tuple_(
                    col(LineageEdge.from_id), col(LineageEdge.to_id), col(LineageEdge.kind)
                ).in_(triples),
            )
            .values(retired_at=when)
            .returning(col(LineageEdge.id))
        )
        async with self._metadb.session() as session, session.begin():
            return len((await session.exec(statement)).all())

    async def neighbours(
        self, keys: Sequence[str], direction: Direction, as_of: datetime | None = None
    ) -> list[Edge]:
        """The edges holding at ``as_of`` (default now) that leave (DOWNSTREAM), enter
        (UPSTREAM) or touch (BOTH) any of ``keys``, sorted by (from, to, kind); one statement.
        """
        when = _instant("as_of", as_of)
        if not keys:
            return []
        async with self._metadb.connection() as conn:
            return await self._neighbours(conn, list(dict.fromkeys(keys)), direction, when)

    async def ever_linked(self, key: str) -> bool:
        """Whether any edge, live or retired, ever touched ``key``; one ``LIMIT 1`` statement."""
        split_key(key)
        touching = sa.or_(col(LineageEdge.from_id) == key, col(LineageEdge.to_id) == key)
        async with self._metadb.connection() as conn:
            found = await conn.execute(sa.select(sa.literal(1)).where(touching).limit(1))
            return found.first() is not None

    async def walk(
        self,
        root: str,
        *,
        direction: Direction,
        depth: int,
        as_of: datetime | None = None,
        node_budget: int = 1_000,
    ) -> Graph:
        """The graph reached from ``root`` in at most ``depth`` hops, as it stood at ``as_of``.

        Breadth-first, one statement per depth level expanded. Nodes new at a
        level are taken in key order while the ``node_budget`` (root included)
        lasts. The edges are those found by expanding a node whose two ends are
        both in the result. ``truncated`` is True exactly when the result is
        not closed, i.e. when expanding every node once more would add a node or
        an edge: (a) the budget left out a node found at some level (the walk
        then stops), or (b) a node of the last level, left unexpanded by the
        depth limit, has an edge in the walk's direction that is not in the
        result (one more, ``LIMIT 1`` statement tells). A walk that runs out of
        nodes before ``depth`` is never truncated. Cycles are followed once.
        """
        split_key(root)
        if not 0 <= depth <= MAX_DEPTH:
            raise InputError(f"depth must be 0 to {MAX_DEPTH}, got {depth}", source=SOURCE)
        if not 1 <= node_budget <= MAX_NODE_BUDGET:
            raise InputError(
                f"node budget must be 1 to {MAX_NODE_BUDGET}, got {node_budget}", source=SOURCE
            )
        when = _instant("as_of", as_of)
        nodes, seen, frontier = [root], {root}, [root]
        expanded: set[str] = set()
        edges: dict[tuple[str, str, str], Edge] = {}
        truncated = False
        async with self._metadb.connection() as conn:
            for _ in range(depth):
                if not frontier:
                    break
                found = await self._neighbours(conn, frontier, direction, when)
                expanded.update(frontier)
                fresh = sorted({k for e in found for k in (e.from_key, e.to_key)} - seen)
                room = node_budget - len(nodes)
                if len(fresh) > room:
                    fresh, truncated = fresh[:room], True
                nodes.extend(fresh)
                seen.update(fresh)
                for e in found:
                    if e.from_key in seen and e.to_key in seen:
                        edges[(e.from_key, e.to_key, e.kind)] = e
                frontier = fresh
                if truncated:
                    break
            if frontier and not truncated:
                truncated = await self._has_more(conn, frontier, expanded, direction, when)
        ordered = [edges[k] for k in sorted(edges)]
        return Graph(root=root, nodes=nodes, edges=ordered, truncated=truncated, as_of=when)

    async def _neighbours(
        self, conn: AsyncConnection, keys: list[str], direction: Direction, when: datetime
    ) -> list[Edge]:
        statement = sa.select(*_EDGE_COLUMNS).where(_holds(when), self._touching(keys, direction))
        # One live copy per (from, to, kind) at any instant, unless edges were
        # recorded with a past ``at`` overlapping a retired copy: keep the earliest.
        found: dict[tuple[str, str, str], Edge] = {}
        for row in (await conn.execute(statement)).all():
            edge = Edge(row.from_id, row.to_id, row.kind, row.recorded_at, None, row.origin)
            key = (edge.from_key, edge.to_key, edge.kind)
            if key not in found or edge.recorded_at < found[key].recorded_at:
                found[key] = edge
        return [found[k] for k in sorted(found)]

    async def _has_more(
        self,
        conn: AsyncConnection,
        frontier: list[str],
        expanded: set[str],
        direction: Direction,
        when: datetime,
    ) -> bool:
        """Whether an edge in ``direction`` touches ``frontier`` and is not yet in the walk.

        Along one direction no edge of an unexpanded node is in the walk yet;
        both ways, one whose other end was expanded is.
        """
        from_id, to_id = col(LineageEdge.from_id), col(LineageEdge.to_id)
        if direction is Direction.BOTH:
            done = sorted(expanded)
            condition = sa.or_(
                sa.and_(self._among(from_id, frontier), sa.not_(self._among(to_id, done))),
                sa.and_(self._among(to_id, frontier), sa.not_(self._among(from_id, done))),
            )
        else:
            condition = self._touching(frontier, direction)
        statement = sa.select(sa.literal(1)).where(_holds(when), condition).limit(1)
        return (await conn.execute(statement)).first() is not None

    def _touching(self, keys: list[str], direction: Direction) -> sa.ColumnElement[bool]:
        downstream = self._among(col(LineageEdge.from_id), keys)
        upstream = self._among(col(LineageEdge.to_id), keys)
        if direction is Direction.DOWNSTREAM:
            return downstream
        if direction is Direction.UPSTREAM:
            return upstream
        return sa.or_(downstream, upstream)


def _holds(when: datetime) -> sa.ColumnElement[bool]:
    """The edge held at ``when``: recorded at or before it, not retired by then."""
    retired = col(LineageEdge.retired_at)
    return sa.and_(col(LineageEdge.recorded_at) <= when, sa.or_(retired.is_(None), retired > when))


def _instant(what: str, value: datetime | None) -> datetime:
    if value is None:
        return utcnow()
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(f"{what} must have a time zone, got {value.isoformat()}", source=SOURCE)
    return value.astimezone(UTC)


def _checked_batch(edges: Iterable[EdgeInput]) -> list[EdgeInput]:
    """The distinct edges, validated; ``InputError`` names the first bad one by index."""
    edges = list(edges)
    if len(edges) > MAX_BATCH:
        raise InputError(f"at most {MAX_BATCH} edges at once, got {len(edges)}", source=SOURCE)
    checked: dict[tuple[str, str, str], EdgeInput] = {}
    for index, edge in enumerate(edges):
        try:
            good = check_edge(edge)
        except InputError as exc:
            raise InputError(f"edge {index}: {exc.message}", source=SOURCE) from None
        checked.setdefault((good.from_key, good.to_key, good.kind), good)
    return list(checked.values())
