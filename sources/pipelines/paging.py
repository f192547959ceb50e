"""Pages of executions over an upstream list API sorted newest first.

AWS list APIs filter by one status at most (SageMaker by none), so filtering
happens here and a page may need several upstream pages. The cursor remembers
the upstream token of the page it stopped in and how many of its items were
already returned, so every execution is listed exactly once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from sources.cursors import decode_cursor, encode_cursor
from sources.errors import InputError
from sources.metadb.models import ExecutionStatus
from sources.pipelines.model import ExecutionInfo, ExecutionPage

FetchPage = Callable[[str | None, int], Awaitable[ExecutionPage]]
MAX_UPSTREAM_PAGES = 10


def page_cursor(token: str | None, skip: int) -> str:
    return encode_cursor({"t": token, "s": skip})


def page_position(cursor: str, source: str) -> tuple[str | None, int]:
    try:
        data = decode_cursor(cursor)
        token, skip = data["t"], int(data["s"])
        if (token is not None and not isinstance(token, str)) or skip < 0:
            raise ValueError
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError("'after' is not a cursor of this list", source=source) from exc
    return token, skip


async def collect(
    fetch_page: FetchPage,
    *,
    statuses: Sequence[ExecutionStatus] | None,
    since: datetime | None,
    limit: int,
    cursor: str | None,
    source: str,
) -> ExecutionPage:
    """Up to ``limit`` matching executions after ``cursor``; ``next_token`` is our cursor."""
    token, skip = page_position(cursor, source) if cursor else (None, 0)
    wanted = set(statuses or ())
    items: list[ExecutionInfo] = []
    cursors: list[str] = []

    def done(next_token: str | None) -> ExecutionPage:
        return ExecutionPage(items=items, next_token=next_token, item_cursors=cursors)

    for _ in range(MAX_UPSTREAM_PAGES):
        page = await fetch_page(token, max(limit, 1))
        for index in range(skip, len(page.items)):
            execution = page.items[index]
            if since is not None and execution.started_at < since:
                return done(None)  # newest first: nothing older can match
            if wanted and execution.status not in wanted:
                continue
            items.append(execution)
            last_of_page = index + 1 == len(page.items)
            if last_of_page and page.next_token is not None:
                cursors.append(page_cursor(page.next_token, 0))
            else:
                cursors.append(page_cursor(token, index + 1))
            if len(items) == limit:
                more = not last_of_page or page.next_token is not None
                return done(cursors[-1] if more else None)
        if page.next_token is None:
            return done(None)
        token, skip = page.next_token, 0
    # Bounded work per request: hand back what we have and where to go on.
    return done(page_cursor(token, 0))
