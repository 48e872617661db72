"""Crediting many accounts at once: the set form of ``earn_points`` and
``earn_growth`` for a batch (DESIGN.md, "Batches are sets").

:func:`credit_many` writes, in the caller's unit of work, exactly the rows
the single-entry functions would write one call after another (entries with
the same ``balance_after``, fingerprints and idempotency keys, lots, the
``*.changed`` events), in a constant number of statements: the missing
accounts opened with one insert per kind, every account touched locked with
one ``SELECT … FOR UPDATE`` (SQLite's writer lock is already held by the
caller's earlier writes), the entries and lots with one statement on
PostgreSQL (one multi-row insert each on SQLite), and the accounts moved
with one relative update per account. The
balances are computed in Python *under the row locks*, which is what the
data rules allow besides a conditional update; the limit an account may
hold is checked per entry, in order, as the single calls would.

A credit whose idempotency key is taken fails the insert, so the caller's
transaction rolls back and nothing is applied twice (the batch pipeline then
records its items one at a time, each answering as a replay).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tessera.assets import lots
from tessera.assets.accounts import Moved
from tessera.assets.models import LedgerEntry, PointsLot
from tessera.assets.policy import PolicyValues, expires_at
from tessera.assets.service import (
    GROWTH,
    POINTS,
    _ceiling,
    _check_key,
    _part_key,
    _positive,
    _Request,
    emit_entry_changed,
)
from tessera.db import any_of, numbered
from tessera.errors import DomainError
from tessera.scope import BrandScope
from tessera.uow import UnitOfWork


@dataclass(frozen=True)
class Credit:
    """One ``earn_points`` (``kind="points"``) or ``earn_growth`` call."""

    kind: str
    member_id: int
    amount: int
    idempotency_key: str
    reason: str
    source_type: str
    source_ref: str | None
    now: datetime
    pending_until: datetime | None = None


async def credit_many(
    scope: BrandScope, uow: UnitOfWork, credits: Sequence[Credit], policy: PolicyValues
) -> list[int]:
    """Apply ``credits`` in order in ``uow``; the ids of the entries written,
    in order.

    ``policy`` is the brand's points policy (lot expiry). Raises the
    ``DomainError`` the single call would (``BALANCE_LIMIT``, ``NOT_FOUND`` for
    a member of no account, a bad amount or key) for the first credit that
    fails; the caller's transaction must then roll back."""
    if not credits:
        return []
    conn = uow.connection
    for credit in credits:
        _positive(credit.amount, "points" if credit.kind == POINTS else "amount", credit.kind)
        _check_key(credit.idempotency_key)
    now = max(c.now for c in credits)
    wanted = {(c.member_id, c.kind) for c in credits}
    for kind in {k for _, k in wanted}:
        members, value = any_of(conn, "id", sorted(m for m, k in wanted if k == kind))
        await conn.execute_query(
            numbered(
                conn,
                "INSERT INTO asset_account "
                "(brand_id, member_id, kind, balance, pending, reserved, updated_at) "
                "SELECT brand_id, id, ?, 0, 0, 0, ? FROM member "
                f"WHERE brand_id = ? AND {members} "
                "ON CONFLICT (brand_id, member_id, kind) DO NOTHING",
            ),
            [kind, now, scope.brand_id, value],
        )
    accounts = await _lock(conn, scope, wanted)
    start = dict(accounts)
    # Plain rows, not model instances (a batch writes thousands, and its
    # events are made from the rows): the ids come back from the insert, in
    # order.
    actor = str(scope.actor)[:200]
    written = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    moves: list[Moved] = []
    for credit in credits:
        moved = accounts.get((credit.member_id, credit.kind))
        if moved is None:
            raise DomainError("NOT_FOUND", "no such member", ["memberId"])
        held = credit.pending_until is not None and credit.pending_until > credit.now
        ceiling = _ceiling(credit.kind)
        if moved.balance + moved.pending + credit.amount > ceiling:
            field = "points" if credit.kind == POINTS else "amount"
            message = f"an account holds at most {ceiling:,}; this would pass it"
            raise DomainError("BALANCE_LIMIT", message, [field])
        moved = Moved(
            moved.account_id,
            moved.balance + (0 if held else credit.amount),
            moved.pending + (credit.amount if held else 0),
            moved.reserved,
        )
        accounts[(credit.member_id, credit.kind)] = moved
        request = _Request(
            "earn",
            credit.kind,
            credit.member_id,
            credit.amount,
            credit.idempotency_key,
            credit.reason,
            credit.source_type,
            credit.source_ref,
        )
        rows.append(
            {
                "brand_id": scope.brand_id,
                "account_id": moved.account_id,
                "member_id": credit.member_id,
                "kind": credit.kind,
                "entry_type": "pending" if held else "earn",
                "amount": credit.amount,
                "balance_after": moved.balance,
                "reason": credit.reason,
                "source_type": credit.source_type,
                "source_ref": credit.source_ref,
                "idempotency_key": _part_key(credit.idempotency_key, 1),
                "fingerprint": request.fingerprint(),
                "actor": actor,
                "occurred_at": credit.now,
                "created_at": written,
            }
        )
        moves.append(moved)
    # Each lot names its entry by the entry's place in ``rows``.
    lot_rows = [
        _lot(scope, n, row, moved, credit, policy)
        for n, (credit, row, moved) in enumerate(zip(credits, rows, moves, strict=True))
        if credit.kind == POINTS
    ]
    if conn.capabilities.dialect == "postgres":
        ids = await _insert_entries(conn, scope, rows, lot_rows)
    else:
        ids = await scope.insert_rows(LedgerEntry, rows, conn)
        for lot in lot_rows:
            lot["entry_id"] = ids[lot.pop("n")]
        await scope.copy_values(PointsLot, lot_rows, conn)
    await _move(conn, scope, start, accounts, now)
    for credit, row, entry_id, moved in zip(credits, rows, ids, moves, strict=True):
        emit_entry_changed(
            uow,
            credit.kind,
            credit.member_id,
            entry_id,
            row["entry_type"],
            credit.amount,
            credit.source_type,
            credit.source_ref,
            moved,
        )
    return ids


