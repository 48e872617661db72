"""The conditional updates that move an account's balance (DESIGN.md, Data rules).

Each statement checks and changes the row in one step and returns the new
balance, so no value is ever read into Python, changed and written back. The
first update of a transaction also takes the account's row lock (SQLite locks
the whole database), which serialises every writer of one account: lot updates
that follow cannot race. Only integers and the brand id reach the SQL text as
parameters; table and column names are constants.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tessera.assets.policy import POLICY_COLUMNS, PolicyValues
from tessera.db import numbered
from tessera.scope import BrandScope


@dataclass(frozen=True)
class Moved:
    account_id: int
    balance: int
    pending: int
    reserved: int = 0
    # The brand's points policy, when the change was asked to read it along
    # (PostgreSQL: in the same statement); None when it was not read.
    policy: PolicyValues | None = None
    # From :func:`hold`: the change asked for, not applied yet (the figures
    # above are what it will leave); the entry's statement applies it once
    # the entry has claimed its idempotency key (:func:`apply_sql`).
    held: dict[str, Any] | None = None


async def _returning(
    conn: Any, statement: str, values: list[Any], policy_of: int | None = None
) -> Moved | None:
    if policy_of is not None:
        # The policy of brand ``policy_of`` joined onto the changed row: one
        # round trip where the caller would otherwise read it next.
        columns = ", ".join(f"p.{c}" for c in POLICY_COLUMNS)
        statement = (
            f"WITH moved AS ({statement}) SELECT moved.*, {columns} FROM moved "
            "LEFT JOIN points_policy p ON p.brand_id = ?"
        )
        values = [*values, policy_of]
    # execute_query_dict: Tortoise's asyncpg execute_query drops RETURNING rows of an UPDATE.
    rows = await conn.execute_query_dict(numbered(conn, statement), values)
    if not rows:
        return None
    row = rows[0]
    return Moved(
        int(row["id"]),
        int(row["balance"]),
        int(row["pending"]),
        int(row["reserved"] or 0),
        PolicyValues.of(row if row["expiry_mode"] is not None else None)
        if policy_of is not None
        else None,
    )


async def open_account(
    conn: Any, scope: BrandScope, member_id: int, kind: str, now: datetime
) -> None:
    """Create the member's account of ``kind`` unless it exists. The member must
    belong to the scope's brand: the row is selected from the brand's members,
    so another brand's member id inserts nothing, nor does a merge's tombstone
    (its writes go to the survivor, :mod:`tessera.members.merge`)."""
    await conn.execute_query(
        numbered(
            conn,
            "INSERT INTO asset_account "
            "(brand_id, member_id, kind, balance, pending, reserved, updated_at) "
            "SELECT brand_id, id, ?, 0, 0, 0, ? FROM member WHERE id = ? AND brand_id = ? "
            "AND merged_into_id IS NULL "
            "ON CONFLICT (brand_id, member_id, kind) DO NOTHING",
        ),
        [kind, now, member_id, scope.brand_id],
    )


async def change(
    conn: Any,
    scope: BrandScope,
    member_id: int,
    kind: str,
    now: datetime,
    *,
    balance: int = 0,
    pending: int = 0,
    reserved: int = 0,
    floor: int | None = None,
    ceiling: int | None = None,
    with_policy: bool = False,
) -> Moved | None:
    """Add ``balance``, ``pending`` and ``reserved`` (each may be negative) to
    the account.

    With ``floor`` the change applies only when the balance not reserved by
    checkout holds stays at or above it (0: never overdraw, never take held
    points); with ``ceiling`` only when balance and pending together stay at
    or below it; ``pending`` and ``reserved`` never go below zero, and
    ``reserved`` never above the balance. None when the account does not
    exist or a condition failed. ``with_policy``: the result carries the
    brand's points policy, read in the same statement on PostgreSQL (SQLite
    cannot put an UPDATE in a CTE; there the caller reads it).
    """
    conditions, checked = _conditions(balance, pending, reserved, floor, ceiling)
    return await _returning(
        conn,
        f"{_UPDATE} WHERE brand_id = ? AND member_id = ? AND kind = ?{conditions} {_RETURNING}",
        [balance, pending, reserved, now, scope.brand_id, member_id, kind, *checked],
        scope.brand_id if with_policy and conn.capabilities.dialect == "postgres" else None,
    )


_UPDATE = (
    "UPDATE asset_account SET balance = balance + ?, pending = pending + ?, "
    "reserved = reserved + ?, updated_at = ?"
)
_RETURNING = "RETURNING id, balance, pending, reserved"


def _conditions(
    balance: int, pending: int, reserved: int, floor: int | None, ceiling: int | None
) -> tuple[str, list[Any]]:
    """The conditions of :func:`change` on the account's row, and their values."""
    conditions = ""
    values: list[Any] = []
    if floor is not None:
        conditions += " AND balance + ? - (reserved + ?) >= ?"
        values += [balance, reserved, floor]
    if ceiling is not None:
        conditions += " AND balance + pending + ? <= ?"
        values += [balance + pending, ceiling]
    if pending < 0:
        conditions += " AND pending + ? >= 0"
        values.append(pending)
    if reserved < 0:
        conditions += " AND reserved + ? >= 0"
        values.append(reserved)
    return conditions, values


