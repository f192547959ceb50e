"""Datasets: a URI (and optionally a version) that runs consume and produce."""

from __future__ import annotations

from datetime import datetime

import strawberry

from resolvers.catalog import CatalogEntity, load_entity
from resolvers.context import Info
from resolvers.ids import encode_id
from resolvers.node import Node, keys, register_node
from sources.errors import InputError
from sources.lineage.model import dataset_key, split_dataset_key
from sources.models.model import DatasetRef

MAX_URI_LENGTH = 2_000


def check_uri(uri: str) -> str:
    """A dataset URI: ``s3://bucket/key``, or OpenLineage's ``namespace/name``."""
    text = uri.strip()
    if not text or len(text) > MAX_URI_LENGTH or any(ord(c) < 32 for c in text):
        raise InputError(
            f"{uri[:100]!r} is not a dataset URI (1 to {MAX_URI_LENGTH} printable characters)"
        )
    return text


def dataset_of_key(key: str) -> DatasetRef:
    """The dataset an id names (``uri[@version]``)."""
    uri, version = split_dataset_key(key)
    return DatasetRef(uri=check_uri(uri), version=version)


@strawberry.type(description="A dataset version: what runs consume and produce.", directives=keys())
class Dataset(Node):
    name: str
    uri: str
    version: str | None = strawberry.field(
        description="Content hash, S3 version id or snapshot tag; null when unversioned."
    )
    created_at: datetime | None = strawberry.field(
        description="When mlmeta first recorded it; null when it is only named by a card."
    )

    @staticmethod
    def of(ref: DatasetRef, created_at: datetime | None = None) -> Dataset:
        return Dataset(
            id=strawberry.ID(encode_id("Dataset", dataset_key(ref.uri, ref.version))),
            name=ref.name or _name_of(ref.uri),
            uri=ref.uri,
            version=ref.version,
            created_at=created_at,
        )

    @strawberry.field(
        description="The catalog entity whose mlmeta.io/dataset-uri annotation is the "
        "longest prefix of this URI."
    )
    async def entity(self, info: Info) -> CatalogEntity | None:
        claimed = await info.context.loaders.dataset_entity_by_uri.load(self.uri)
        return await load_entity(info, claimed.ref) if claimed else None


def _name_of(uri: str) -> str:
    parts = [p for p in uri.split("://", 1)[-1].split("/") if p]
    return parts[-1] if parts else uri


async def load_dataset(info: Info, key: str) -> Dataset:
    """A dataset by id: as recorded when mlmeta has it, else from its URI alone."""
    ref = dataset_of_key(key)
    row = await info.context.loaders.datasets_by_key.load(dataset_key(ref.uri, ref.version))
    if row is None:
        return Dataset.of(ref)
    return Dataset.of(DatasetRef(row.uri, row.version, row.name), row.created_at)


async def _dataset_node(info: Info, key: str) -> Dataset:
    return await load_dataset(info, key)


register_node("Dataset", _dataset_node)
