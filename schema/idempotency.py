"""Callers' idempotency keys live in a namespace of their own.

Tessera's own writes derive keys from the facts they come from
(``order:<id>:<rule>:0``, ``refund:<id>:points``, ``tier-gift:<history>:...``).
Were a caller's key stored as sent, a client could take such a key first and
make the order's reward fail as a conflicting replay. So every key that comes
in through the API is stored under ``api:`` and shown back without it.

The documented limit is the caller's: it is checked here, on the key as sent,
before the namespace makes it longer.
"""

from __future__ import annotations

from tessera.errors import DomainError

CALLER_PREFIX = "api:"
MAX_CALLER_KEY = 150


def from_caller(key: str, field: str = "idempotencyKey") -> str:
    """The stored form of a caller's key; refuses a blank or too long one."""
    if not key.strip():
        raise DomainError("REQUIRED", "an idempotency key is required", [field])
    if len(key) > MAX_CALLER_KEY:
        raise DomainError("TOO_LONG", f"at most {MAX_CALLER_KEY} characters", [field])
    return CALLER_PREFIX + key


def to_caller(key: str) -> str:
    return key.removeprefix(CALLER_PREFIX)
