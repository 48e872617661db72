"""Writing follow-up work into the outbox, claiming it, and running it.

Writing happens inside the transaction of the change (:func:`write`), so the
work commits or rolls back with it. :func:`claim` takes due entries and
leases them (``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, so relays
in several processes never take the same entry); :func:`execute` runs them
and marks each done, or records the error and when to try again.

Running is idempotent: an entry already done is skipped, so an entry relayed
twice (a lease that ran out, a job arq re-ran after a worker died) applies
once. The jobs themselves are safe to repeat, as every job must be.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise import connections

from tessera import runtime
from tessera.db import sqlite_time
from tessera.jobs import registry
from tessera.jobs.transient import is_transient
from tessera.outbox.models import OutboxEntry
from tessera.scope import BrandScope

log = logging.getLogger("tessera.outbox")

# Kinds whose entries differ only in a list of member ids (argument 1): claimed
# together, they run as one job over the union, so N members' re-evaluations
# cost one set-based run rather than N.
BATCHED_KINDS = frozenset({"segments_member_facts", "persons_link"})

# Kinds with a lane of their own (transactional messages): claimed before any
# other due work and, with Redis, run from their own arq queue
# (:func:`lane_queue`), so bulk work queued before them never delays them.
PRIORITY_KINDS = frozenset({"channels_send_priority"})


def lane_queue(queue_name: str) -> str:
    """The arq queue of :data:`PRIORITY_KINDS` beside the queue ``queue_name``."""
    return f"{queue_name}:priority"


# Longest wait before another attempt; transient failures (deadlocks, lock
# timeouts) wait a second, then twice as long each time up to this.
MAX_BACKOFF_S = 300.0


@dataclass(frozen=True)
class FollowUp:
    """Work a unit of work asks for: the job ``kind`` with its arguments.

    ``key`` coalesces within the brand: while an entry with this key is
    pending, no second one is written (the first will see the latest facts).
    """

    kind: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    key: str | None = None
    delay_s: float = 0.0


def _now() -> datetime:
    return datetime.now(UTC)


async def write(scope: BrandScope, connection: Any, work: Sequence[FollowUp]) -> int:
    """Insert ``work`` for ``scope``'s brand in ``connection``'s transaction;
    returns how many entries were asked for (coalesced ones are not written)."""
    now = _now()
    rows: list[dict[str, Any]] = []
    keys: set[str] = set()
    for item in work:
        registry.get(item.kind)  # an unknown kind fails the change, not the relay
        if item.key is not None:
            if item.key in keys:
                continue
            keys.add(item.key)
        payload = {"args": list(item.args), "kwargs": dict(item.kwargs)}
        json.dumps(payload)  # a payload that cannot be stored fails here, in the transaction
        rows.append(
            {
                "kind": item.kind,
                "payload": payload,
                "key": item.key,
                "available_at": now + timedelta(seconds=item.delay_s),
            }
        )
    # One statement, not one per row: a batch of orders asks for work for
    # each of its members.
    await scope.insert_rows(OutboxEntry, rows, connection, ignore_conflicts=True)
    return len(rows)


@dataclass(frozen=True)
class Claimed:
    id: int
    brand_id: int
    kind: str
    args: list[Any]
    kwargs: dict[str, Any]
    attempts: int
    created_at: datetime


def claimed_from(row: OutboxEntry) -> Claimed:
    payload = row.payload or {}
    return Claimed(
        row.id,
        row.brand_id,
        row.kind,
        list(payload.get("args", [])),
        dict(payload.get("kwargs", {})),
        row.attempts,
        row.created_at,
    )


async def claim(
    limit: int,
    lease_s: float,
    *,
    due_by: datetime | None = None,
    kinds: frozenset[str] | None = None,
    other_kinds: bool = False,
) -> list[Claimed]:
    """Take up to ``limit`` entries due by ``due_by`` (default now), oldest
    first, and lease them for ``lease_s`` seconds: until then no other relay
    takes them; after it (a crashed runner) they are due again. With ``kinds``,
    only entries of those kinds (with ``other_kinds``, of any other). One statement,
    so two relays (threads, processes) never take the same entry; on
    PostgreSQL they skip each other's locked rows instead of waiting."""
    now = _now()
    conn = connections.get("default")
    postgres = conn.capabilities.dialect == "postgres"
    if postgres:
        marks, skip = ["$1", "$2", "$3"], " FOR UPDATE SKIP LOCKED"
        params: list[Any] = [now + timedelta(seconds=lease_s), due_by or now, limit]
    else:
        marks, skip = ["?", "?", "?"], ""
        # Compared as text, in the form Tortoise's sqlite adapter stores.
        params = [
            sqlite_time(now + timedelta(seconds=lease_s)),
            sqlite_time(due_by or now),
            limit,
        ]
    only = ""
    if kinds:
        names = sorted(kinds)
        first = len(params) + 1
        places = [f"${first + i}" if postgres else "?" for i in range(len(names))]
        only = f" AND kind {'NOT IN' if other_kinds else 'IN'} ({', '.join(places)})"
        # Numbered on PostgreSQL; SQLite's ``?`` go in order, before the limit.
        params = [*params, *names] if postgres else [*params[:2], *names, params[2]]
    # The key is released: a change made from now on queues its work again.
    sql = (
        f'UPDATE "outbox" SET attempts = attempts + 1, available_at = {marks[0]}, "key" = NULL '
        'WHERE id IN (SELECT id FROM "outbox" WHERE done_at IS NULL AND failed_at IS NULL '
        f"AND available_at <= {marks[1]}{only} ORDER BY id LIMIT {marks[2]}{skip}) RETURNING id"
    )
    # (execute_query would not return an UPDATE's rows on asyncpg.)
    rows = await conn.execute_query_dict(sql, params)
    ids = sorted(row["id"] for row in rows)
    if not ids:
        return []
    return [claimed_from(row) for row in await OutboxEntry.filter(id__in=ids).order_by("id")]


