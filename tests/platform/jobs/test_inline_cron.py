"""Cron without Redis: the API process runs the worker's schedule itself."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from arq import cron

from tessera.jobs.inline import InlineQueue
from tessera.jobs.inline_cron import InlineCron

T0 = datetime(2026, 3, 1, 10, 0, 0, tzinfo=UTC)


def recorder(calls: list[dict]):
    async def tick(ctx):
        calls.append(ctx)

    return tick


async def test_a_job_runs_when_its_time_comes_and_only_then(tessera_runtime):
    calls: list[dict] = []
    schedule = InlineCron(InlineQueue(), [cron(recorder(calls), name="tick", minute=30, second=0)])
    assert await schedule.run_due(T0) == []  # first look only plans
    assert await schedule.run_due(T0 + timedelta(minutes=29)) == []
    assert await schedule.run_due(T0 + timedelta(minutes=30, seconds=1)) == ["tick"]
    assert await schedule.run_due(T0 + timedelta(minutes=31)) == []  # once per slot
    assert await schedule.run_due(T0 + timedelta(hours=1, minutes=30, seconds=1)) == ["tick"]
    assert len(calls) == 2
    assert calls[0]["runtime"] is tessera_runtime and calls[0]["job_try"] == 1


async def test_a_failing_cron_job_does_not_stop_the_schedule(tessera_runtime):
    calls: list[dict] = []

    async def broken(ctx):
        raise RuntimeError("boom")

    queue = InlineQueue()
    schedule = InlineCron(
        queue,
        [cron(broken, name="broken", second=0), cron(recorder(calls), name="fine", second=0)],
    )
    await schedule.run_due(T0)
    assert await schedule.run_due(T0 + timedelta(minutes=1, seconds=1)) == ["broken", "fine"]
    assert queue.jobs_failed == 1 and len(calls) == 1


async def test_the_loop_runs_jobs_on_the_real_clock(tessera_runtime):
    ran = asyncio.Event()

    async def tick(ctx):
        ran.set()

    every_second = set(range(60))
    schedule = InlineCron(
        InlineQueue(), [cron(tick, name="tick", second=every_second, microsecond=0)]
    )
    schedule.start()
    try:
        await asyncio.wait_for(ran.wait(), timeout=10)
    finally:
        await schedule.stop()
    assert ran.is_set()


def test_the_schedule_keeps_its_own_copy_of_the_jobs():
    job = cron(recorder([]), name="tick", minute=0)
    InlineCron(InlineQueue(), [job]).jobs[0].calculate_next(T0)
    assert job.next_run is None
