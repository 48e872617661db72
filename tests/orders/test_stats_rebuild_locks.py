"""A statistics rebuild of one brand holds back only that brand's writers:
another brand's orders go on while it runs (PostgreSQL; SQLite has one writer
for the whole file anyway)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from asyncpg.exceptions import LockNotAvailableError
from order_inputs import order_input
from tortoise.transactions import in_transaction

from tessera.orders.models import MemberStats
from tessera.orders.stats import rebuild_stats
from tessera.pipeline.orders import record_order
from tessera.scope import BrandScope

pytestmark = pytest.mark.postgres_only


@asynccontextmanager
async def rebuild_in_progress(scope: BrandScope) -> AsyncIterator[None]:
    """A rebuild of ``scope``'s brand that has done its work and not yet
    committed, as a long one is for minutes: whatever it locks stays locked."""
    rebuilt, release = asyncio.Event(), asyncio.Event()

    async def rebuild() -> None:
        async with in_transaction():
            await rebuild_stats(scope)
            rebuilt.set()
            await release.wait()

    task = asyncio.create_task(rebuild())
    await rebuilt.wait()
    try:
        yield
    finally:
        release.set()
        await task


async def record_within(scope: BrandScope, lock_timeout: str, *args, **kwargs):
    """record_order, failing instead of waiting longer than ``lock_timeout`` for a lock."""
    async with in_transaction() as conn:
        await conn.execute_script(f"SET LOCAL lock_timeout = '{lock_timeout}'")
        return await record_order(scope, *args, **kwargs)


async def test_another_brands_order_is_recorded_during_a_rebuild(brand_a, brand_b, make_member):
    a, b = BrandScope(brand_a), BrandScope(brand_b)
    member_a, member_b = await make_member(brand_a), await make_member(brand_b)
    await record_order(a, order_input("a-1", member_a.id))

    async with rebuild_in_progress(a):
        recorded = await record_within(
            b, "2s", order_input("b-1", member_b.id, paid="10.00", currency="USD")
        )
        assert recorded.order.external_id == "b-1"

    [stats_b] = await b.query(MemberStats).all()
    assert (stats_b.orders_count, stats_b.gross_spent) == (1, 1000)


async def test_the_rebuilt_brands_own_order_waits_for_the_rebuild(brand_a, make_member):
    a = BrandScope(brand_a)
    member = await make_member(brand_a)
    await record_order(a, order_input("a-1", member.id))

    async with rebuild_in_progress(a):
        with pytest.raises(LockNotAvailableError):
            await record_within(a, "200ms", order_input("a-2", member.id))
    # Not lost once the rebuild is done.
    await record_order(a, order_input("a-2", member.id))
    [stats] = await a.query(MemberStats).all()
    assert stats.orders_count == 2
