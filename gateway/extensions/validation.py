"""graphql-core validation, cached, and skipped for a document already refused.

Strawberry's own ``ValidationCache`` validates whatever an earlier extension
decided, which would run the quadratic rules on the very documents
``document_limits`` refused.
"""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import ValidationCache


class GuardedValidationCache(ValidationCache):
    def on_validate(self) -> Iterator[None]:
        if self.execution_context.pre_execution_errors:
            yield
            return
        yield from super().on_validate()
