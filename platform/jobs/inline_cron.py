"""The worker's cron schedule, run in-process when there is no Redis.

The embedded default has no arq worker, yet points must still lapse, tiers be
reviewed and segments refreshed. The API process runs this loop instead: the
same ``CRON_JOBS`` (arq ``CronJob`` objects), the same job functions, arq's
schedule arithmetic, run through :class:`InlineQueue` with its retry rules.
With a Redis configured the worker owns the schedule and this never starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from arq.cron import CronJob

from tessera.jobs.inline import InlineQueue
from tessera.jobs.registry import JobDefinition

log = logging.getLogger("tessera.jobs")

# Wake at least this often, so a changed clock (suspend, NTP step) is noticed.
_MAX_SLEEP_S = 60.0


class InlineCron:
    def __init__(
        self,
        queue: InlineQueue,
        jobs: Sequence[CronJob],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.queue = queue
        # Own copies: arq keeps each job's next run on the CronJob object.
        self.jobs = [dataclasses.replace(job, next_run=None) for job in jobs]
        self.clock = clock
        self._task: asyncio.Task[None] | None = None

    async def run_due(self, now: datetime) -> list[str]:
        """Run every job whose time has come by ``now``; returns their names."""
        ran = []
        for job in self.jobs:
            if job.next_run is None:
                job.calculate_next(now)
                continue
            if job.next_run > now:
                continue
            definition = JobDefinition(
                name=job.name,
                function=job.coroutine,
                max_tries=job.max_tries,
                timeout_s=job.timeout_s,
            )
            job_id = f"{job.name}:{job.next_run.isoformat()}"
            await self.queue.run_now(definition, job_id)
            ran.append(job.name)
            job.calculate_next(now)
        return ran

    def seconds_to_next(self, now: datetime) -> float:
        upcoming = [(j.next_run - now).total_seconds() for j in self.jobs if j.next_run]
        return max(0.0, min([_MAX_SLEEP_S, *upcoming]))

    async def _loop(self) -> None:
        while True:
            now = self.clock()
            try:
                await self.run_due(now)
            except Exception:  # one bad tick must not end the schedule
                log.exception("in-process cron tick failed")
            await asyncio.sleep(self.seconds_to_next(self.clock()) or 0.05)

    def start(self) -> None:
        if self._task is None and self.jobs:
            self._task = asyncio.create_task(self._loop(), name="tessera-inline-cron")
            log.info("in-process cron started with %d jobs", len(self.jobs))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
