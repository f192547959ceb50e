"""Lists whose items are looked up one by one, so each can fail on its own."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import Any


async def each_or_error(lookups: Iterable[Awaitable[object]]) -> list[Any]:
    """Await every lookup; leave out the ones that found nothing.

    A failed lookup stays in the list as its exception: graphql-core reports an
    exception item as that item's error and nulls only it (the list's items are
    nullable), where a raised one would null the whole list. So the list holds
    values and ``Exception`` objects, hence ``Any``.
    """
    found = await asyncio.gather(*lookups, return_exceptions=True)
    for item in found:
        if isinstance(item, BaseException) and not isinstance(item, Exception):
            raise item  # cancellation and exits are not an item's failure
    return [item for item in found if item is not None]
