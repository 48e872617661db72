"""Tessera's PostgreSQL pool (``tessera.pg_client``) hands an idle connection
back in place and leaves every other release to asyncpg: a connection left
in a transaction is still rolled back, an expired one still closed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from asyncpg.pool import PoolConnectionHolder
from tortoise import connections

from tessera import pg_client

pytestmark = pytest.mark.postgres_only


@pytest.fixture
async def pool(tessera_db, tessera_settings) -> AsyncIterator[pg_client.ReleasingPool]:
    async with pg_client.create_pool(tessera_settings.database_url, min_size=1, max_size=1) as made:
        yield made


@pytest.fixture
def asyncpg_releases(monkeypatch) -> list[int]:
    """Each release that went asyncpg's own way (a task and a reset)."""
    calls: list[int] = []
    own = PoolConnectionHolder.release

    async def counted(self, timeout):
        calls.append(1)
        return await own(self, timeout)

    monkeypatch.setattr(PoolConnectionHolder, "release", counted)
    return calls


async def test_tessera_connects_through_its_releasing_pool(tessera_db):
    client = connections.get("default")
    assert isinstance(client, pg_client.TesseraAsyncpgClient)
    async with client.acquire_connection() as connection:
        assert isinstance(connection._con, pg_client.PooledConnection)
    assert isinstance(client._pool, pg_client.ReleasingPool)


async def test_an_idle_connection_goes_back_to_the_pool_in_place(pool, asyncpg_releases):
    async with pool.acquire() as connection:
        first = connection._con
        assert await connection.fetchval("SELECT 1") == 1
    assert asyncpg_releases == []
    assert pool.get_idle_size() == 1
    # Reusable at once, as asyncpg's release leaves it.
    async with pool.acquire() as connection:
        assert connection._con is first
        async with connection.transaction():
            assert await connection.fetchval("SELECT 2") == 2
    assert asyncpg_releases == []  # a finished transaction leaves it idle


async def test_a_connection_left_in_a_transaction_is_rolled_back(pool, asyncpg_releases):
    async with pool.acquire() as connection:
        await connection.execute("CREATE TEMPORARY TABLE kept (x int)")
    async with pool.acquire() as connection:
        await connection.execute("BEGIN")
        await connection.execute("INSERT INTO kept VALUES (1)")
    assert asyncpg_releases == [1]
    async with pool.acquire() as connection:
        assert not connection.is_in_transaction()
        assert await connection.fetchval("SELECT count(*) FROM kept") == 0


async def test_an_expired_connection_is_closed_not_reused(pool, asyncpg_releases):
    async with pool.acquire() as connection:
        first = connection._con
        await pool.expire_connections()
    assert asyncpg_releases == [1]
    assert first.is_closed()
    async with pool.acquire() as connection:
        assert connection._con is not first
        assert await connection.fetchval("SELECT 1") == 1
