"""Starting and stopping the shared pieces of a process (API, worker, CLI)."""

from __future__ import annotations

from tessera import db, runtime
from tessera.config import Settings
from tessera.jobs.queue import build_queue
from tessera.plugin_host.manager import PluginHost


def build_host(settings: Settings) -> PluginHost:
    only = None
    if settings.load_plugins is not None:
        only = [name.strip() for name in settings.load_plugins.split(",") if name.strip()]
    return PluginHost.from_entry_points(only=only, trace=settings.trace_plugins)


async def start(settings: Settings, *, connect_db: bool = True) -> runtime.Runtime:
    if connect_db:
        await db.connect(settings.database_url)
    queue = await build_queue(settings.redis_url, queue_name=settings.queue_name)
    return runtime.install(runtime.Runtime(settings, build_host(settings), queue))


async def stop(rt: runtime.Runtime, *, disconnect_db: bool = True) -> None:
    await rt.queue.close()
    if disconnect_db:
        await db.disconnect()
