"""The Redis queue: jobs go to arq, and a worker (``tessera worker``) runs them."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import uuid4

from arq.connections import ArqRedis, RedisSettings, create_pool
from redis.exceptions import RedisError

from tessera.after_commit import defer
from tessera.jobs import registry
from tessera.jobs.outside_transaction import refuse_inside_transaction

# /readyz must answer quickly even when Redis hangs.
PING_TIMEOUT_S = 2.0


def redis_settings(redis_url: str) -> RedisSettings:
    """arq's connection settings from a ``redis://``, ``rediss://`` or ``unix://`` URL."""
    try:
        return RedisSettings.from_dsn(redis_url)
    except (RuntimeError, ValueError):
        # The URL may carry a password: name only its scheme.
        scheme = redis_url.partition(":")[0]
        raise ValueError(
            "TESSERA_REDIS_URL must be a redis://, rediss:// or unix:// URL "
            f"(with an integer database number, if any); got a {scheme!r} URL"
        ) from None


class ArqQueue:
    """Enqueues onto arq; ``job_id`` dedupes while the job is queued, running, or
    its result is kept (``keep_result``, an hour by default)."""

    def __init__(self, pool: ArqRedis) -> None:
        self.pool = pool

    @classmethod
    async def connect(cls, redis_url: str, *, queue_name: str | None = None) -> ArqQueue:
        """Connect (arq retries a few times, then raises) to the queue ``queue_name``
        (default: arq's, which the worker reads unless told otherwise)."""
        options: dict[str, Any] = {} if queue_name is None else {"default_queue_name": queue_name}
        return cls(await create_pool(redis_settings(redis_url), **options))

    @property
    def queue_name(self) -> str:
        return self.pool.default_queue_name

    async def enqueue(
        self,
        job: str,
        *args: Any,
        job_id: str | None = None,
        queue_name: str | None = None,
        **kwargs: Any,
    ) -> str | None:
        """``queue_name``: another queue than this one's (a lane)."""
        registry.get(job)  # an unknown name fails here, not later in the worker
        if job_id is None:
            job_id = uuid4().hex
        if defer(lambda: self.enqueue(job, *args, job_id=job_id, queue_name=queue_name, **kwargs)):
            return job_id  # enqueued once the enclosing transaction has committed
        refuse_inside_transaction(job)
        queued = await self.pool.enqueue_job(
            job, *args, _job_id=job_id, _queue_name=queue_name, **kwargs
        )
        return None if queued is None else queued.job_id

    async def close(self) -> None:
        await self.pool.aclose(close_connection_pool=True)

    async def ping(self) -> bool:
        try:
            async with asyncio.timeout(PING_TIMEOUT_S):
                return bool(await self.pool.ping())
        except (RedisError, OSError, TimeoutError):
            return False