async def hold(
    conn: Any,
    scope: BrandScope,
    member_id: int,
    kind: str,
    *,
    with_policy: bool = False,
    **change: Any,
) -> Moved | None:
    """PostgreSQL: take the account's row lock if :func:`change` with the same
    arguments (``balance``, ``pending``, ``reserved``, ``floor``,
    ``ceiling``) would apply, without applying it; the result holds the
    figures it will leave and the change itself (``held``), which
    :func:`apply_sql` applies in the statement of the entry it belongs to.
    In READ COMMITTED a row lock waits for a concurrent writer and checks
    the conditions again on the row that writer left, as the update would;
    the lock then keeps the row as it is until the transaction ends. It is
    the lock the update takes (``FOR NO KEY UPDATE``), so inserts of
    entries and lots referencing the account are not held up by it."""
    balance, pending, reserved = (change.get(k, 0) for k in ("balance", "pending", "reserved"))
    conditions, checked = _conditions(
        balance, pending, reserved, change.get("floor"), change.get("ceiling")
    )
    found = await _returning(
        conn,
        "SELECT id, balance, pending, reserved FROM asset_account "
        f"WHERE brand_id = ? AND member_id = ? AND kind = ?{conditions} FOR NO KEY UPDATE",
        [scope.brand_id, member_id, kind, *checked],
        scope.brand_id if with_policy else None,
    )
    if found is None:
        return None
    return Moved(
        found.account_id,
        found.balance + balance,
        found.pending + pending,
        found.reserved + reserved,
        found.policy,
        change,
    )


def apply_sql(
    scope: BrandScope, moved: Moved, now: datetime, claimed: str
) -> tuple[str, list[Any]]:
    """An ``UPDATE … RETURNING`` applying ``moved.held`` (from :func:`hold`)
    to the account, only when the CTE ``claimed`` (the entry's insert, which
    does nothing when its idempotency key is taken) returned a row: a
    statement for a CTE chain, with its values. Its conditions are checked
    again (they hold: the row is locked since :func:`hold`)."""
    change = moved.held or {}
    balance, pending, reserved = (change.get(k, 0) for k in ("balance", "pending", "reserved"))
    conditions, checked = _conditions(
        balance, pending, reserved, change.get("floor"), change.get("ceiling")
    )
    return (
        f"{_UPDATE} WHERE brand_id = ? AND id = ? AND EXISTS (SELECT 1 FROM {claimed})"
        f"{conditions} {_RETURNING}",
        [balance, pending, reserved, now, scope.brand_id, moved.account_id, *checked],
    )


async def lock(
    conn: Any, scope: BrandScope, member_id: int, kind: str, now: datetime
) -> Moved | None:
    """Take the account's row lock and return it as it stands; it cannot change
    until the transaction ends (reversals decide how much to take from it)."""
    return await _returning(
        conn,
        "UPDATE asset_account SET updated_at = ? WHERE brand_id = ? AND member_id = ? AND kind = ? "
        "RETURNING id, balance, pending, reserved",
        [now, scope.brand_id, member_id, kind],
    )
