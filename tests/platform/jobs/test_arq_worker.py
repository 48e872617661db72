"""Jobs on Redis: a real arq worker, built by ``tessera.jobs.worker``, runs what
``ArqQueue`` enqueued, retries a job that raises ``Retry`` and contains one
that fails."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta

import pytest
from arq import cron
from arq.connections import ArqRedis
from arq.jobs import Job, JobStatus
from arq.worker import JobExecutionFailed

from tessera.audit import service as audit
from tessera.audit.models import AuditLogEntry
from tessera.jobs import Retry
from tessera.jobs.arq_queue import ArqQueue, redis_settings
from tessera.jobs.queue import build_queue
from tessera.jobs.registry import UnknownJob
from tessera.jobs.worker import CRON_JOBS, worker_options
from tessera.scope import BrandScope

pytestmark = pytest.mark.redis


def job(queue: ArqQueue, job_id: str) -> Job:
    return Job(job_id, redis=queue.pool, _queue_name=queue.queue_name)


async def backdated_entries(brand_a, brand_b) -> tuple[int, int, int]:
    old_a = await audit.record(BrandScope(brand_a), "setFeature", "ok")
    new_a = await audit.record(BrandScope(brand_a), "setFeature", "ok")
    old_b = await audit.record(BrandScope(brand_b), "setFeature", "ok")
    long_ago = datetime.now(UTC) - timedelta(days=40)
    await AuditLogEntry.filter(id__in=[old_a.id, old_b.id]).update(created_at=long_ago)
    return old_a.id, new_a.id, old_b.id


async def test_the_worker_completes_an_enqueued_job(arq_queue, run_burst_worker, brand_a, brand_b):
    old_a, new_a, old_b = await backdated_entries(brand_a, brand_b)
    job_id = await arq_queue.enqueue("audit_prune", brand_a.id, older_than_days=30)
    assert job_id is not None
    assert await job(arq_queue, job_id).status() is JobStatus.queued
    assert await AuditLogEntry.filter(id=old_a).exists(), "nothing runs until a worker does"

    worker = await run_burst_worker()

    assert (worker.jobs_complete, worker.jobs_failed) == (1, 0)
    assert await job(arq_queue, job_id).result(timeout=5) == 1
    remaining = set(await AuditLogEntry.all().values_list("id", flat=True))
    assert remaining == {new_a, old_b}


async def test_a_job_raising_retry_is_retried_until_it_succeeds(
    arq_queue, run_burst_worker, register_job
):
    tries: list[int] = []

    async def flaky(ctx):
        tries.append(ctx["job_try"])
        if ctx["job_try"] < 3:
            raise Retry()
        return f"done on try {ctx['job_try']}"

    register_job(flaky)
    job_id = await arq_queue.enqueue("flaky")

    worker = await run_burst_worker()

    assert tries == [1, 2, 3]
    assert (worker.jobs_complete, worker.jobs_retried, worker.jobs_failed) == (1, 2, 0)
    info = await job(arq_queue, job_id).result_info()
    assert (info.success, info.job_try, info.result) == (True, 3, "done on try 3")


async def test_retries_stop_at_the_jobs_max_tries(arq_queue, run_burst_worker, register_job):
    tries: list[int] = []

    async def hopeless(ctx):
        tries.append(ctx["job_try"])
        raise Retry()

    register_job(hopeless, max_tries=2)
    job_id = await arq_queue.enqueue("hopeless")

    worker = await run_burst_worker()

    assert tries == [1, 2]
    assert (worker.jobs_complete, worker.jobs_retried, worker.jobs_failed) == (0, 2, 1)
    info = await job(arq_queue, job_id).result_info()
    assert info.success is False
    assert info.result == JobExecutionFailed("max 2 retries exceeded")


async def test_a_failing_job_is_contained_and_the_others_still_run(
    arq_queue, run_burst_worker, register_job, tessera_db
):
    seen_ctx: list[dict] = []

    async def broken(ctx):
        seen_ctx.append(ctx)
        raise ValueError("the gateway said no")

    register_job(broken)
    broken_id = await arq_queue.enqueue("broken")
    ping_id = await arq_queue.enqueue("ping")

    worker = await run_burst_worker()

    assert (worker.jobs_complete, worker.jobs_failed, worker.jobs_retried) == (1, 1, 0)
    [ctx] = seen_ctx
    assert (ctx["job_id"], ctx["job_try"], ctx["runtime"]) == (broken_id, 1, tessera_db)
    info = await job(arq_queue, broken_id).result_info()
    assert info.success is False and isinstance(info.result, ValueError)
    assert await job(arq_queue, ping_id).result(timeout=5) == "pong"


async def test_a_job_id_is_enqueued_once(arq_queue, run_burst_worker, queue_name):
    # Job ids are Redis-wide (not per queue): this run's own id.
    job_id = f"nightly-ping:{queue_name}"
    assert await arq_queue.enqueue("ping", job_id=job_id) == job_id
    assert await arq_queue.enqueue("ping", job_id=job_id) is None
    worker = await run_burst_worker()
    assert worker.jobs_complete == 1
    # The kept result still holds the id.
    assert await arq_queue.enqueue("ping", job_id=job_id) is None
    await arq_queue.pool.delete(f"arq:result:{job_id}")


async def test_arq_queue_refuses_unknown_jobs_and_answers_ping(arq_queue):
    with pytest.raises(UnknownJob):
        await arq_queue.enqueue("nope")
    assert await arq_queue.pool.zcard(arq_queue.queue_name) == 0
    assert await arq_queue.ping() is True


async def test_with_a_redis_url_the_queue_is_arq(tessera_redis_url):
    queue = await build_queue(tessera_redis_url)
    try:
        assert isinstance(queue, ArqQueue)
        assert await queue.ping() is True
    finally:
        await queue.close()


async def test_ping_is_false_when_redis_does_not_answer():
    queue = ArqQueue(ArqRedis(host="127.0.0.1", port=1))  # nothing listens on port 1
    try:
        assert await queue.ping() is False
    finally:
        await queue.close()


async def test_run_worker_starts_its_own_runtime_and_runs_jobs(
    arq_queue, worker_settings, brand_a, brand_b
):
    """``run_worker`` as ``tessera worker --burst`` calls it, in its own process:
    it connects the database and installs the runtime itself."""
    old_a, new_a, old_b = await backdated_entries(brand_a, brand_b)
    job_id = await arq_queue.enqueue("audit_prune", brand_a.id, older_than_days=30)
    env = {
        **os.environ,
        "TESSERA_ENVIRONMENT": "test",
        "TESSERA_DATABASE_URL": worker_settings.database_url,
        "TESSERA_REDIS_URL": worker_settings.redis_url,
        "TESSERA_SECRET_KEY": worker_settings.secret(),
        "TESSERA_VAR_DIR": str(worker_settings.var_dir),
        "TESSERA_LOG_JSON": "false",
    }
    script = (
        "import sys\n"
        "from tessera.config import Settings\n"
        "from tessera.jobs.worker import run_worker\n"
        "run_worker(Settings(), burst=True, queue_name=sys.argv[1])\n"
        "import gc\n"
        "print('frozen', gc.get_freeze_count())\n"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-P",
        "-c",
        script,
        arq_queue.queue_name,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, output.decode()
    # What its start-up built is left out of the collector's walks
    # (collector.freeze_start_up says why).
    [frozen] = [line for line in output.decode().splitlines() if line.startswith("frozen ")]
    assert int(frozen.split()[1]) > 10_000

    assert await job(arq_queue, job_id).result(timeout=5) == 1
    remaining = set(await AuditLogEntry.all().values_list("id", flat=True))
    assert remaining == {new_a, old_b}


def test_worker_options_come_from_worker_settings_and_the_registry(worker_settings, register_job):
    async def late(ctx):
        return None

    register_job(late)
    options = worker_options(worker_settings)
    assert {"ping", "audit_prune", "late"} <= {f.name for f in options["functions"]}
    assert (options["max_tries"], options["job_timeout"]) == (5, 300)
    assert options["cron_jobs"] is CRON_JOBS


async def test_a_cron_job_runs_under_the_worker(run_burst_worker, tessera_db):
    ticks: list[dict] = []

    async def tick(ctx):
        ticks.append(ctx)

    await run_burst_worker(cron_jobs=[cron(tick, run_at_startup=True)])
    [ctx] = ticks
    assert ctx["runtime"] is tessera_db


def test_the_worker_needs_a_redis_url(tessera_settings):
    with pytest.raises(ValueError, match="TESSERA_REDIS_URL"):
        worker_options(tessera_settings)


@pytest.mark.parametrize("url", ["http://cache:6379", "redis://cache:6379/first"])
def test_a_bad_redis_url_names_the_setting_not_the_password(url):
    with pytest.raises(ValueError, match="TESSERA_REDIS_URL") as error:
        redis_settings(url.replace("//", "//user:s3cret@"))
    assert "s3cret" not in str(error.value)
