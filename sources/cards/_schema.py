"""A small JSON-schema-shaped checker for imported cards; private to ``sources.cards``.

Just what the two card schemas use: objects (closed or open, required keys,
typed values of a map), arrays (with a maximum length), strings (with length
bounds), numbers (with a minimum), booleans, enums and "one of these". Written
by hand rather than adding a JSON Schema library: the two schemas are fixed,
and the checks must produce messages a portal user can act on, naming the
offending key by its path (``model_details.licenses[1]``).

``format`` (date, uri) is not checked: draft-07 makes it an annotation, and
validators do not assert it unless asked.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sources.errors import InputError


class Spec(Protocol):
    def check(self, value: Any, path: str) -> None:
        """Raise ``InputError`` naming ``path`` unless ``value`` fits."""
        ...


def fail(path: str, problem: str) -> InputError:
    return InputError(f"{path or 'content'}: {problem}")


@dataclass(frozen=True)
class Str:
    max: int | None = None
    min: int = 0

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, str):
            raise fail(path, "expected a string")
        if len(value) < self.min:
            raise fail(path, f"must have at least {self.min} character(s)")
        if self.max is not None and len(value) > self.max:
            raise fail(path, f"at most {self.max} characters, got {len(value)}")


@dataclass(frozen=True)
class Num:
    min: float | None = None

    def check(self, value: Any, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fail(path, "expected a number")
        if not math.isfinite(value):
            raise fail(path, "expected a finite number")
        if self.min is not None and value < self.min:
            raise fail(path, f"must be at least {self.min:g}")


@dataclass(frozen=True)
class Bool:
    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, bool):
            raise fail(path, "expected true or false")


@dataclass(frozen=True)
class Enum:
    values: tuple[str, ...]

    def check(self, value: Any, path: str) -> None:
        if value not in self.values:
            raise fail(path, f"expected one of {', '.join(self.values)}")


@dataclass(frozen=True)
class AnyJson:
    def check(self, value: Any, path: str) -> None:
        return None


@dataclass(frozen=True)
class OneOf:
    """The first spec that fits wins; the message lists what was expected."""

    specs: tuple[Spec, ...]
    expected: str

    def check(self, value: Any, path: str) -> None:
        for spec in self.specs:
            try:
                spec.check(value, path)
            except InputError:
                continue
            return
        raise fail(path, f"expected {self.expected}")


@dataclass(frozen=True)
class Arr:
    item: Spec
    max: int | None = None

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, list):
            raise fail(path, "expected an array")
        if self.max is not None and len(value) > self.max:
            raise fail(path, f"at most {self.max} items, got {len(value)}")
        for index, item in enumerate(value):
            self.item.check(item, f"{path}[{index}]")


@dataclass(frozen=True)
class Obj:
    """An object; ``closed`` refuses keys not in ``fields`` (``additionalProperties: false``),
    ``values`` types every value of a map, ``exactly_one`` is a ``oneOf`` of ``required``s."""

    fields: Mapping[str, Spec] = field(default_factory=dict)
    required: Sequence[str] = ()
    closed: bool = False
    values: Spec | None = None
    exactly_one: Sequence[str] = ()
    max_keys: int | None = None

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise fail(path, "expected an object")
        where = f"{path}." if path else ""
        if self.closed and (unknown := sorted(set(value) - set(self.fields))):
            raise fail(
                f"{where}{unknown[0]}",
                f"unknown key; expected one of {', '.join(self.fields)}",
            )
        for key in self.required:
            if key not in value:
                raise fail(f"{where}{key}", "is required")
        if self.exactly_one and sum(k in value for k in self.exactly_one) != 1:
            raise fail(path, f"needs exactly one of {', '.join(self.exactly_one)}")
        if self.max_keys is not None and len(value) > self.max_keys:
            raise fail(path, f"at most {self.max_keys} keys, got {len(value)}")
        for key, item in value.items():
            spec = self.fields.get(key, self.values)
            if spec is not None:
                spec.check(item, f"{where}{key}")
