"""A bulk load holds back the segment and reward planners for its own task
only: the rest of the process keeps planning its follow-ups."""

from __future__ import annotations

import asyncio

from tessera.bulk_load import bulk_load
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
