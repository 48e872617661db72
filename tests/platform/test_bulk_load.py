"""A bulk load holds back the segment and reward planners for its own task
only: the rest of the process keeps planning its follow-ups. The tables it
fills are analysed beside it."""

from __future__ import annotations

import asyncio

import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from tessera.bulk_load import bulk_load
from tessera.members.models import Member
from tessera.outbox.models import OutboxEntry
from tessera.scope import BrandScope

SEGMENTS = "segments_member_facts"


async def planned(brand) -> int:
    return await BrandScope(brand).query(OutboxEntry).filter(kind=SEGMENTS).count()


async def test_a_bulk_load_holds_back_planners_for_its_own_task_only(brand_a, new_member):
    entered, finish = asyncio.Event(), asyncio.Event()

    async def load() -> None:
        async with bulk_load(BrandScope(brand_a)):
            await new_member(brand_a, name="Loaded", phone="13800138001")
            entered.set()
            await finish.wait()

    loader = asyncio.create_task(load())
    await entered.wait()
    assert await planned(brand_a) == 0  # the load's own member: held back
    await new_member(brand_a, name="Elsewhere", phone="13800138002")
    assert await planned(brand_a) == 1  # another task, during the load
    finish.set()
    await loader
    await new_member(brand_a, name="After", phone="13800138003")
    assert await planned(brand_a) == 2


async def analysed_times(table: str) -> int:
    rows = await connections.get("default").execute_query_dict(
        "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = $1", [table]
    )
    return int(rows[0]["analyze_count"])


@pytest.mark.postgres_only
async def test_a_load_writes_on_while_its_tables_are_analysed_and_ends_when_they_are(
    brand_a, new_member
):
    """The analysis after a batch goes on beside the load: held up here by a
    lock another transaction holds (ANALYZE waits for it, inserts do not),
    it keeps neither the load's next writes nor ``wrote_batch`` waiting; the
    load ends once it is done."""
    locked, release = asyncio.Event(), asyncio.Event()

    async def hold_analysis_up() -> None:
        async with in_transaction() as connection:
            await connection.execute_script('LOCK TABLE "member" IN SHARE UPDATE EXCLUSIVE MODE')
            locked.set()
            await release.wait()

    holder = asyncio.create_task(hold_analysis_up())
    await locked.wait()
    before = await analysed_times("member")
    async with bulk_load(BrandScope(brand_a), [Member]) as load:
        # The first batch: its tables are analysed. (A load that waited for
        # the analysis would wait for ever: the bound turns that into a failure.)
        await asyncio.wait_for(load.wrote_batch(), timeout=30)
        await new_member(brand_a, name="Written on", phone="13800138004")
        assert await analysed_times("member") == before  # still waiting for the lock
        release.set()
        await holder
    # Autovacuum, held up by the same lock, may analyse the table too.
    assert await analysed_times("member") >= before + 1
    assert await BrandScope(brand_a).query(Member).filter(name="Written on").exists()
