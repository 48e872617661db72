"""One enqueue API: arq on Redis when configured, in-process otherwise."""

from __future__ import annotations

from typing import Any, Protocol

from tessera.jobs.arq_queue import ArqQueue
from tessera.jobs.inline import InlineQueue


class JobQueue(Protocol):
    async def enqueue(
        self, job: str, *args: Any, job_id: str | None = None, **kwargs: Any
    ) -> str | None:
        """Schedule ``job`` (a name from :mod:`tessera.jobs.registry`) and return its
        id, or ``None`` when a job with ``job_id`` was already enqueued.

        Raises :class:`~tessera.jobs.registry.UnknownJob` for an unregistered name and
        :class:`~tessera.jobs.outside_transaction.EnqueuedInTransaction` inside a
        database transaction. Failures of the job itself never reach the caller.
        """
        ...

    async def close(self) -> None: ...

    async def ping(self) -> bool:
        """Whether the queue's backend answers (always true in-process)."""
        ...


async def build_queue(redis_url: str | None, *, queue_name: str | None = None) -> JobQueue:
    """An :class:`ArqQueue` when ``redis_url`` is set, else an :class:`InlineQueue`."""
    if redis_url:
        return await ArqQueue.connect(redis_url, queue_name=queue_name)
    return InlineQueue()
