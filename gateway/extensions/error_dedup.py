"""One error per failing source and field, however many list items it failed for.

A source that is down fails the same field in every item of a list: a page of
100 entities asking for ``owner`` with the catalog down would carry 100
identical errors, and nested lists multiply them (one report: ~2,000 errors,
620 KB). Errors that agree on code, source and message, at paths that differ
only in list indices, are one failure: they collapse into the first of them,
with ``extensions.count`` (how many) and ``extensions.paths`` (the first
``MAX_PATHS``, in index order). Its ``path`` is the first of those paths, so
clients that read ``path`` still find a nulled field there.

Runs on classified errors (``extensions.code`` set), so masked errors collapse
too. Errors without a path (parse, validation, limits) are left as they are.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from graphql import GraphQLError

MAX_PATHS = 5

Path = list[str | int]


def path_pattern(path: Sequence[str | int] | None) -> tuple[str, ...] | None:
    """``entities.edges.*.node.owner``'s parts: the path with each list index as ``*``."""
    if path is None:
        return None
    return tuple("*" if isinstance(part, int) else part for part in path)


def group_key(error: GraphQLError) -> Hashable:
    """What makes two errors one failure; a pathless error is only ever itself."""
    pattern = path_pattern(error.path)
    if pattern is None:
        return id(error)
    extensions = error.extensions or {}
    return (extensions.get("code"), extensions.get("source"), error.message, pattern)


def deduplicate(errors: Sequence[GraphQLError]) -> list[GraphQLError]:
    """The errors with each group of repeats collapsed, in order of first occurrence."""
    groups: dict[Hashable, list[GraphQLError]] = {}
    for error in errors:
        groups.setdefault(group_key(error), []).append(error)
    return [group[0] if len(group) == 1 else _collapsed(group) for group in groups.values()]


def _index_order(error: GraphQLError) -> tuple[int, ...]:
    # Paths of one group differ only in their indices: comparing those orders them.
    return tuple(part for part in error.path or () if isinstance(part, int))


def _collapsed(group: list[GraphQLError]) -> GraphQLError:
    ordered = sorted(group, key=_index_order)
    first = ordered[0]
    paths: list[Path] = [list(e.path or ()) for e in ordered[:MAX_PATHS]]
    return GraphQLError(
        first.message,
        nodes=first.nodes,
        source=first.source,
        positions=first.positions,
        path=first.path,
        original_error=first.original_error,
        extensions={**(first.extensions or {}), "count": len(group), "paths": paths},
    )
