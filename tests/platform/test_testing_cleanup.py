"""The fixtures' clean-up between tests: it says why it falls back to TRUNCATE,
and any other failure is raised rather than papered over."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import pytest
from tortoise import Tortoise, connections
from tortoise.backends.asyncpg import AsyncpgDBClient
from tortoise.exceptions import OperationalError

from tessera import db
from tessera.tenancy.models import Tenant
from tessera.tenancy.service import create_tenant
from tessera.testing import _empty_all_tables

pytestmark = pytest.mark.postgres_only


@asynccontextmanager
async def _client(url: str, user: str | None = None) -> AsyncIterator[AsyncpgDBClient]:
    parts = urlsplit(url)
    client = AsyncpgDBClient(
        connection_name=f"cleanup-{secrets.token_hex(3)}",
        user=user or parts.username or "postgres",
        password=parts.password,
        host=parts.hostname,
        port=parts.port or 5432,
        database=parts.path.lstrip("/"),
    )
    await client.create_connection(with_db=True)
    try:
        yield client
    finally:
        await client.close()


@asynccontextmanager
async def _owner_without_superuser() -> AsyncIterator[str]:
    """A role owning Tessera's tables but no superuser, as on a managed server."""
    role = f"tessera_owner_{secrets.token_hex(3)}"
    conn = connections.get("default")
    owned = "".join(
        f'ALTER TABLE "{m._meta.db_table}" OWNER TO "{role}";'
        for m in Tortoise.apps[db.APP_LABEL].values()
    )
    await conn.execute_script(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER;{owned}')
    try:
        yield role
    finally:
        await conn.execute_script(f'REASSIGN OWNED BY "{role}" TO CURRENT_USER; DROP ROLE "{role}"')


async def test_without_superuser_it_truncates_and_says_why(
    tessera_db, tessera_database_url, caplog
):
    await create_tenant("t-cleanup", "Clean-up")
    async with _owner_without_superuser() as role, _client(tessera_database_url, role) as client:
        with caplog.at_level(logging.WARNING, "tessera.testing"):
            await _empty_all_tables(client)
    assert await Tenant.all().count() == 0
    [line] = caplog.messages
    assert (
        "TRUNCATE" in line
        and 'permission denied to set parameter "session_replication_role"' in line
    )


async def test_any_other_failure_is_raised(tessera_db, tessera_database_url):
    # The server's own database has none of Tessera's tables.
    server = tessera_database_url.rsplit("/", 1)[0] + "/postgres"
    async with _client(server) as client:
        with pytest.raises(OperationalError, match="does not exist"):
            await _empty_all_tables(client)
