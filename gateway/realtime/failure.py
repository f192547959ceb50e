"""Why a live stream ended, in a form that crosses replicas."""

from __future__ import annotations

from dataclasses import dataclass

from sources.errors import MlmetaError


@dataclass(frozen=True)
class Failure:
    """The code, message and source of an error: what a client may see, never a traceback."""

    code: str
    message: str
    source: str | None = None

    @classmethod
    def of(cls, exc: BaseException) -> Failure:
        """Expected errors keep their message; anything else is masked."""
        if isinstance(exc, MlmetaError):
            return cls(exc.code, exc.message, exc.source)
        return cls(MlmetaError.code, "Unexpected error.")

    def exception(self) -> MlmetaError:
        """A fresh exception (one per subscriber), of the class its code names."""
        kind = _error_types().get(self.code, MlmetaError)
        error = kind(self.message, source=self.source)
        error.code = self.code
        return error


def _error_types() -> dict[str, type[MlmetaError]]:
    """Each code's most general class: ``UPSTREAM_UNAVAILABLE`` is ``UpstreamError``."""
    found: dict[str, type[MlmetaError]] = {}
    pending: list[type[MlmetaError]] = [MlmetaError]
    while pending:
        kind = pending.pop(0)
        found.setdefault(kind.code, kind)
        pending += kind.__subclasses__()
    return found
