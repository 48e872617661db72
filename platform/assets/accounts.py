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
    conditions = ""
    values: list[Any] = [balance, pending, reserved, now, scope.brand_id, member_id, kind]
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
    return await _returning(
        conn,
        "UPDATE asset_account SET balance = balance + ?, pending = pending + ?, "
        "reserved = reserved + ?, updated_at = ? "
        "WHERE brand_id = ? AND member_id = ? AND kind = ?"
        + conditions
        + " RETURNING id, balance, pending, reserved",
        values,
        scope.brand_id if with_policy and conn.capabilities.dialect == "postgres" else None,
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
