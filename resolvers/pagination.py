"""Relay connections: page info and the checks every list argument gets."""

from __future__ import annotations

import strawberry

from sources.errors import InputError


@strawberry.type(description="Where a page sits in its list.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None

    @staticmethod
    def forward(after: str | None, next_token: str | None) -> PageInfo:
        """A page read forward from ``after``, whose source gave ``next_token``."""
        return PageInfo(
            has_next_page=next_token is not None,
            has_previous_page=after is not None,
            start_cursor=after,
            end_cursor=next_token,
        )


def check_first(first: int) -> int:
    """``first`` must be positive; the upper bound is checked before execution."""
    if first < 1:
        raise InputError(f"'first' must be at least 1, got {first}")
    return first


def check_list(name: str, values: list[str] | None, limit: int = 50) -> tuple[str, ...]:
    if values is None:
        return ()
    if len(values) > limit:
        raise InputError(f"'{name}' takes at most {limit} values, got {len(values)}")
    return tuple(values)
