"""``mlmeta documents``: register the documents a plugin sends, list what is registered.

``register`` writes straight into the configured metadb (``MLMETA_DATABASE_URL``),
where every replica looks hashes up. It accepts:

- ``.graphql`` files: each file is ONE document, registered byte for byte, so
  the client must send the file's exact text (or its sha256);
- ``.json`` manifests: GraphQL Codegen's ``persisted-documents.json``
  (``{"<sha256>": "<document>"}``) and Apollo's persisted-query manifest
  (``{"format": "apollo-persisted-query-manifest", "operations": [{id, body}]}``),
  whose ids must be the sha256 of the document, which is how mlmeta looks them up.

Every document is validated against the schema first; if any fails, nothing is
registered. Each registered document's hash is printed with where it came from.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from graphql import GraphQLError, OperationDefinitionNode, parse, validate

from gateway.config import Settings
from sources.metadb import MetaDB, upgrade
from sources.metadb.documents import DocumentStore, document_hash


class ManifestError(Exception):
    pass


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    documents = commands.add_parser(
        "documents", help="trusted documents (persisted queries): register, list"
    )
    actions = documents.add_subparsers(dest="documents_command", required=True, metavar="ACTION")
    register = actions.add_parser(
        "register", help="validate and register .graphql files or JSON manifests"
    )
    register.add_argument("files", nargs="+", type=Path, metavar="FILE")
    actions.add_parser("list", help="print every registered document's hash and operations")


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.documents_command == "register":
        return _register(args.files, settings)
    return asyncio.run(_list(settings))


def _register(files: list[Path], settings: Settings) -> int:
    try:
        entries = [entry for path in files for entry in _read(path)]
    except (OSError, ManifestError) as exc:
        print(f"mlmeta: {exc}", file=sys.stderr)
        return 2
    from gateway.schema import build_schema

    schema = build_schema(settings)._schema
    failed = False
    for origin, document in entries:
        for error in _errors(schema, document):
            print(f"{origin}: {error.message}", file=sys.stderr)
            failed = True
    if failed:
        print("mlmeta: nothing registered", file=sys.stderr)
        return 1
    hashes = asyncio.run(_store([d for _, d in entries], settings))
    for (origin, _), sha256 in zip(entries, hashes, strict=True):
        print(f"{sha256}  {origin}")
    return 0


def _read(path: Path) -> list[tuple[str, str]]:
    """(where it came from, document) for each document in a file."""
    text = path.read_text()
    if path.suffix != ".json":
        return [(str(path), text)]
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path}: not JSON ({exc})") from exc
    if isinstance(manifest, dict) and manifest.get("format") == "apollo-persisted-query-manifest":
        pairs = [(op.get("id"), op.get("body")) for op in manifest.get("operations", [])]
    elif isinstance(manifest, dict):
        pairs = list(manifest.items())
    else:
        raise ManifestError(f"{path}: expected {{hash: document}} or an Apollo manifest")
    entries = []
    for key, document in pairs:
        if not isinstance(key, str) or not isinstance(document, str):
            raise ManifestError(f"{path}: every entry needs a string id and document")
        if key.lower() != document_hash(document):
            raise ManifestError(
                f"{path}: {key} is not the sha256 of its document; mlmeta looks documents "
                "up by sha256 (set the generator's hash algorithm to sha256)"
            )
        entries.append((f"{path}#{key[:12]}", document))
    return entries


def _errors(schema: object, document: str) -> list[GraphQLError]:
    try:
        parsed = parse(document)
    except GraphQLError as exc:
        return [exc]
    return list(validate(schema, parsed))  # type: ignore[arg-type]


async def _prepare(settings: Settings) -> None:
    # As `serve` does: a SQLite metadb is created and migrated on first use.
    if settings.is_sqlite and settings.auto_migrate:
        Path(settings.database_url.split("///", 1)[-1]).parent.mkdir(parents=True, exist_ok=True)
        await upgrade(settings.database_url)


async def _store(documents: list[str], settings: Settings) -> list[str]:
    await _prepare(settings)
    metadb = MetaDB.connect(settings.database_url)
    try:
        return await DocumentStore(metadb).add(documents, source="cli")
    finally:
        await metadb.close()


async def _list(settings: Settings) -> int:
    await _prepare(settings)
    metadb = MetaDB.connect(settings.database_url)
    try:
        stored = await DocumentStore(metadb).list()
    finally:
        await metadb.close()
    for doc in stored:
        print(
            f"{doc.sha256}  {doc.source:<4}  {doc.registered_at.isoformat(timespec='seconds')}  "
            f"{doc.registered_by or '-'}  {_operations(doc.document)}"
        )
    return 0


def _operations(document: str) -> str:
    try:
        parsed = parse(document)
    except GraphQLError:
        return "(unparsable)"
    names = [
        f"{d.operation.value} {d.name.value if d.name else '(anonymous)'}"
        for d in parsed.definitions
        if isinstance(d, OperationDefinitionNode)
    ]
    return ", ".join(names)
