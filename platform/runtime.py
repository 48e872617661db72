"""The pieces a running process shares: settings, the plugin host, the job
queue. Composition roots (app factory, worker, CLI, test fixtures) install one;
services read it. Nothing is built at import time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

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
    _http: httpx.AsyncClient | None = field(default=None, repr=False)

    def http(self) -> httpx.AsyncClient:
        """The process's client for calls out (webhooks, gateways): one pool,
        so posts to the same receiver reuse their connections instead of a
        TCP and TLS handshake each. Callers give their own timeout per call;
        redirects are never followed (a redirect could lead past the checks
        made on the address)."""
        if self._http is None or self._http.is_closed:
            self._http = httpx.AsyncClient(follow_redirects=False)
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None


_current: Runtime | None = None


def install(runtime: Runtime) -> Runtime:
    global _current
    _current = runtime
    return runtime


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("no Tessera runtime installed; build one with tessera.bootstrap")
    return _current
