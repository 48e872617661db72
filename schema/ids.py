"""Opaque ids: ``base64("Type:pk")``. Any other brand's id decodes fine but
is never found, because every lookup goes through the caller's brand scope."""

from __future__ import annotations

import base64
import binascii
import re

from tessera.errors import DomainError


def encode_id(type_name: str, pk: int | str) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def decode_id(opaque: str, type_name: str) -> int | None:
    """The primary key, or None when ``opaque`` is not an id of ``type_name``."""
    try:
        padded = opaque + "=" * (-len(opaque) % 4)
        kind, _, pk = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if kind != type_name or not pk.isdigit():
        return None
    return int(pk)


def require_id(opaque: object, type_name: str, field: str | list[str]) -> int:
    """The primary key of an input's id; ``NOT_FOUND`` at ``field`` when it is
    missing or not an id of ``type_name``, exactly as when the row is missing."""
    pk = decode_id(str(opaque), type_name) if opaque is not None else None
    if pk is None:
        readable = re.sub(r"(?<!^)(?=[A-Z])", " ", type_name).lower()
        raise DomainError(
            "NOT_FOUND", f"no such {readable}", [field] if isinstance(field, str) else field
        )
    return pk


def id_for_lookup(opaque: object, type_name: str) -> int | None:
    """The primary key for a service that looks the row up and names the field
    itself: None stays None, and anything not an id of ``type_name`` becomes 0,
    which no row has, so it is reported exactly like a missing row."""
    if opaque is None:
        return None
    return decode_id(str(opaque), type_name) or 0
