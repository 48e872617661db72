"""Idempotency keys and request fingerprints: the one check and the one hash
every value-moving write uses (ledgers, coupons, holds, orders, refunds).

Callers' keys live in a namespace of their own. Tessera's own writes derive
keys from the facts they come from (``order:<id>:<rule>:0``,
``refund:<id>:points``, ``tier-gift:<history>:...``). Were a caller's key
stored as sent, a client could take such a key first and make the order's
reward fail as a conflicting replay. So every key that comes in through the
API is stored under ``api:`` and shown back without it. The documented limit
(docs/api.md) is the caller's: it is checked on the key as sent, before the
namespace makes it longer.

A stored key (a caller's with its namespace, or one Tessera derives) is at
most :data:`MAX_STORED_KEY`; the columns hold 200, leaving room for the
suffixes a write adds (a second ledger part, a batch item's member).

A replay is recognised by its key and told apart from a different request
under the same key by the :func:`fingerprint` of its normalised values.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

from tessera.errors import DomainError

CALLER_PREFIX = "api:"
MAX_CALLER_KEY = 150
MAX_STORED_KEY = 180
FIELD = "idempotencyKey"


def from_caller(key: str, field: str = FIELD) -> str:
    """The stored form of a caller's key; refuses a blank or too long one."""
    if not key.strip():
        raise DomainError("REQUIRED", "an idempotency key is required", [field])
    if len(key) > MAX_CALLER_KEY:
        raise DomainError("TOO_LONG", f"at most {MAX_CALLER_KEY} characters", [field])
    return CALLER_PREFIX + key


def to_caller(key: str) -> str:
    return key.removeprefix(CALLER_PREFIX)


def stored_key(key: Any, field: str = FIELD) -> str:
    """``key`` as a write stores it; refuses a missing, blank or too long one."""
    if not isinstance(key, str) or not key.strip():
        raise DomainError("REQUIRED", "an idempotency key is required", [field])
    if len(key) > MAX_STORED_KEY:
        raise DomainError("TOO_LONG", f"at most {MAX_STORED_KEY} characters", [field])
    return key


def _canonical_encoder() -> Callable[[Any], str]:
    """What ``json.dumps(values, sort_keys=True, separators=(",", ":"),
    default=str)`` returns, in fewer steps: an import fingerprints every order
    of its file. ``JSONEncoder.encode`` builds its C encoder anew on each call
    (a third of its time for an order); this one is built once. It skips the
    check for circular values, which a fingerprint is never given (and which
    keeps no state between calls, so threads may share it). Where the C
    encoder is missing or does not write what the encoder writes, the encoder."""
    canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)
    if c_make_encoder is None:
        return canonical.encode
    chunks = c_make_encoder(None, str, encode_basestring_ascii, None, ":", ",", True, False, True)

    def encode(values: Any) -> str:
        return "".join(chunks(values, 0))

    sample = {"b": [1, "é\n", None, True, 1.5, Decimal("2.50")], "a": {"z": date(2024, 5, 1)}}
    try:
        same = all(encode(v) == canonical.encode(v) for v in (sample, "key", 7))
    except Exception:  # another Python's C encoder, called otherwise
        same = False
    return encode if same else canonical.encode


_CANONICAL = _canonical_encoder()


def fingerprint(values: Any) -> str:
    """sha256 of ``values`` in one canonical JSON form (sorted keys, no
    spaces; dates and decimals as their ``str``)."""
    return hashlib.sha256(_CANONICAL(values).encode()).hexdigest()


def conflict(field: str = FIELD) -> DomainError:
    """A key replayed with another request: the first one stands."""
    return DomainError(
        "IDEMPOTENCY_CONFLICT",
        "this idempotency key was used for another request; the first one stands",
        [field],
    )
