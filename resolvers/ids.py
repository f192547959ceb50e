"""Opaque global ids (Relay object identification).

An id is ``base64url("<TypeName>:<natural key>")`` without padding: stable
across restarts and replicas because it is derived from the natural key only.
Clients must treat it as opaque.
"""

from __future__ import annotations

import base64
import binascii

from sources.errors import InputError


def encode_id(type_name: str, key: str) -> str:
    raw = f"{type_name}:{key}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_id(global_id: str) -> tuple[str, str]:
    """Split an id into (type name, natural key); InputError when it is not one of ours."""
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise InputError(f"{global_id!r} is not a valid id") from exc
    type_name, sep, key = text.partition(":")
    if not sep or not type_name or not key:
        raise InputError(f"{global_id!r} is not a valid id")
    return type_name, key
