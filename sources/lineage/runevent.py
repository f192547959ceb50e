"""OpenLineage RunEvents (spec 2-0-2), checked strictly before anything is stored.

``parse_run_event`` turns a decoded JSON body into a ``RunEvent`` or raises
``InputError`` naming the field and the reason (``run.runId: not a UUID``), so
a producer can fix its payload from the message alone. It checks what the spec
requires (``eventTime``, ``producer``, ``schemaURL``, ``run.runId``, ``job``)
and the shape of what it defines (datasets, facets); unknown top-level fields
are allowed, as the spec's extension model expects. ``eventType`` is optional
in the spec: a missing one means ``OTHER``. Facets are kept as given.

Storing an event is ``sources.lineage.openlineage.LineageIngestor``; that
module re-exports this one's names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from sources.errors import InputError

SOURCE = "openlineage"
MAX_DATASETS = 500
"""Most inputs, and most outputs, one event may list (each becomes an edge)."""
MAX_NAME_LENGTH = 500
UUID_PATTERN = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*$")
_OTHER_EVENTS = ("/DatasetEvent", "/JobEvent")


class EventType(StrEnum):
    START = "START"
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    ABORT = "ABORT"
    FAIL = "FAIL"
    OTHER = "OTHER"


@dataclass(frozen=True)
class DatasetRef:
    """An input or output dataset of an event, as the producer named it."""

    namespace: str
    name: str
    facets: dict[str, Any] = field(default_factory=dict)
    io_facets: dict[str, Any] = field(default_factory=dict)
    """``inputFacets`` of an input, ``outputFacets`` of an output."""


@dataclass(frozen=True)
class RunEvent:
    """A checked OpenLineage RunEvent; times are aware, ``run_id`` is a lower-case UUID."""

    event_type: EventType
    event_time: datetime
    producer: str
    schema_url: str
    run_id: str
    job_namespace: str
    job_name: str
    run_facets: dict[str, Any] = field(default_factory=dict)
    job_facets: dict[str, Any] = field(default_factory=dict)
    inputs: tuple[DatasetRef, ...] = ()
    outputs: tuple[DatasetRef, ...] = ()


def parse_run_event(payload: object) -> RunEvent:
    """The RunEvent in ``payload`` (decoded JSON); ``InputError`` saying which field is wrong."""
    event = _object("event", payload)
    event_type = event.get("eventType", EventType.OTHER.value)
    if not isinstance(event_type, str) or event_type not in EventType.__members__:
        raise _bad("eventType", f"must be one of {', '.join(EventType)}")
    schema_url = _uri("schemaURL", event.get("schemaURL"))
    if urlsplit(schema_url).fragment.endswith(_OTHER_EVENTS):
        raise _bad("schemaURL", "names another event type; only RunEvents are accepted here")
    run = _object("run", event.get("run"))
    run_id = run.get("runId")
    if not isinstance(run_id, str) or not UUID_PATTERN.match(run_id):
        raise _bad("run.runId", "not a UUID")
    job = _object("job", event.get("job"))
    return RunEvent(
        event_type=EventType(event_type),
        event_time=_instant("eventTime", event.get("eventTime")),
        producer=_uri("producer", event.get("producer")),
        schema_url=schema_url,
        run_id=run_id.lower(),
        job_namespace=_name("job.namespace", job.get("namespace")),
        job_name=_name("job.name", job.get("name")),
        run_facets=_facets("run.facets", run.get("facets")),
        job_facets=_facets("job.facets", job.get("facets")),
        inputs=_datasets("inputs", event.get("inputs"), "inputFacets"),
        outputs=_datasets("outputs", event.get("outputs"), "outputFacets"),
    )


def _bad(path: str, why: str) -> InputError:
    return InputError(f"{path}: {why}", source=SOURCE)


def _object(path: str, value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(path, "must be an object" if value is not None else "is required")
    return value


def _name(path: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _bad(path, "must be a non-empty string")
    if len(value) > MAX_NAME_LENGTH:
        raise _bad(path, f"must be at most {MAX_NAME_LENGTH} characters, got {len(value)}")
    if value != value.strip() or any(ord(c) < 0x20 or c == "\x7f" for c in value):
        raise _bad(path, "must not have surrounding spaces or control characters")
    return value


def _instant(path: str, value: object) -> datetime:
    if not isinstance(value, str):
        raise _bad(path, "is required" if value is None else "must be a string")
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise _bad(path, "not an ISO-8601 date-time") from None
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise _bad(path, "has no UTC offset (add Z or +hh:mm)")
    return instant.astimezone(UTC)


def _uri(path: str, value: object) -> str:
    if not isinstance(value, str):
        raise _bad(path, "is required" if value is None else "must be a string")
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        raise _bad(path, "not a URI") from None
    if (
        not _SCHEME.match(parts.scheme)
        or not (parts.netloc or parts.path)
        or any(c.isspace() for c in value)
    ):
        raise _bad(path, "not a URI")
    return value


def _facets(path: str, value: object) -> dict[str, Any]:
    if value is None:
        return {}
    facets = _object(path, value)
    for key, facet in facets.items():
        if not isinstance(facet, dict):
            raise _bad(f"{path}.{key}", "must be an object")
    return facets


def _datasets(path: str, value: object, io_key: str) -> tuple[DatasetRef, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _bad(path, "must be a list")
    if len(value) > MAX_DATASETS:
        raise _bad(path, f"at most {MAX_DATASETS} datasets, got {len(value)}")
    refs = []
    for index, item in enumerate(value):
        at = f"{path}[{index}]"
        dataset = _object(at, item)
        refs.append(
            DatasetRef(
                namespace=_name(f"{at}.namespace", dataset.get("namespace")),
                name=_name(f"{at}.name", dataset.get("name")),
                facets=_facets(f"{at}.facets", dataset.get("facets")),
                io_facets=_facets(f"{at}.{io_key}", dataset.get(io_key)),
            )
        )
    return tuple(refs)


def facet_string(facets: dict[str, Any], facet: str, key: str, path: str) -> str | None:
    """``facets[facet][key]`` when there (``None`` if not); ``InputError`` if not a string."""
    if facet not in facets or key not in facets[facet]:
        return None
    value = facets[facet][key]
    if not isinstance(value, str) or not value.strip():
        raise _bad(f"{path}.{facet}.{key}", "must be a non-empty string")
    return value
