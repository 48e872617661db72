"""Callers' idempotency keys live in a namespace of their own.

Tessera's own writes derive keys from the facts they come from
(``order:<id>:<rule>:0``, ``refund:<id>:points``, ``tier-gift:<history>:...``).
Were a caller's key stored as sent, a client could take such a key first and
make the order's reward fail as a conflicting replay. So every key that comes
in through the API is stored under ``api:`` and shown back without it.
"""

from __future__ import annotations

CALLER_PREFIX = "api:"


def from_caller(key: str) -> str:
    return CALLER_PREFIX + key


def to_caller(key: str) -> str:
    return key.removeprefix(CALLER_PREFIX)
