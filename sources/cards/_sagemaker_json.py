"""JSON helpers for the SageMaker card mapping: lenient reads, schema-shaped writes.

Shared by ``sagemaker_read`` and ``sagemaker_write``; private to ``sources.cards``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, TypeGuard, TypeVar

T = TypeVar("T")
Path = tuple[str, ...]


def _at(doc: Any, path: Path) -> dict[str, Any]:
    """The object at ``path``, or ``{}`` when anything on the way is missing or not one."""
    for key in path:
        doc = _obj(doc).get(key)
    return _obj(doc)


def _put(doc: dict[str, Any], path: Path, field: str, value: Any) -> None:
    """Set ``field`` at ``path`` (made as needed) unless ``value`` holds nothing."""
    if value not in (None, "", [], {}):
        for key in path:
            doc = doc.setdefault(key, {})
        doc[field] = value


def _some(**fields: Any) -> dict[str, Any]:
    """The fields that hold something: no None, empty text, list or object."""
    return {key: value for key, value in fields.items() if value not in (None, "", [], {})}


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _texts(value: Any) -> list[str]:
    return [text for item in value if (text := _text(item))] if isinstance(value, list) else []


def _lines(value: Any) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()] if _text(value) else []


def _strings_to(value: Any, most: int) -> list[str]:
    return [_clip(text, 1024) for text in _unique(_texts(value))][:most]


def _finite(value: object) -> TypeGuard[int | float]:
    """A number JSON holds: int or float, not bool, not NaN or infinite."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _name(text: str, limit: int) -> str:
    """A name for the schema's ``.{1,N}`` patterns: one line, never empty."""
    return _clip(" ".join(text.splitlines()).strip() or "unnamed", limit)


def _unique(items: Iterable[T]) -> list[T]:
    return list(dict.fromkeys(items))
