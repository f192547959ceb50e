"""Count the AWS calls a source makes, by wrapping its aiobotocore client."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any


class CountingClient:
    """Delegates to ``client``; counts each API call by operation name.

    ``fail`` maps an operation name to an exception to raise instead of calling
    AWS (e.g. a botocore ClientError with code ThrottlingException).
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: Counter[str] = Counter()
        self.fail: dict[str, Callable[[], Exception]] = {}

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._client, name)
        if not callable(target) or name.startswith("_") or name in ("get_paginator", "close"):
            return target

        async def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            if name in self.fail:
                raise self.fail[name]()
            return await target(*args, **kwargs)

        return call

    def total(self) -> int:
        return sum(self.calls.values())
