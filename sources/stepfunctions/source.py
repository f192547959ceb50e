"""Step Functions adapter over one shared aiobotocore client."""

from __future__ import annotations

from typing import Any

from sources.aws import translate


class StepFunctionsSource:
    name = "stepfunctions"

    def __init__(self, client: Any) -> None:
        self._client = client

    async def check(self) -> None:
        try:
            await self._client.list_state_machines(maxResults=1)
        except Exception as exc:
            raise translate(exc, self.name) from exc
