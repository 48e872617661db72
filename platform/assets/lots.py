"""Points lots: which earned points are left, and in what order they go.

Redemptions, deductions and reversals consume available lots soonest-expiring
first, lots that never expire last. Every lot change is a conditional update
(``remaining >= n``); callers hold the account's row lock (they moved its
balance first), so a failed condition means the data is inconsistent and the
whole unit of work is rolled back rather than half-applied.

Invariant (checked by ``tessera ledger verify``): the available lots' remaining
points sum to the balance when it is positive, else to zero; the pending lots'
remaining points sum to the account's pending amount.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from tortoise.expressions import F

from tessera.assets.models import PointsLot
from tessera.db import numbered
from tessera.scope import BrandScope

PAGE = 50


class LotsInconsistent(RuntimeError):
    """A lot did not hold what the account's balance says it must."""


async def _available(
    conn: Any, scope: BrandScope, account_id: int, first: Sequence[int]
) -> AsyncIterator[tuple[int, int]]:
    """``(id, remaining)`` of the available lots with points left, in
    consumption order: the lots of the entries ``first`` (a reversal takes
    back its own source's points), then by expiry, never-expiring last,
    oldest first within a day."""
    done: list[int] = []
    if first:
        for lot in (
            await scope.query(PointsLot)
            .using_db(conn)
            .filter(account_id=account_id, status="available", remaining__gt=0)
            .filter(entry_id__in=list(first))
            .order_by("id")
        ):
            done.append(lot.id)
            yield lot.id, lot.remaining
    while True:
        # Hand-built: the ORM's query building cost more than the query on
        # every redemption. Lots handed out are excluded rather than skipped
        # by an offset: consuming them changes which rows the filter matches.
        excluded = f" AND id NOT IN ({', '.join('?' * len(done))})" if done else ""
        page = await conn.execute_query_dict(
            numbered(
                conn,
                "SELECT id, remaining FROM points_lot WHERE brand_id = ? AND account_id = ? "
                f"AND status = 'available' AND remaining > 0{excluded} "
                f"ORDER BY expires_at IS NULL, expires_at, earned_at, id LIMIT {PAGE}",
            ),
            [scope.brand_id, account_id, *done],
        )
        for row in page:
            done.append(row["id"])
            yield row["id"], row["remaining"]
        if len(page) < PAGE:
            break


async def consume(
    conn: Any, scope: BrandScope, account_id: int, amount: int, first: Sequence[int] = ()
) -> int:
    """Take ``amount`` points from the account's available lots; returns how many
    the lots held (less than ``amount`` only when the balance was below it)."""
    left = amount
    async for lot_id, remaining in _available(conn, scope, account_id, first):
        if left == 0:
            break
        take = min(left, remaining)
        changed, _ = await conn.execute_query(
            numbered(
                conn,
                "UPDATE points_lot SET remaining = remaining - ? WHERE brand_id = ? AND id = ? "
                "AND status = 'available' AND remaining >= ?",
            ),
            [take, scope.brand_id, lot_id, take],
        )
        if changed != 1:
            raise LotsInconsistent(f"lot {lot_id} changed under a held account lock")
        left -= take
    return amount - left


def consume_sql(
    scope: BrandScope, account_id: int, amount: int, claimed: str | None = None
) -> tuple[str, list[Any]]:
    """CTEs that take ``amount`` points from the account's available lots in
    :func:`consume`'s order, for a caller to put in front of its own
    statement (PostgreSQL: a redemption's entry and its lots in one round
    trip). ``lots_take`` and ``lots_done`` hold the lots chosen and those
    the conditional update changed: they differ only when a lot did not
    hold what the locked account says (:class:`LotsInconsistent`). With
    ``claimed`` (a CTE of the caller's) nothing is taken unless it returned
    a row. Every lot holds at least one point, so no more than ``amount``
    are read."""
    only = f" AND EXISTS (SELECT 1 FROM {claimed})" if claimed else ""
    sql = (
        "lots_chosen AS (SELECT id, remaining, sum(remaining) OVER (ORDER BY expires_at IS NULL, "
        "expires_at, earned_at, id) - remaining AS before FROM (SELECT id, remaining, "
        "expires_at, earned_at FROM points_lot WHERE brand_id = ? AND account_id = ? "
        "AND status = 'available' AND remaining > 0 "
        "ORDER BY expires_at IS NULL, expires_at, earned_at, id LIMIT ?) AS available), "
        "lots_take AS (SELECT id, LEAST(remaining, ? - before) AS n FROM lots_chosen "
        f"WHERE before < ?{only}), "
        "lots_done AS (UPDATE points_lot SET remaining = points_lot.remaining - lots_take.n "
        "FROM lots_take WHERE points_lot.id = lots_take.id AND points_lot.status = 'available' "
        "AND points_lot.remaining >= lots_take.n RETURNING points_lot.id)"
    )
    return sql, [scope.brand_id, account_id, amount, amount, amount]


async def cancel_pending(
    conn: Any, scope: BrandScope, account_id: int, entry_ids: Sequence[int], amount: int
) -> int:
    """Cancel up to ``amount`` pending points of the lots of ``entry_ids``
    (a refund inside the return window); returns how many were cancelled."""
    lots = (
        await scope.query(PointsLot)
        .using_db(conn)
        .filter(account_id=account_id, entry_id__in=list(entry_ids), status="pending")
        .filter(remaining__gt=0)
        .order_by("id")
    )
    left = amount
    for lot in lots:
        if left == 0:
            break
        take = min(left, lot.remaining)
        query = (
            scope.query(PointsLot)
            .using_db(conn)
            .filter(id=lot.id, status="pending", remaining__gte=take)
        )
        if take == lot.remaining:
            changed = await query.update(remaining=0, status="cancelled")
        else:
            changed = await query.update(remaining=F("remaining") - take)
        if changed != 1:
            raise LotsInconsistent(f"lot {lot.id} changed under a held account lock")
        left -= take
    return amount - left


def remaining_of(amount: int, balance_after: int, pending: bool) -> int:
    """What a new lot of ``amount`` keeps: held points all of it; available
    points only what the balance shows above zero (they pay a debt first)."""
    return amount if pending else max(0, min(amount, balance_after))


def new_lot(
    scope: BrandScope,
    *,
    account_id: int,
    amount: int,
    balance_after: int,
    earned_at: datetime,
    expires_at: datetime | None,
    available_at: datetime | None = None,
) -> dict[str, Any]:
    """The columns of a lot for newly earned points, all but ``id`` and
    ``entry_id``: the ledger inserts it with its entry (in one statement on
    PostgreSQL)."""
    pending = available_at is not None
    return {
        "brand_id": scope.brand_id,
        "account_id": account_id,
        "amount": amount,
        "remaining": remaining_of(amount, balance_after, pending),
        "earned_at": earned_at.astimezone(UTC),
        "expires_at": None if expires_at is None else expires_at.astimezone(UTC),
        "status": "pending" if pending else "available",
        "available_at": None if available_at is None else available_at.astimezone(UTC),
        "warned_at": None,
    }