# The columns of a batch's entries and lots that vary by row, with their
# PostgreSQL array types (brand, actor and time written are the batch's).
_ENTRY_COLUMNS = (
    ("account_id", "bigint"),
    ("member_id", "bigint"),
    ("kind", "text"),
    ("entry_type", "text"),
    ("amount", "bigint"),
    ("balance_after", "bigint"),
    ("reason", "text"),
    ("source_type", "text"),
    ("source_ref", "text"),
    ("idempotency_key", "text"),
    ("fingerprint", "text"),
    ("occurred_at", "timestamptz"),
)
_LOT_COLUMNS = (
    ("n", "bigint"),
    ("account_id", "bigint"),
    ("amount", "bigint"),
    ("remaining", "bigint"),
    ("earned_at", "timestamptz"),
    ("expires_at", "timestamptz"),
    ("status", "text"),
    ("available_at", "timestamptz"),
)


def _insert_entries_sql() -> str:
    """The entries and their lots in one statement (PostgreSQL): the ids
    drawn from the sequence and given to the rows in order (the ledger's
    order is its ids'), the lots inserted in a CTE beside the entries', as
    the single earn does (``tessera.assets.service._insert_entry``)."""
    n_entry = len(_ENTRY_COLUMNS)
    entry_names = ", ".join(c for c, _ in _ENTRY_COLUMNS)
    entry_arrays = ", ".join(f"${i}::{t}[]" for i, (_, t) in enumerate(_ENTRY_COLUMNS, 5))
    lot_names = [c for c, _ in _LOT_COLUMNS]
    lot_arrays = ", ".join(f"${i}::{t}[]" for i, (_, t) in enumerate(_LOT_COLUMNS, 5 + n_entry))
    lot_values = ", ".join(f"w.{c}" for c in lot_names[1:])
    return (
        "WITH ids AS MATERIALIZED (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM "
        "(SELECT nextval(pg_get_serial_sequence('ledger_entry', 'id')) AS id "
        "FROM generate_series(1, $1)) AS drawn), "
        f"e AS (INSERT INTO ledger_entry (id, brand_id, actor, created_at, {entry_names}) "
        f"SELECT ids.id, $2, $3, $4, {', '.join(f'v.{c}' for c, _ in _ENTRY_COLUMNS)} "
        f"FROM unnest({entry_arrays}) WITH ORDINALITY AS v({entry_names}, o) "
        "JOIN ids ON ids.n = v.o - 1 RETURNING id), "
        f"l AS (INSERT INTO points_lot (brand_id, entry_id, {', '.join(lot_names[1:])}) "
        f"SELECT $2, e.id, {lot_values} FROM unnest({lot_arrays}) AS w({', '.join(lot_names)}) "
        "JOIN ids ON ids.n = w.n JOIN e ON e.id = ids.id) "
        "SELECT id FROM ids ORDER BY n"
    )


