"""The database: which model modules make up Tessera, and connecting to it."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tortoise import Tortoise, connections

from tessera.pg_client import PooledConnection

APP_LABEL = "tessera"

# Every module that declares models. A new domain adds its module here and
# runs `tessera makemigrations`.
MODEL_MODULES = [
    "tessera.tenancy.models",
    "tessera.auth.models",
    "tessera.features.models",
    "tessera.audit.models",
    "tessera.members.models",
    "tessera.tags.models",
    "tessera.orders.models",
    "tessera.behaviour.models",
    "tessera.assets.models",
    "tessera.segments.models",
    "tessera.coupons.models",
    "tessera.tiers.models",
    "tessera.rewards.models",
    "tessera.checkout.models",
    "tessera.outbox.models",
    "tessera.webhooks.models",
    "tessera.privacy.models",
    "tessera.persons.models",
    "tessera.slots.models",
    "tessera.reports.models",
    "tessera.channels.models",
    "tessera.campaigns.models",
]


def tortoise_config(
    database_url: str, server_settings: dict[str, str] | None = None
) -> dict[str, Any]:
    url = _normalise_url(database_url)
    connection: str | dict[str, Any] = url
    if is_postgres(database_url):
        from tortoise.backends.base.config_generator import expand_db_url

        connection = expand_db_url(url)
        connection["engine"] = "tessera.pg_client"
        connection["credentials"]["connection_class"] = PooledConnection
        if server_settings:
            connection["credentials"]["server_settings"] = server_settings
    return {
        "connections": {"default": connection},
        "apps": {
            APP_LABEL: {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": "tessera.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def _normalise_url(url: str) -> str:
    # Operators paste libpq-style URLs; Tortoise wants its engine name as scheme.
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "asyncpg://" + url[len(prefix) :]
    if url.startswith("sqlite://") and "busy_timeout" not in url:
        # In one process Tortoise serialises SQLite transactions on a lock; another
        # process (worker, CLI) writing meanwhile makes SQLite answer "database is
        # locked" at once unless it is told to wait for the lock.
        url += ("&" if "?" in url else "?") + "busy_timeout=5000"
    return url


def is_postgres(database_url: str) -> bool:
    return _normalise_url(database_url).startswith("asyncpg://")


def ensure_sqlite_dir(database_url: str) -> None:
    """SQLite creates the file but not its folder (``./var`` on a fresh clone)."""
    if database_url.startswith("sqlite://") and ":memory:" not in database_url:
        Path(database_url.removeprefix("sqlite://")).parent.mkdir(parents=True, exist_ok=True)


async def connect(database_url: str, *, server_settings: dict[str, str] | None = None) -> None:
    """Open the process-wide connection pool (API, worker and CLI all use this);
    ``server_settings`` are PostgreSQL settings for every connection of it."""
    ensure_sqlite_dir(database_url)
    await Tortoise.init(
        config=tortoise_config(database_url, server_settings), _enable_global_fallback=True
    )


async def disconnect() -> None:
    await Tortoise.close_connections()


def sqlite_time(value: datetime) -> str:
    """A time as the text Tortoise's sqlite3 adapter stores it, so a time bound
    into hand-written SQL compares as text with the stored ones."""
    return value.astimezone(UTC).isoformat(" ")


def stored_time(value: Any) -> datetime:
    """A stored instant as hand-written SQL returns it: an aware datetime on
    PostgreSQL, text (aggregates of datetime columns) on SQLite."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def numbered(conn: Any, statement: str) -> str:
    """``statement`` with ``?`` placeholders, numbered for asyncpg."""
    if conn.capabilities.dialect != "postgres":
        return statement
    parts = statement.split("?")
    return "".join(f"{part}${i}" for i, part in enumerate(parts[:-1], 1)) + parts[-1]


def any_of(connection: Any, column: str, values: Iterable[Any]) -> tuple[str, Any]:
    """``column`` is one of ``values``, for hand-written SQL with ``?``
    placeholders: the condition and its one bound value. One value whatever
    their number, so a statement's text (and on PostgreSQL its prepared
    plan) is the same for every batch: an array on PostgreSQL, a JSON list
    that ``json_each`` unpacks on SQLite."""
    if connection.capabilities.dialect == "postgres":
        return f"{column} = ANY(?)", list(values)
    return f"{column} IN (SELECT value FROM json_each(?))", json.dumps(list(values))


async def analyze(*tables: str) -> None:
    """Fresh planner statistics of ``tables``, on PostgreSQL (SQLite plans
    without them): for tables just filled in bulk, which autovacuum would
    analyse only a minute or more later."""
    connection = connections.get("default")
    if connection.capabilities.dialect == "postgres":
        await connection.execute_script("ANALYZE " + ", ".join(f'"{t}"' for t in tables))
