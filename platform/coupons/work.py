"""Where a coupon write runs: in the caller's unit of work when it passes one
(the order and tier integrations do, so a coupon moves with their facts), or
in a unit of work of its own.

Inside the caller's transaction the write runs in a savepoint: on PostgreSQL
a unique violation aborts the whole transaction, and a coupon write uses one
to detect a replayed idempotency key, which must leave the caller's work
intact.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tortoise.transactions import in_transaction

from tessera.errors import DomainError
from tessera.scope import BrandScope
from tessera.uow import UnitOfWork, unit_of_work

# A stored key: callers' keys (150 characters, checked where they come in) carry a
# namespace; the column holds 200, and a batch item's key adds ``:<member id>``.
MAX_KEY = 180


@asynccontextmanager
async def joined(scope: BrandScope, uow: UnitOfWork | None) -> AsyncIterator[UnitOfWork]:
    if uow is None:
        async with unit_of_work(scope) as own:
            yield own
        return
    async with in_transaction():
        yield uow


def connection_of(uow: UnitOfWork | None) -> Any:
    """For reads before the write: the caller's transaction, so they see its rows."""
    return uow.connection if uow is not None else None


def idempotency_key(value: str | None, field: str = "idempotencyKey") -> str:
    key = (value or "").strip()
    if not key:
        raise DomainError("REQUIRED", "an idempotency key is required", [field])
    if len(key) > MAX_KEY:
        raise DomainError("TOO_LONG", f"must be at most {MAX_KEY} characters", [field])
    return key


def fingerprint(values: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()


def conflict(field: str = "idempotencyKey") -> DomainError:
    return DomainError(
        "IDEMPOTENCY_CONFLICT",
        "this idempotency key was used before with other details; the first call stands",
        [field],
    )
