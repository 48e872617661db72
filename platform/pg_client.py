"""Tortoise's PostgreSQL engine as Tessera connects it: tortoise's asyncpg
client whose pool hands a connection back without work Tessera never needs.

Named as the engine of the ``default`` connection (``tessera.db``), so every
process (server, worker, CLI) pools its connections this way."""

from __future__ import annotations

import inspect
from typing import Any

import asyncpg
from asyncpg.pool import Pool, PoolConnectionProxy
from tortoise.backends.asyncpg import AsyncpgDBClient


class PooledConnection(asyncpg.Connection):  # type: ignore[misc]
    """A pooled PostgreSQL connection released without asyncpg's reset.

    asyncpg resets every connection it takes back into the pool (``SELECT
    pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``): one more
    round trip per query outside a transaction and per transaction, which a
    small request pays several times. Tessera leaves nothing for it to undo:
    its advisory locks are transaction-scoped (``pg_advisory_xact_lock``), it
    never LISTENs or keeps a cursor past its transaction, and session settings
    (a worker's timeouts) are start-up parameters, not ``SET``. A connection
    released inside a transaction is still rolled back: asyncpg adds the
    ROLLBACK itself whatever this query is."""

    def get_reset_query(self) -> str:
        return ""


class ReleasingPool(Pool):  # type: ignore[misc]
    """asyncpg's pool, handing an idle connection back in place.

    asyncpg releases every connection through a task of its own
    (``asyncio.shield``, so that a cancelled caller cannot leave it half
    released) that resets it: a task and two turns of the event loop for
    each query outside a transaction, about 45 µs of CPU (a lookup over HTTP
    makes three). A :class:`PooledConnection` that is idle (no transaction,
    no cancellation under way, open, of the pool's generation, under its
    query limit) has nothing to reset, so it goes back to the pool at once,
    with no await for a cancellation to interrupt; any other connection is
    released by asyncpg's own way. Relies on asyncpg's pool internals, so
    asyncpg is pinned (pyproject.toml) and ``tests/platform/test_pg_client.py``
    holds both ways to asyncpg's behaviour."""

    __slots__ = ()

    async def release(self, connection: Any, *, timeout: float | None = None) -> None:
        if type(connection) is PoolConnectionProxy:
            holder = connection._holder
            con = connection._con
            if (
                con is not None
                and holder._pool is self
                and self._initialized
                and not self._closing
                and not self._closed
                and self._reset is None
                and isinstance(con, PooledConnection)
                and not con.is_closed()
                and con._top_xact is None
                and not con._protocol.is_in_transaction()
                and not con._protocol._is_cancelling()
                and con._protocol.queries_count < holder._max_queries
                and holder._generation == self._generation
            ):
                # What asyncpg's release does for such a connection, in order.
                con._on_release()
                con._listeners.clear()
                con._log_listeners.clear()
                holder._timeout = None
                holder._release()
                holder._setup_inactive_callback()
                return
        await super().release(connection, timeout=timeout)


# asyncpg.create_pool's own defaults, which a Pool built directly must be given.
_POOL_DEFAULTS = {
    name: parameter.default
    for name, parameter in inspect.signature(asyncpg.create_pool).parameters.items()
    if parameter.kind is inspect.Parameter.KEYWORD_ONLY
}


def create_pool(dsn: str | None = None, **kwargs: Any) -> ReleasingPool:
    """``asyncpg.create_pool`` (the same arguments; await it or use it with
    ``async with``) making a :class:`ReleasingPool` of
    :class:`PooledConnection` unless told another connection class: the
    pool Tessera's own connections use, for the benches' baselines too."""
    return ReleasingPool(dsn, **(_POOL_DEFAULTS | {"connection_class": PooledConnection} | kwargs))


class TesseraAsyncpgClient(AsyncpgDBClient):
    async def create_pool(self, **kwargs: Any) -> asyncpg.Pool:
        return await create_pool(None, **kwargs)


client_class = TesseraAsyncpgClient
