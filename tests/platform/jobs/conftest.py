"""Fixtures for the job tests: jobs a test registers, and an arq queue and worker
of this test run's own on the shared Redis."""

from __future__ import annotations

import secrets
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
import pytest_asyncio
from arq.worker import Worker

from tessera.config import Settings
from tessera.jobs import registry
from tessera.jobs.arq_queue import ArqQueue
from tessera.jobs.registry import JobFunction
from tessera.jobs.worker import create_worker
from tessera.runtime import Runtime


@pytest.fixture
def register_job() -> Iterator[Callable[..., registry.JobDefinition]]:
    """``register_job(fn, max_tries=2)`` for the duration of a test."""
    names: list[str] = []

    def register(function: JobFunction, **options: Any) -> registry.JobDefinition:
        definition = registry.register(function, **options)
        names.append(definition.name)
        return definition

    yield register
    for name in names:
        registry.unregister(name)


@pytest.fixture
def queue_name() -> str:
    """A queue of this test's own, so runs sharing one Redis never see each other's jobs."""
    return f"tessera-test:{secrets.token_hex(6)}"


@pytest_asyncio.fixture
async def arq_queue(tessera_redis_url: str, queue_name: str) -> AsyncIterator[ArqQueue]:
    queue = await ArqQueue.connect(tessera_redis_url, queue_name=queue_name)
    yield queue
    await queue.pool.delete(queue_name)
    await queue.close()


@pytest.fixture
def worker_settings(tessera_settings: Settings, tessera_redis_url: str) -> Settings:
    return tessera_settings.model_copy(update={"redis_url": tessera_redis_url})


@pytest.fixture
def run_burst_worker(
    worker_settings: Settings, tessera_db: Runtime, queue_name: str
) -> Callable[..., Awaitable[Worker]]:
    """``worker = await run_burst_worker()``: a real arq worker, built by
    ``tessera.jobs.worker`` on this test's queue and the test's runtime, run in
    this event loop until the queue is empty."""

    async def run(**overrides: Any) -> Worker:
        # No schedule unless a test gives one: a cron falling due during the
        # burst (holds every minute, clock segments at :15) would add its jobs
        # to the counts a test asserts.
        overrides.setdefault("cron_jobs", [])
        worker = create_worker(
            worker_settings,
            runtime=tessera_db,
            queue_name=queue_name,
            burst=True,
            poll_delay=0.02,
            handle_signals=False,
            keep_result=60,
            **overrides,
        )
        try:
            await worker.async_run()
        finally:
            with warnings.catch_warnings():
                # arq 0.28 closes its pool with redis' deprecated close().
                warnings.filterwarnings("ignore", "Call to deprecated close", DeprecationWarning)
                await worker.close()
        return worker

    return run
