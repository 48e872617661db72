"""The arq worker behind ``tessera worker`` (a composition root: it starts the
whole runtime, so jobs can use every service)."""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections.abc import Awaitable, Callable
from datetime import UTC
from typing import Any

from arq.constants import default_queue_name
from arq.cron import CronJob, cron
from arq.worker import Worker, get_kwargs

from tessera import bootstrap, collector, logging_setup
from tessera.assets.jobs import points_tick
from tessera.campaigns.stored import campaign_results_tick
from tessera.channels.triggers import channels_birthdays
from tessera.checkout.jobs import holds_tick
from tessera.config import Settings
from tessera.jobs import registry
from tessera.jobs.arq_queue import redis_settings
from tessera.outbox.relay import outbox_prune
from tessera.outbox.store import lane_queue
from tessera.privacy.retention import retention_tick
from tessera.reports.flows import stage_flows_tick
from tessera.reports.rollup import rollup_tick
from tessera.rewards.jobs import birthday_bonus, tier_review
from tessera.runtime import Runtime
from tessera.segments.jobs import schedule_clock_segments, schedule_nightly
from tessera.slots.jobs import schedule_slots_build

# Scheduled jobs, one line each, e.g. ``cron(refresh_segments, minute={0, 30})``
# (``from arq import cron``). A cron coroutine takes only ``ctx``.
CRON_JOBS: list[CronJob] = [
    # Every hour: points lots lapse at the end of a day in each brand's own timezone.
    cron(points_tick, minute=5),
    # Segments whose rules read the clock, twice an hour; lifecycle, rule tags
    # and every dynamic segment nightly (UTC).
    cron(schedule_clock_segments, minute={15, 45}),
    cron(schedule_nightly, hour=2, minute=30),
    # Every hour: tiers reach their evaluation point at the end of a brand-local
    # day, and birthdays start at a brand-local midnight (both idempotent).
    cron(tier_review, minute=10),
    cron(birthday_bonus, minute=20),
    # Every hour: birthday messages, from 9:00 brand time (once a year each).
    cron(channels_birthdays, minute=25),
    # Every minute: checkout holds that expired give their points and coupons back.
    cron(holds_tick, second=0),
    # Every hour: done outbox entries older than a week go.
    cron(outbox_prune, minute=40),
    # Every hour: each brand's retention periods (old events and delivery
    # logs, inactive members) and expired export links.
    cron(retention_tick, minute=50),
    # Nightly, after the segments: co-purchase neighbours and popular lists.
    cron(schedule_slots_build, hour=3, minute=30),
    # Every ten minutes: days whose orders changed are summed again into the
    # sales rollup (reports read those days from the orders meanwhile).
    cron(rollup_tick, minute=set(range(2, 60, 10))),
    # Every ten minutes: closed campaigns' attribution is stored (and stored
    # again after a change reached their window); reports read it.
    cron(campaign_results_tick, minute=set(range(7, 60, 10))),
    # Every ten minutes: ended months' and years' lifecycle stage flows are
    # stored (a few per brand, and again after a change reached them).
    cron(stage_flows_tick, minute=set(range(5, 60, 10))),
]


class WorkerSettings:
    """What every Tessera worker shares; :func:`worker_options` adds the parts that
    come from the process's :class:`Settings` and the job registry."""

    max_tries = registry.DEFAULT_MAX_TRIES
    job_timeout = registry.DEFAULT_TIMEOUT_S
    keep_result = 3600
    cron_jobs = CRON_JOBS
    # Cron times mean the same on every host; brand-local times are the jobs' business.
    timezone = UTC
    # The health key lives one interval past the last beat: docker-compose's worker
    # health check (every 30 s) sees a dead worker within seconds, not an hour.
    health_check_interval = 10


def worker_options(
    settings: Settings,
    *,
    runtime: Runtime | None = None,
    lane: bool = True,
    **overrides: Any,
) -> dict[str, Any]:
    """Keyword arguments for :class:`arq.worker.Worker`.

    Without ``runtime`` the worker starts its own on start-up (database
    connected, plugins loaded) and stops it on shut-down; with one (tests,
    embedding) the caller owns it. ``overrides`` go to ``Worker`` as they are
    (``queue_name``, ``burst``, ``poll_delay``, …). With ``lane`` the worker
    also reads the priority lane of its queue
    (:data:`tessera.outbox.store.PRIORITY_KINDS`: transactional messages)
    with a second arq worker in the same process, so no bulk work queued
    before them delays them.
    """
    if not settings.redis_url:
        raise ValueError("the worker needs a Redis: set TESSERA_REDIS_URL")
    startup, shutdown = _lifecycle(settings, runtime, overrides if lane else None)
    return {
        **get_kwargs(dict(vars(WorkerSettings))),
        "functions": registry.arq_functions(),
        "redis_settings": redis_settings(settings.redis_url),
        "on_startup": startup,
        "on_shutdown": shutdown,
        **overrides,
    }


def create_worker(
    settings: Settings, *, runtime: Runtime | None = None, lane: bool = True, **overrides: Any
) -> Worker:
    return Worker(**worker_options(settings, runtime=runtime, lane=lane, **overrides))


def run_worker(settings: Settings, *, burst: bool = False, queue_name: str | None = None) -> None:
    """Run a worker until SIGINT/SIGTERM (or, with ``burst``, until the queue is empty)."""
    logging_setup.configure(settings.log_json)
    overrides: dict[str, Any] = {"burst": burst}
    if queue_name is not None:
        overrides["queue_name"] = queue_name
    create_worker(settings, **overrides).run()


Hook = Callable[[dict[str, Any]], Awaitable[None]]
# What the lane's worker takes over from its main worker's options.
_LANE_OPTIONS = frozenset({"burst", "poll_delay", "max_jobs", "job_timeout", "redis_pool"})


def _lifecycle(
    settings: Settings, runtime: Runtime | None, lane_of: dict[str, Any] | None
) -> tuple[Hook, Hook]:
    owned = runtime is None

    async def startup(ctx: dict[str, Any]) -> None:
        rt = runtime if runtime is not None else await bootstrap.start(settings, jobs=True)
        ctx["runtime"] = rt
        if owned:
            # The worker relays the outbox onto arq (the API does not, with Redis).
            rt.outbox.start()
            # A process of its own (a test's worker is given its runtime).
            collector.freeze_start_up()
        if lane_of is not None:
            queue = lane_of.get("queue_name") or settings.queue_name or default_queue_name
            options = {k: v for k, v in lane_of.items() if k in _LANE_OPTIONS}
            worker = create_worker(
                settings,
                runtime=rt,
                lane=False,
                **options,
                queue_name=lane_queue(queue),
                cron_jobs=[],
                handle_signals=False,
            )
            ctx["lane"] = (worker, asyncio.create_task(worker.async_run()))

    async def shutdown(ctx: dict[str, Any]) -> None:
        if "lane" in ctx:
            worker, task = ctx.pop("lane")
            if not worker.burst:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task  # a burst lane ends once its queue is empty
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Call to deprecated close", DeprecationWarning)
                await worker.close()
        if owned and "runtime" in ctx:
            await bootstrap.stop(ctx.pop("runtime"))

    return startup, shutdown
