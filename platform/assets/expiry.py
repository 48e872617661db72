"""Time passing over points: lots expire, held points are released, and
members hear a few days ahead that points are about to lapse.

Each sweep works one account per transaction (its row lock first, then its
lots), so a sweep running beside redemptions never loses an update, and a
failure leaves the accounts already done committed and the rest untouched.
Every sweep is safe to repeat: a lot is expired, released or warned about
once, by a conditional update on its status; a second run finds nothing due.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tessera.assets import accounts
from tessera.assets.accounts import Moved
from tessera.assets.lots import LotsInconsistent
from tessera.assets.models import LedgerEntry, PointsLot
from tessera.assets.policy import get_policy
from tessera.assets.service import POINTS, RESERVED_PREFIX, emit_changed
from tessera.idempotency import fingerprint
from tessera.scope import BrandScope
from tessera.uow import UnitOfWork, unit_of_work

BATCH = 500
# One lot: moves the locked account, writes the lot's entry; returns the points moved.
Step = Callable[[UnitOfWork, int, PointsLot], Awaitable[int]]


async def expire_due_lots(scope: BrandScope, now: datetime | None = None) -> int:
    """Expire every available lot whose ``expires_at`` has passed, writing one
    ``expire`` entry per lot with points left; returns how many points lapsed."""
    at = now or datetime.now(UTC)

    async def step(uow: UnitOfWork, member_id: int, lot: PointsLot) -> int:
        conn, scope = uow.connection, uow.scope
        moved = None
        if lot.remaining:
            moved = await accounts.change(
                conn, scope, member_id, POINTS, at, balance=-lot.remaining, floor=0
            )
            if moved is None:
                return await _expire_unreserved(uow, member_id, lot, at)
        if not await _claim(uow, lot, "available", status="expired", remaining=0):
            raise LotsInconsistent(f"lot {lot.id} changed under a held account lock")
        if moved is None:
            return 0
        await _lot_entry(uow, member_id, moved, lot, "expire", -lot.remaining, at)
        return lot.remaining

    return await _sweep(scope, "available", "expires_at", at, step)


async def release_due_pending(scope: BrandScope, now: datetime | None = None) -> int:
    """Make held points whose window has ended available, writing one
    ``release`` entry per lot; returns how many points were released."""
    at = now or datetime.now(UTC)

    async def step(uow: UnitOfWork, member_id: int, lot: PointsLot) -> int:
        moved = await accounts.change(
            uow.connection,
            uow.scope,
            member_id,
            POINTS,
            at,
            balance=lot.remaining,
            pending=-lot.remaining,
        )
        if moved is None:
            raise LotsInconsistent(f"lot {lot.id} holds more than its account's pending")
        # A balance in debt is paid first, as when points are earned.
        keep = max(0, min(lot.remaining, moved.balance))
        if not await _claim(uow, lot, "pending", status="available", remaining=keep):
            raise LotsInconsistent(f"lot {lot.id} changed under a held account lock")
        await _lot_entry(uow, member_id, moved, lot, "release", lot.remaining, at)
        return lot.remaining

    return await _sweep(scope, "pending", "available_at", at, step)


async def warn_expiring(scope: BrandScope, now: datetime | None = None) -> int:
    """Emit ``points.expiring_soon`` once per member for the lots that lapse
    within the brand's ``expiring_soon_days`` and were not warned about yet
    (payload: ``member_id``, ``points``, ``expires_at`` of the soonest lot,
    ``within_days``); returns how many members were warned."""
    at = now or datetime.now(UTC)
    policy = await get_policy(scope)
    horizon = at + timedelta(days=policy.expiring_soon_days)
    warned = 0
    while True:
        lots = (
            await scope.query(PointsLot)
            .filter(status="available", remaining__gt=0, warned_at__isnull=True)
            .filter(expires_at__gt=at, expires_at__lte=horizon)
            .order_by("account_id", "id")
            .limit(BATCH)
            .values("id", "remaining", "expires_at", "account__member_id")
        )
        if not lots:
            return warned
        async with unit_of_work(scope) as uow:
            # The claim makes a second sweep (or a retry) skip these lots.
            await (
                scope.query(PointsLot)
                .using_db(uow.connection)
                .filter(id__in=[lot["id"] for lot in lots], warned_at__isnull=True)
                .update(warned_at=at)
            )
            by_member: dict[int, list[dict[str, Any]]] = defaultdict(list)
            for lot in lots:
                by_member[lot["account__member_id"]].append(lot)
            for member_id, own in by_member.items():
                uow.emit(
                    "points.expiring_soon",
                    member_id=member_id,
                    points=sum(int(lot["remaining"]) for lot in own),
                    expires_at=min(lot["expires_at"] for lot in own).isoformat(),
                    within_days=policy.expiring_soon_days,
                )
        warned += len(by_member)


async def _sweep(scope: BrandScope, status: str, due_field: str, now: datetime, step: Step) -> int:
    due = {"status": status, f"{due_field}__lte": now}
    pairs = (
        await scope.query(PointsLot)
        .filter(**due)
        .distinct()
        .values_list("account_id", "account__member_id")
    )
    moved = 0
    for account_id, member_id in sorted(set(pairs)):
        async with unit_of_work(scope) as uow:
            # The account's lock first: its lots cannot change until we commit.
            if await accounts.lock(uow.connection, scope, member_id, POINTS, now) is None:
                continue
            lots = (
                await scope.query(PointsLot)
                .using_db(uow.connection)
                .filter(account_id=account_id, **due)
                .order_by("id")
            )
            for lot in lots:
                moved += await step(uow, member_id, lot)
    return moved


async def _expire_unreserved(uow: UnitOfWork, member_id: int, lot: PointsLot, at: datetime) -> int:
    """Checkout holds reserve some of the points lapsing: only the rest lapse
    now. The lot stays due, so a sweep after the hold is released takes what
    it kept (a confirmed hold spends the lapsed lot first)."""
    conn, scope = uow.connection, uow.scope
    state = await accounts.lock(conn, scope, member_id, POINTS, at)
    if state is None:
        raise LotsInconsistent(f"lot {lot.id} has no account")
    take = max(0, min(lot.remaining, state.balance - state.reserved))
    if take == 0:
        return 0
    moved = await accounts.change(conn, scope, member_id, POINTS, at, balance=-take, floor=0)
    if moved is None or not await _claim(uow, lot, "available", remaining=lot.remaining - take):
        raise LotsInconsistent(f"lot {lot.id} changed under a held account lock")
    key = f"{RESERVED_PREFIX}expire:{lot.id}:{lot.remaining}"
    await _lot_entry(uow, member_id, moved, lot, "expire", -take, at, key=key)
    return take


async def _claim(uow: UnitOfWork, lot: PointsLot, current: str, **values: Any) -> bool:
    changed = (
        await uow.scope.query(PointsLot)
        .using_db(uow.connection)
        .filter(id=lot.id, status=current, remaining=lot.remaining)
        .update(**values)
    )
    return bool(changed == 1)


async def _lot_entry(
    uow: UnitOfWork,
    member_id: int,
    moved: Moved,
    lot: PointsLot,
    entry_type: str,
    amount: int,
    now: datetime,
    *,
    key: str | None = None,
) -> LedgerEntry:
    key = key or f"{RESERVED_PREFIX}{entry_type}:{lot.id}"
    entry = await uow.scope.create(
        LedgerEntry,
        using_db=uow.connection,
        account_id=moved.account_id,
        member_id=member_id,
        kind=POINTS,
        entry_type=entry_type,
        amount=amount,
        balance_after=moved.balance,
        reason=f"points lot {lot.id} {'expired' if entry_type == 'expire' else 'released'}",
        source_type="points_lot",
        source_ref=str(lot.id),
        idempotency_key=key,
        fingerprint=fingerprint(key),
        actor=str(uow.scope.actor),
        occurred_at=now,
    )
    emit_changed(uow, entry, moved)
    return entry
