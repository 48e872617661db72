"""Deadlocks and lock timeouts are retried, not dropped, under every queue;
worker connections carry PostgreSQL statement and lock timeouts."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from arq.worker import Retry
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.exceptions import OperationalError

from tessera import db
from tessera.bootstrap import job_server_settings
from tessera.jobs.inline import InlineQueue
from tessera.jobs.registry import retrying_transient
from tessera.jobs.transient import is_transient
from tessera.pg_client import PooledConnection


def test_deadlocks_serialization_failures_and_timeouts_are_transient():
    assert is_transient(asyncpg.exceptions.DeadlockDetectedError("deadlock detected"))
    assert is_transient(asyncpg.exceptions.SerializationError("could not serialize"))
    assert is_transient(asyncpg.exceptions.LockNotAvailableError("lock timeout"))
    assert is_transient(asyncpg.exceptions.QueryCanceledError("statement timeout"))
    try:  # as Tortoise re-raises a driver error
        raise OperationalError("wrapped") from asyncpg.exceptions.DeadlockDetectedError("x")
    except OperationalError as wrapped:
        assert is_transient(wrapped)
    assert is_transient(OperationalError("database is locked"))
    assert not is_transient(asyncpg.exceptions.UniqueViolationError("duplicate key"))
    assert not is_transient(ValueError("deadlock, but not the database's"))


async def test_a_deadlock_becomes_an_arq_retry():
    async def contended(ctx: dict[str, Any]) -> None:
        raise asyncpg.exceptions.DeadlockDetectedError("deadlock detected")

    with pytest.raises(Retry) as raised:
        await retrying_transient(contended)({"job_try": 3})
    assert raised.value.defer_score == 4000  # ms: 1, 2, 4... s

    async def wrong(ctx: dict[str, Any]) -> None:
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        await retrying_transient(wrong)({"job_try": 1})


async def test_the_in_process_queue_retries_a_deadlocked_job(tessera_db, register_job):
    tries: list[int] = []

    async def contended(ctx: dict[str, Any]) -> None:
        tries.append(ctx["job_try"])
        if len(tries) < 3:
            raise asyncpg.exceptions.DeadlockDetectedError("deadlock detected")

    register_job(contended, name="inline_contended")
    queue = InlineQueue()
    await queue.enqueue("inline_contended")
    assert tries == [1, 2, 3]
    assert (queue.jobs_complete, queue.jobs_retried, queue.jobs_failed) == (1, 2, 0)


def test_worker_connections_get_statement_and_lock_timeouts(tessera_settings):
    settings = tessera_settings.model_copy(
        update={"job_statement_timeout_s": 120, "job_lock_timeout_s": 2.5}
    )
    assert job_server_settings(settings) == {
        "statement_timeout": "120000ms",
        "lock_timeout": "2500ms",
        "idle_in_transaction_session_timeout": "120000ms",
    }
    off = settings.model_copy(update={"job_statement_timeout_s": 0, "job_lock_timeout_s": 0})
    assert job_server_settings(off) == {}
    config = db.tortoise_config("postgresql://u@h:5432/d", job_server_settings(settings))
    assert config["connections"]["default"]["credentials"]["server_settings"]["lock_timeout"] == (
        "2500ms"
    )
    # SQLite has no such settings: its URL is left as it is.
    assert isinstance(
        db.tortoise_config("sqlite://x.db", {"lock_timeout": "1ms"})["connections"]["default"], str
    )


@pytest.mark.postgres_only
async def test_postgresql_applies_the_timeouts_to_a_job_connection(tessera_db, tessera_settings):
    from tortoise.backends.asyncpg import AsyncpgDBClient

    settings = tessera_settings.model_copy(update={"job_lock_timeout_s": 2.5})
    config = db.tortoise_config(tessera_settings.database_url, job_server_settings(settings))
    credentials = config["connections"]["default"]["credentials"]
    assert credentials == {
        **expand_db_url(db._normalise_url(tessera_settings.database_url))["credentials"],
        "connection_class": PooledConnection,
        "server_settings": job_server_settings(settings),
    }
    client = AsyncpgDBClient(connection_name="job-check", **credentials)
    await client.create_connection(with_db=True)
    try:
        [row] = await client.execute_query_dict("SHOW lock_timeout")
        assert row["lock_timeout"] == "2500ms"
    finally:
        await client.close()
