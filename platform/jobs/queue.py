"""One enqueue API: arq on Redis when configured, in-process otherwise."""

from __future__ import annotations

from typing import Any, Protocol


class JobQueue(Protocol):
    async def enqueue(self, job: str, *args: Any, job_id: str | None = None, **kwargs: Any) -> str | None:
        """Schedule ``job`` (a name from :mod:`tessera.jobs.registry`)."""

    async def close(self) -> None: ...

    async def ping(self) -> bool:
        """Whether the queue's backend answers (always true in-process)."""


class InlineQueue:
    """Runs the job now, in this process (embedded default: no Redis needed)."""

    async def enqueue(self, job: str, *args: Any, job_id: str | None = None, **kwargs: Any) -> str | None:
        raise NotImplementedError("jobs helper fills this in")

    async def close(self) -> None:
        return None

    async def ping(self) -> bool:
        return True


async def build_queue(redis_url: str | None) -> JobQueue:
    return InlineQueue()
