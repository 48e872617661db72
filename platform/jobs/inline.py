"""The in-process queue: the embedded default, so nothing needs Redis to try Tessera."""

from __future__ import annotations

import asyncio
import logging
import pickle
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from arq.worker import Retry

from tessera import runtime
from tessera.after_commit import in_enclosing_transaction
from tessera.jobs import registry
from tessera.jobs.outside_transaction import refuse_inside_transaction
from tessera.jobs.registry import JobDefinition
from tessera.jobs.transient import is_transient

log = logging.getLogger("tessera.jobs")


class InlineQueue:
    """Runs each job now, in the caller's task, with arq's semantics where they apply.

    - ``Retry`` re-runs the job at once, up to its ``max_tries`` (default 5);
      ``Retry(defer=...)`` is not waited for, since the caller is waiting.
      So does a deadlock, serialization failure or lock timeout.
    - Any other exception, a timeout, or running out of tries is logged with the
      job's name and id and counted in :attr:`jobs_failed`; the caller never sees it.
    - A ``job_id`` already enqueued is not run again for the life of this queue
      (arq forgets an id once the job's result expires, an hour by default).
    - Arguments are pickled and unpickled, as they are on their way through Redis.
    """

    def __init__(
        self,
        *,
        max_tries: int = registry.DEFAULT_MAX_TRIES,
        timeout_s: float = registry.DEFAULT_TIMEOUT_S,
    ) -> None:
        self.max_tries = max_tries
        self.timeout_s = timeout_s
        self.jobs_complete = 0
        self.jobs_failed = 0
        self.jobs_retried = 0
        self._seen_ids: set[str] = set()

    async def enqueue(
        self, job: str, *args: Any, job_id: str | None = None, **kwargs: Any
    ) -> str | None:
        definition = registry.get(job)
        if job_id is None:
            job_id = uuid4().hex
        # Inside a mutation's enclosing transaction (tessera.after_commit) the job
        # runs now, in that transaction, as it did before the mutation had one:
        # it commits or rolls back with the mutation.
        if not in_enclosing_transaction():
            refuse_inside_transaction(job)
        args, kwargs = pickle.loads(pickle.dumps((args, kwargs)))
        if job_id in self._seen_ids:
            return None
        self._seen_ids.add(job_id)
        await self._run(definition, job_id, args, kwargs)
        return job_id

    async def run_now(self, definition: JobDefinition, job_id: str) -> None:
        """Run a job that is not in the registry (a cron job), with the same rules."""
        await self._run(definition, job_id, (), {})

    async def _run(
        self, definition: JobDefinition, job_id: str, args: Any, kwargs: dict[str, Any]
    ) -> None:
        max_tries = definition.max_tries or self.max_tries
        timeout_s = definition.timeout_s or self.timeout_s
        base_ctx = {
            "job_id": job_id,
            "enqueue_time": datetime.now(UTC),
            "runtime": runtime.current(),
        }
        labels = {"job": definition.name, "job_id": job_id}
        for job_try in range(1, max_tries + 1):
            try:
                async with asyncio.timeout(timeout_s):
                    await definition.function({**base_ctx, "job_try": job_try}, *args, **kwargs)
            except Retry:
                self.jobs_retried += 1
                log.info(
                    "job %s (%s) asked to retry after try %d",
                    definition.name,
                    job_id,
                    job_try,
                    extra={**labels, "job_try": job_try},
                )
                continue
            except Exception as exc:
                if is_transient(exc) and job_try < max_tries:
                    # A deadlock or lock timeout: the next try may pass (as under arq).
                    self.jobs_retried += 1
                    log.warning(
                        "job %s (%s) hit a transient database error on try %d: %s",
                        definition.name,
                        job_id,
                        job_try,
                        exc,
                        extra={**labels, "job_try": job_try},
                    )
                    continue
                self.jobs_failed += 1
                log.exception(
                    "job %s (%s) failed on try %d",
                    definition.name,
                    job_id,
                    job_try,
                    extra={**labels, "job_try": job_try},
                )
                return
            self.jobs_complete += 1
            return
        self.jobs_failed += 1
        log.error(
            "job %s (%s) failed: max %d tries exceeded",
            definition.name,
            job_id,
            max_tries,
            extra={**labels, "job_try": max_tries},
        )

    async def close(self) -> None:
        return None

    async def ping(self) -> bool:
        return True
