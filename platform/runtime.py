"""The pieces a running process shares: settings, the plugin host, the job
queue. Composition roots (app factory, worker, CLI, test fixtures) install one;
services read it. Nothing is built at import time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tessera.config import Settings

if TYPE_CHECKING:
    from tessera.jobs.queue import JobQueue
    from tessera.outbox.relay import OutboxRelay
    from tessera.plugin_host.manager import PluginHost


@dataclass
class Runtime:
    settings: Settings
    host: PluginHost
    queue: JobQueue
    outbox: OutboxRelay


_current: Runtime | None = None


def install(runtime: Runtime) -> Runtime:
    global _current
    _current = runtime
    return runtime


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("no Tessera runtime installed; build one with tessera.bootstrap")
    return _current
