"""Segments of one brand never see, block or change another brand's."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from tessera.scope import BrandScope
from tessera.segments import service
from tessera.segments.models import Segment, SegmentMembership
from tessera.segments.service import SegmentKind

BOUGHT = {"type": "stats", "metric": "ordersCount", "min": 1}
EVERYONE = {"type": "stats", "metric": "ordersCount", "min": 0}


async def test_a_refresh_and_an_order_touch_only_their_own_brand(
    brand_a, brand_b, make_member, buy, drain_outbox
):
    a_member, b_member = await make_member(brand_a), await make_member(brand_b)
    a_seg = await service.create_segment(
        BrandScope(brand_a), "All", SegmentKind.DYNAMIC, rule=EVERYONE
    )
    b_seg = await service.create_segment(
        BrandScope(brand_b), "Buyers", SegmentKind.DYNAMIC, rule=BOUGHT
    )

    refresh = await service.refresh_segment(BrandScope(brand_a), a_seg.id)
    await buy(brand_b, b_member, at=datetime.now(UTC))
    await drain_outbox()

    assert refresh.size == 1
    rows = await SegmentMembership.all().values_list("brand_id", "segment_id", "member_id")
    assert sorted(rows) == sorted(
        [(brand_a.id, a_seg.id, a_member.id), (brand_b.id, b_seg.id, b_member.id)]
    )


# SQLite has one writer at a time for the whole database.
@pytest.mark.postgres_only
async def test_a_refresh_waits_only_for_a_refresh_of_its_own_segment(brand_a, brand_b, make_member):
    await make_member(brand_a)
    await make_member(brand_b)
    a_seg = await service.create_segment(
        BrandScope(brand_a), "A", SegmentKind.DYNAMIC, rule=EVERYONE
    )
    b_seg = await service.create_segment(
        BrandScope(brand_b), "B", SegmentKind.DYNAMIC, rule=EVERYONE
    )
    locked, release = asyncio.Event(), asyncio.Event()

    async def hold_a() -> None:
        # As a long refresh of A does: its segment row locked in an open transaction.
        async with in_transaction() as conn:
            await Segment.filter(id=a_seg.id).using_db(conn).select_for_update().first()
            locked.set()
            await release.wait()

    holder = asyncio.create_task(hold_a())
    await locked.wait()
    try:
        done = await asyncio.wait_for(service.refresh_segment(BrandScope(brand_b), b_seg.id), 10)
        assert done.size == 1
        waiting = asyncio.create_task(service.refresh_segment(BrandScope(brand_a), a_seg.id))
        # Observed, not slept on: PostgreSQL shows the second refresh blocked by the holder.
        await asyncio.wait_for(_blocked_on_a_lock(), 10)
        assert not waiting.done(), "a second refresh of A must wait for the first"
    finally:
        release.set()
        await holder
    assert (await asyncio.wait_for(waiting, 10)).size == 1


async def _blocked_on_a_lock() -> None:
    """Return once some session of this database waits for a row lock."""
    conn = connections.get("default")
    while not await conn.execute_query_dict(
        "SELECT 1 FROM pg_stat_activity WHERE datname = current_database()"
        " AND cardinality(pg_blocking_pids(pid)) > 0"
    ):
        await asyncio.sleep(0)  # yield to the refresh task, then look again
