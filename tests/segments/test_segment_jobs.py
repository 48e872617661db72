"""Segment jobs on Redis: a real arq worker applies what an order wrote to the outbox,
and the nightly job recomputes lifecycle, rule tags and segments."""

from __future__ import annotations

import secrets
import warnings
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio

from tessera.jobs.arq_queue import ArqQueue
from tessera.jobs.worker import CRON_JOBS, create_worker
from tessera.outbox.relay import OutboxRelay
from tessera.runtime import Runtime
from tessera.scope import BrandScope
from tessera.segments import service
from tessera.segments.jobs import schedule_clock_segments, schedule_nightly
from tessera.segments.models import MemberLifecycle, SegmentMembership, SegmentRefresh
from tessera.segments.service import SegmentKind

pytestmark = pytest.mark.redis
BOUGHT = {"type": "stats", "metric": "ordersCount", "min": 1}


@pytest_asyncio.fixture
async def on_redis(tessera_db: Runtime, tessera_redis_url: str) -> AsyncIterator[ArqQueue]:
    """The runtime's queue swapped for arq on a queue of this test's own."""
    queue = await ArqQueue.connect(
        tessera_redis_url, queue_name=f"tessera-test:{secrets.token_hex(6)}"
    )
    inline, tessera_db.queue = tessera_db.queue, queue
    yield queue
    tessera_db.queue = inline
    await queue.pool.delete(queue.queue_name)
    await queue.close()


async def drain(runtime: Runtime, queue: ArqQueue, settings) -> None:
    """As a worker does: relay the outbox onto arq and run the jobs, until the
    jobs leave no more follow-up work."""
    relay = OutboxRelay(arq=queue)
    await run_worker(runtime, queue, settings)
    while await relay.drain():
        await run_worker(runtime, queue, settings)


async def run_worker(runtime: Runtime, queue: ArqQueue, settings) -> None:
    worker = create_worker(
        settings.model_copy(update={"redis_url": "redis://unused"}),
        runtime=runtime,
        queue_name=queue.queue_name,
        burst=True,
        poll_delay=0.02,
        handle_signals=False,
        redis_pool=queue.pool,
    )
    try:
        await worker.async_run()
    finally:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Call to deprecated close", DeprecationWarning)
            await worker.close()
    assert worker.jobs_failed == 0


async def members_of(segment_id: int) -> set[int]:
    return set(
        await SegmentMembership.filter(segment_id=segment_id).values_list("member_id", flat=True)
    )


async def test_an_order_enters_its_member_when_the_worker_runs_the_job(
    brand_a, make_member, buy, on_redis, tessera_db, tessera_settings
):
    scope = BrandScope(brand_a)
    segment = await service.create_segment(scope, "Buyers", SegmentKind.DYNAMIC, rule=BOUGHT)
    member = await make_member(brand_a)
    await drain(tessera_db, on_redis, tessera_settings)

    await buy(brand_a, member, at=datetime.now(UTC))
    assert await members_of(segment.id) == set(), "queued, not yet run"

    await drain(tessera_db, on_redis, tessera_settings)
    assert await members_of(segment.id) == {member.id}


async def test_the_nightly_cron_runs_each_brand_on_its_own(
    brand_a, brand_b, make_member, on_redis, tessera_db, tessera_settings
):
    recent = {"type": "lastOrder", "within": {"lastDays": 30}}  # reads the clock
    for brand in (brand_a, brand_b):
        await service.create_segment(BrandScope(brand), "Buyers", SegmentKind.DYNAMIC, rule=BOUGHT)
        await service.create_segment(BrandScope(brand), "Recent", SegmentKind.DYNAMIC, rule=recent)
    member = await make_member(brand_a)
    await drain(tessera_db, on_redis, tessera_settings)
    await MemberLifecycle.filter(member_id=member.id).delete()

    # Their job ids name the brand and the day (one run each); forget the runs
    # of earlier test sessions on this Redis, whose brands had the same ids.
    for pattern in ("arq:*:segments_nightly:*", "arq:*:segments_refresh_brand:*"):
        async for key in on_redis.pool.scan_iter(match=pattern):
            await on_redis.pool.delete(key)
    await schedule_nightly({})
    await schedule_clock_segments({})
    await drain(tessera_db, on_redis, tessera_settings)

    row = await MemberLifecycle.get(member_id=member.id)
    assert row.stage == "new" and row.computed_at > datetime.now(UTC) - timedelta(minutes=1)
    for brand in (brand_a, brand_b):
        triggers = await SegmentRefresh.filter(brand_id=brand.id).values_list(
            "segment__name", "trigger"
        )
        # Nightly: both segments; on the clock's schedule: only the one reading it.
        assert sorted(triggers) == [
            ("Buyers", "job"),
            ("Recent", "job"),
            ("Recent", "schedule"),
        ], brand.code
    names = {c.name for c in CRON_JOBS}
    assert any("schedule_nightly" in n for n in names)
    assert any("schedule_clock_segments" in n for n in names)