def batches(entries: Sequence[Claimed]) -> list[list[Claimed]]:
    """Group entries that run as one job (:data:`BATCHED_KINDS`); every other
    entry is a group of its own."""
    groups: dict[Any, list[Claimed]] = {}
    for entry in entries:
        if entry.kind in BATCHED_KINDS and len(entry.args) == 2:
            group_key: Any = (
                entry.brand_id,
                entry.kind,
                json.dumps(entry.args[0]),
                json.dumps(entry.kwargs, sort_keys=True),
            )
        else:
            group_key = entry.id
        groups.setdefault(group_key, []).append(entry)
    return list(groups.values())


def _arguments(group: Sequence[Claimed]) -> tuple[list[Any], dict[str, Any]]:
    first = group[0]
    if len(group) == 1:
        return first.args, first.kwargs
    member_ids = sorted({i for entry in group for i in entry.args[1]})
    return [first.args[0], member_ids], first.kwargs


async def execute(group: Sequence[Claimed]) -> bool:
    """Run one group of claimed entries as one job, then mark them done, or
    record the failure (retried with backoff until the job's ``max_tries``
    attempts are spent, then marked failed). Never raises: the relay goes on.
    Returns whether the work succeeded."""
    ids = [entry.id for entry in group]
    pending = set(
        await OutboxEntry.filter(
            id__in=ids, done_at__isnull=True, failed_at__isnull=True
        ).values_list("id", flat=True)
    )
    group = [entry for entry in group if entry.id in pending]
    if not group:
        return True  # relayed twice: the first run applied it
    first = group[0]
    args, kwargs = _arguments(group)
    labels = {"job": first.kind, "outbox_ids": [e.id for e in group], "brand_id": first.brand_id}
    try:
        definition = registry.get(first.kind)
        ctx = {
            "job_id": f"outbox:{first.id}",
            "job_try": max(e.attempts for e in group),
            "enqueue_time": min(e.created_at for e in group),
            "runtime": runtime.current(),
        }
        async with asyncio.timeout(definition.timeout_s or registry.DEFAULT_TIMEOUT_S):
            await definition.function(ctx, *args, **kwargs)
    except Exception as exc:
        await _failed(group, exc, labels)
        return False
    await OutboxEntry.filter(id__in=[e.id for e in group], done_at__isnull=True).update(
        done_at=_now(), last_error=None
    )
    return True


async def _failed(group: Sequence[Claimed], exc: BaseException, labels: dict[str, Any]) -> None:
    try:
        max_tries = registry.get(group[0].kind).max_tries or registry.DEFAULT_MAX_TRIES
    except registry.UnknownJob:
        max_tries = 1  # a kind no longer registered cannot succeed later
    error = f"{type(exc).__name__}: {exc}"[:4000]
    now = _now()
    for entry in group:
        if entry.attempts >= max_tries:
            log.error(
                "outbox entry %s (%s) failed for good after %d attempts: %s",
                entry.id,
                entry.kind,
                entry.attempts,
                error,
                exc_info=exc,
                extra=labels,
            )
            changes: dict[str, Any] = {"failed_at": now, "last_error": error}
        else:
            backoff = min(MAX_BACKOFF_S, 2.0 ** (entry.attempts - 1))
            level = logging.WARNING if is_transient(exc) else logging.ERROR
            log.log(
                level,
                "outbox entry %s (%s) failed on attempt %d, retried in %.0f s: %s",
                entry.id,
                entry.kind,
                entry.attempts,
                backoff,
                error,
                exc_info=exc,
                extra=labels,
            )
            changes = {"available_at": now + timedelta(seconds=backoff), "last_error": error}
        await OutboxEntry.filter(id=entry.id, done_at__isnull=True).update(**changes)
