"""Each demo start begins from nothing: the files a previous start left are removed.

moto keeps its data in memory, so a restart has a new AWS with the same names
(execution and model package ARNs are made of names). A metadb kept from the
previous start would mix the two: runs stored from the old AWS that the new one
does not list (phantoms in ``metricEvolution``), a version's facts from one
start and its run from the other. Only what the demo itself writes is removed:
the default SQLite file of ``data_dir`` and the demo's catalog files.
"""

from __future__ import annotations

import logging
from pathlib import Path

from gateway.config import Settings
from gateway.demo.catalog_files import catalog_texts

log = logging.getLogger("mlmeta.demo")
SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def clear_previous_demo(settings: Settings) -> list[Path]:
    """Remove the previous demo's metadb and catalog files; the paths removed."""
    removed: list[Path] = []
    default_db = Settings(data_dir=settings.data_dir).database_url
    if settings.database_url == default_db:
        database = settings.data_dir / "mlmeta.db"
        for suffix in SQLITE_SUFFIXES:
            removed += _unlink(database.with_name(database.name + suffix))
    else:
        # Not the demo's own file: it may hold more than the demo; leave it.
        log.warning(
            "demo: the metadb is not the demo's own SQLite file; data of a previous demo "
            "start in it stays and may mix with this one"
        )
    folder = Path(settings.catalog_folder)
    for name in catalog_texts(settings.aws_region):
        removed += _unlink(folder / name)
    return removed


def _unlink(path: Path) -> list[Path]:
    if not path.is_file():
        return []
    path.unlink()
    return [path]
