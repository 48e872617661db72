"""Starting and stopping the shared pieces of a process (API, worker, CLI)."""

from __future__ import annotations

from tessera import db, runtime
from tessera.config import Settings
from tessera.jobs.arq_queue import ArqQueue
from tessera.jobs.queue import build_queue
from tessera.outbox.relay import OutboxRelay
from tessera.plugin_host.manager import PluginHost


def build_host(settings: Settings) -> PluginHost:
    only = None
    if settings.load_plugins is not None:
        only = [name.strip() for name in settings.load_plugins.split(",") if name.strip()]
    return PluginHost.from_entry_points(only=only, trace=settings.trace_plugins)


def build_outbox(settings: Settings, queue: object) -> OutboxRelay:
    """The process's outbox relay: onto arq with Redis, else in-process.
    Built idle; the API (no Redis) and the worker start its loop."""
    return OutboxRelay(
        arq=queue if isinstance(queue, ArqQueue) else None,
        concurrency=settings.outbox_concurrency,
        poll_s=settings.outbox_poll_s,
        lease_s=settings.outbox_lease_s,
    )


def job_server_settings(settings: Settings) -> dict[str, str]:
    """PostgreSQL settings of a worker's connections: a statement or a lock
    wait that outlives its job (a killed worker's session, a deadlock chain)
    is cut off by the server instead of blocking the next worker."""
    values = {
        "statement_timeout": settings.job_statement_timeout_s,
        "lock_timeout": settings.job_lock_timeout_s,
        "idle_in_transaction_session_timeout": settings.job_statement_timeout_s,
    }
    return {name: f"{round(seconds * 1000)}ms" for name, seconds in values.items() if seconds}


async def start(
    settings: Settings, *, connect_db: bool = True, jobs: bool = False
) -> runtime.Runtime:
    """Connect and install the runtime; ``jobs`` marks a worker process, whose
    database connections get :func:`job_server_settings`."""
    if connect_db:
        server_settings = job_server_settings(settings) if jobs else None
        await db.connect(settings.database_url, server_settings=server_settings)
    queue = await build_queue(settings.redis_url, queue_name=settings.queue_name)
    outbox = build_outbox(settings, queue)
    return runtime.install(runtime.Runtime(settings, build_host(settings), queue, outbox))


async def stop(
    rt: runtime.Runtime, *, disconnect_db: bool = True, drain_outbox: bool = True
) -> None:
    """Stop the relay; without Redis (and unless told not to), first run the
    follow-up work that is due: an API process or a CLI command leaves none
    of its own behind."""
    await rt.outbox.stop(drain=drain_outbox and rt.outbox.arq is None)
    await rt.queue.close()
    await rt.close()
    if disconnect_db:
        await db.disconnect()
