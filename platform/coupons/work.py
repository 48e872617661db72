"""Where a coupon write runs: in the caller's unit of work when it passes one
(the order and tier integrations do, so a coupon moves with their facts), or
in a unit of work of its own.

Inside the caller's transaction the write runs in a savepoint: on PostgreSQL
a unique violation aborts the whole transaction, and a coupon write uses one
to detect a replayed idempotency key, which must leave the caller's work
intact.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tortoise.transactions import in_transaction

from tessera.scope import BrandScope
from tessera.uow import UnitOfWork, unit_of_work


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
