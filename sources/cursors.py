"""Opaque page cursors: a small JSON document, base64url-encoded without padding.

Every list that pages (catalog, executions, pipelines) encodes its own position
with these two functions and validates what it decodes; a cursor is only ever
read back by the list that made it.
"""

from __future__ import annotations

import base64
import json
from typing import Any


def encode_cursor(position: object) -> str:
    raw = json.dumps(position, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> Any:
    """The position a cursor holds; ValueError when it is not base64url JSON."""
    try:
        raw = base64.urlsafe_b64decode(cursor.encode("ascii") + b"=" * (-len(cursor) % 4))
        return json.loads(raw)
    except (UnicodeError, TypeError) as exc:  # ValueError covers binascii and JSON errors
        raise ValueError("not a cursor") from exc
