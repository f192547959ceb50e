"""Snapshots of an execution, and their JSON form on the fan-out bus.

A snapshot is what one poll of an execution returns: the execution and its
steps. Replicas exchange them as JSON, so the codec is the wire format between
gateway versions during a rolling upgrade: unknown fields are ignored on
decode and missing optional ones take their defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from datetime import UTC, datetime
from enum import Enum
from typing import Any, get_args, get_type_hints

from sources.pipelines.model import ExecutionInfo, StepState

Snapshot = tuple[ExecutionInfo, list[StepState]]


def encode_snapshot(snapshot: Snapshot) -> dict[str, Any]:
    """JSON-ready form: datetimes as ISO 8601 in UTC, enums as their values."""
    info, steps = snapshot
    return {"execution": _encode(info), "steps": [_encode(step) for step in steps]}


def decode_snapshot(data: Mapping[str, Any]) -> Snapshot:
    """The inverse of ``encode_snapshot``; raises ``ValueError`` on a malformed document."""
    try:
        info = ExecutionInfo(**_decode(ExecutionInfo, data["execution"]))
        steps = [StepState(**_decode(StepState, step)) for step in data["steps"]]
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a snapshot: {exc}") from exc
    return info, steps


def _encode(obj: ExecutionInfo | StepState) -> dict[str, Any]:
    return {f.name: _plain(getattr(obj, f.name)) for f in fields(obj)}


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def _decode(cls: type[ExecutionInfo | StepState], data: Mapping[str, Any]) -> dict[str, Any]:
    hints = _HINTS[cls]
    return {f.name: _typed(hints[f.name], data[f.name]) for f in fields(cls) if f.name in data}


_HINTS: dict[type[ExecutionInfo | StepState], dict[str, Any]] = {
    ExecutionInfo: get_type_hints(ExecutionInfo),
    StepState: get_type_hints(StepState),
}


def _typed(hint: Any, value: object) -> object:
    if value is None:
        return None
    for kind in (hint, *get_args(hint)):
        if kind is datetime:
            return datetime.fromisoformat(str(value))
        if isinstance(kind, type) and issubclass(kind, Enum):
            return kind(value)
    return value


__all__ = ["Snapshot", "decode_snapshot", "encode_snapshot"]
