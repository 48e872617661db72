"""The in-process queue: the same job functions and retry semantics as arq,
without Redis."""

from __future__ import annotations

import asyncio
import logging
import pickle
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from tessera.audit import service as audit
from tessera.audit.models import AuditLogEntry
from tessera.jobs import Retry
from tessera.jobs.inline import InlineQueue
from tessera.jobs.outside_transaction import EnqueuedInTransaction
from tessera.jobs.queue import build_queue
from tessera.jobs.registry import UnknownJob
from tessera.scope import BrandScope


async def test_a_job_runs_at_once_with_the_ctx_arq_gives(tessera_db, register_job):
    seen: list[tuple[dict[str, Any], tuple[Any, ...], dict[str, Any]]] = []

    async def record(ctx, *args, **kwargs):
        seen.append((ctx, args, kwargs))

    register_job(record)
    queue = InlineQueue()
    job_id = await queue.enqueue("record", 7, colour="teal")

    [(ctx, args, kwargs)] = seen
    assert (args, kwargs) == ((7,), {"colour": "teal"})
    assert ctx["job_id"] == job_id
    assert ctx["job_try"] == 1
    assert ctx["runtime"] is tessera_db
    assert isinstance(ctx["enqueue_time"], datetime)
    assert (queue.jobs_complete, queue.jobs_failed, queue.jobs_retried) == (1, 0, 0)


async def test_audit_prune_deletes_only_that_brands_old_entries(tessera_db, brand_a, brand_b):
    old_a = await audit.record(BrandScope(brand_a), "setFeature", "ok")
    new_a = await audit.record(BrandScope(brand_a), "setFeature", "ok")
    old_b = await audit.record(BrandScope(brand_b), "setFeature", "ok")
    long_ago = datetime.now(UTC) - timedelta(days=40)
    await AuditLogEntry.filter(id__in=[old_a.id, old_b.id]).update(created_at=long_ago)

    await InlineQueue().enqueue("audit_prune", brand_a.id, older_than_days=30)

    remaining = set(await AuditLogEntry.all().values_list("id", flat=True))
    assert remaining == {new_a.id, old_b.id}


async def test_a_job_raising_retry_runs_again_until_it_succeeds(tessera_db, register_job):
    tries: list[int] = []

    async def flaky(ctx):
        tries.append(ctx["job_try"])
        if ctx["job_try"] < 3:
            raise Retry(defer=60)  # not waited for: the caller is waiting

    register_job(flaky)
    queue = InlineQueue()
    await asyncio.wait_for(queue.enqueue("flaky"), timeout=5)

    assert tries == [1, 2, 3]
    assert (queue.jobs_complete, queue.jobs_failed, queue.jobs_retried) == (1, 0, 2)


async def test_retries_stop_at_max_tries_and_the_job_counts_as_failed(
    tessera_db, register_job, caplog
):
    tries: list[int] = []

    async def hopeless(ctx):
        tries.append(ctx["job_try"])
        raise Retry()

    register_job(hopeless, max_tries=3)
    queue = InlineQueue()
    with caplog.at_level(logging.INFO, logger="tessera.jobs"):
        job_id = await queue.enqueue("hopeless")

    assert tries == [1, 2, 3]
    assert (queue.jobs_complete, queue.jobs_failed, queue.jobs_retried) == (0, 1, 3)
    [final] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "hopeless" in final.getMessage() and job_id in final.getMessage()
    assert "max 3 tries exceeded" in final.getMessage()


async def test_a_failing_job_is_logged_with_its_name_and_id_not_raised(
    tessera_db, register_job, caplog
):
    runs: list[int] = []

    async def broken(ctx):
        runs.append(ctx["job_try"])
        raise ValueError("the gateway said no")

    register_job(broken)
    queue = InlineQueue()
    with caplog.at_level(logging.ERROR, logger="tessera.jobs"):
        job_id = await queue.enqueue("broken")

    assert job_id is not None
    assert runs == [1], "only Retry re-runs a job"
    assert (queue.jobs_complete, queue.jobs_failed) == (0, 1)
    [record] = caplog.records
    assert "broken" in record.getMessage() and job_id in record.getMessage()
    assert (record.job, record.job_id) == ("broken", job_id)
    assert isinstance(record.exc_info[1], ValueError)


async def test_a_job_over_its_timeout_fails(tessera_db, register_job):
    async def slow(ctx):
        await asyncio.sleep(5)

    register_job(slow, timeout_s=0.05)
    queue = InlineQueue()
    await asyncio.wait_for(queue.enqueue("slow"), timeout=2)
    assert (queue.jobs_complete, queue.jobs_failed) == (0, 1)


async def test_a_job_id_runs_once_per_queue(tessera_db, register_job):
    runs: list[str] = []

    async def once(ctx):
        runs.append(ctx["job_id"])
        raise ValueError("failed jobs are not re-run under their id either")

    register_job(once)
    queue = InlineQueue()
    assert await queue.enqueue("once", job_id="order-42") == "order-42"
    assert await queue.enqueue("once", job_id="order-42") is None
    assert await queue.enqueue("once", job_id="order-43") == "order-43"
    first, second = await queue.enqueue("once"), await queue.enqueue("once")
    assert first != second
    assert runs == ["order-42", "order-43", first, second]


async def test_arguments_are_pickled_as_on_their_way_through_redis(tessera_db, register_job):
    received: list[dict[str, Any]] = []

    async def keep(ctx, payload):
        payload["touched"] = True
        received.append(payload)

    register_job(keep)
    queue = InlineQueue()
    payload = {"points": 10}
    await queue.enqueue("keep", payload)
    assert received == [{"points": 10, "touched": True}]
    assert payload == {"points": 10}, "the job got a copy, as it would from Redis"

    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        await queue.enqueue("keep", lambda: None)
    assert len(received) == 1


async def test_an_unknown_job_name_is_refused(tessera_db):
    with pytest.raises(UnknownJob, match="no job is registered as 'nope'"):
        await InlineQueue().enqueue("nope")


async def test_enqueueing_inside_a_transaction_is_refused(tessera_db, register_job):
    runs: list[int] = []

    async def tally(ctx):
        runs.append(1)

    register_job(tally)
    queue = InlineQueue()
    async with in_transaction():
        with pytest.raises(EnqueuedInTransaction, match="'tally' enqueued inside"):
            await queue.enqueue("tally")
    assert runs == []
    await queue.enqueue("tally")
    assert runs == [1]


async def test_without_a_redis_url_the_queue_is_inline():
    queue = await build_queue(None)
    assert isinstance(queue, InlineQueue)
    assert await queue.ping() is True
    await queue.close()