_INSERT_ENTRIES = _insert_entries_sql()


async def _insert_entries(
    conn: Any, scope: BrandScope, rows: list[dict[str, Any]], lot_rows: list[dict[str, Any]]
) -> list[int]:
    """The entries of ``rows`` and the lots of ``lot_rows`` in one round trip
    (was: the ids drawn, the entries and the lots each by ``COPY``); their
    ids in order. Every row is of ``scope``'s brand (one value for all)."""
    first = rows[0]
    found = await conn.execute_query_dict(
        _INSERT_ENTRIES,
        [
            len(rows),
            scope.brand_id,
            first["actor"],
            first["created_at"],
            *([row[c] for row in rows] for c, _ in _ENTRY_COLUMNS),
            *([lot[c] for lot in lot_rows] for c, _ in _LOT_COLUMNS),
        ],
    )
    return [int(r["id"]) for r in found]


async def _move(
    conn: Any,
    scope: BrandScope,
    start: dict[tuple[int, str], Moved],
    end: dict[tuple[int, str], Moved],
    now: datetime,
) -> None:
    """Add what the batch moved to each account (relative, under the locks):
    one statement on PostgreSQL; one per account on SQLite (in-process)."""
    moved = [
        (m.account_id, m.balance - start[key].balance, m.pending - start[key].pending)
        for key, m in end.items()
        if m != start[key]
    ]
    if not moved:
        return
    if conn.capabilities.dialect == "postgres":
        await conn.execute_query(
            "UPDATE asset_account AS a SET balance = a.balance + v.b, "
            "pending = a.pending + v.p, updated_at = $1 "
            "FROM unnest($2::bigint[], $3::bigint[], $4::bigint[]) AS v(id, b, p) "
            "WHERE a.brand_id = $5 AND a.id = v.id",
            [now, [i for i, _, _ in moved], [b for _, b, _ in moved], [p for _, _, p in moved],
             scope.brand_id],
        )  # fmt: skip
        return
    for account_id, balance, pending in moved:
        await conn.execute_query(
            "UPDATE asset_account SET balance = balance + ?, pending = pending + ?, "
            "updated_at = ? WHERE brand_id = ? AND id = ?",
            [balance, pending, now, scope.brand_id, account_id],
        )


def _lot(
    scope: BrandScope,
    n: int,
    entry: dict[str, Any],
    moved: Moved,
    credit: Credit,
    policy: PolicyValues,
) -> dict[str, Any]:
    held = entry["entry_type"] == "pending"
    return {
        "n": n,
        "account_id": moved.account_id,
        "amount": credit.amount,
        "remaining": lots.remaining_of(credit.amount, moved.balance, held),
        "earned_at": credit.now,
        "expires_at": expires_at(policy, scope.brand.timezone, credit.now),
        "status": "pending" if held else "available",
        "available_at": credit.pending_until if held else None,
    }


async def _lock(
    conn: Any, scope: BrandScope, wanted: set[tuple[int, str]]
) -> dict[tuple[int, str], Moved]:
    """The accounts, locked in id order (so two batches cannot deadlock)."""
    members, value = any_of(conn, "member_id", sorted({m for m, _ in wanted}))
    lock = " FOR UPDATE" if conn.capabilities.dialect == "postgres" else ""
    rows = await conn.execute_query_dict(
        numbered(
            conn,
            "SELECT id, member_id, kind, balance, pending, reserved FROM asset_account "
            f"WHERE brand_id = ? AND {members} ORDER BY id{lock}",
        ),
        [scope.brand_id, value],
    )
    found = {}
    for row in rows:
        key = (int(row["member_id"]), str(row["kind"]))
        if key in wanted:
            found[key] = Moved(
                int(row["id"]), int(row["balance"]), int(row["pending"]), int(row["reserved"] or 0)
            )
    return found


__all__ = ["GROWTH", "POINTS", "Credit", "credit_many"]
