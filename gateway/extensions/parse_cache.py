"""Parse a document once: the parsed documents of recent query texts, per schema.

A portal sends the same few queries over and over; graphql-core's lexer and
parser spend ~0.5 ms of CPU on the portal's 600-character entity-page query,
every time. This cache hands strawberry the document parsed earlier for the
same text, so its own parse step (which skips a document already set) does
nothing, and the validation cache then finds that very object. Unlike
strawberry's ``ParserCache``, which parses in ``on_parse``'s set-up where a
syntax error escapes every extension, only documents that parsed are kept: a
text that does not parse is parsed (and refused, with its code) every time. The
same text always gives the same document, and a kept text was under
``MLMETA_MAX_TOKENS`` when it was parsed.

Bounded by entries and by the characters of the texts kept (a document's tree
is some tens of times its text), oldest out first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator

from graphql import DocumentNode
from strawberry.extensions import SchemaExtension

from sources.telemetry import cache_lookup

MAX_ENTRIES = 256
MAX_CHARACTERS = 256 * 1024
"""Texts kept, in total (a longer text is never kept)."""


class ParsedDocuments:
    """Query text -> parsed document, least recently used out first."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_characters: int = MAX_CHARACTERS):
        self._documents: OrderedDict[str, DocumentNode] = OrderedDict()
        self._max_entries = max_entries
        self._max_characters = max_characters
        self._characters = 0

    def get(self, text: str) -> DocumentNode | None:
        document = self._documents.get(text)
        if document is not None:
            self._documents.move_to_end(text)
        return document

    def put(self, text: str, document: DocumentNode) -> None:
        if text in self._documents or len(text) > self._max_characters:
            return
        self._documents[text] = document
        self._characters += len(text)
        while len(self._documents) > self._max_entries or self._characters > self._max_characters:
            oldest, _ = self._documents.popitem(last=False)
            self._characters -= len(oldest)

    def __len__(self) -> int:
        return len(self._documents)


def parse_cache(documents: ParsedDocuments | None = None) -> Callable[[], SchemaExtension]:
    """An extension factory; the factories of one schema share one cache."""
    kept = documents if documents is not None else ParsedDocuments()

    class ParseCache(SchemaExtension):
        def on_parse(self) -> Iterator[None]:
            context = self.execution_context
            text = context.query
            document = kept.get(text) if text and context.graphql_document is None else None
            if text:
                cache_lookup("parsed_documents", document is not None)
            if document is not None:
                context.graphql_document = document  # strawberry's parse then does nothing
            yield
            if document is None and text and context.graphql_document is not None:
                kept.put(text, context.graphql_document)

    return ParseCache
