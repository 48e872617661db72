"""Recording orders, one at a time or in batches.

Idempotency rests on the unique ``(brand_id, external_id)`` constraint, not on
a prior read: the order row is the first write of its transaction, so when two
identical calls race, one commits and the other fails on the constraint, rolls
back everything it did (member, statistics) and answers as a replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from tessera.checkout.settle import needs_settling, settle_order
from tessera.errors import DomainError
from tessera.members.models import Member
from tessera.members.service import find_by_identity, member_for_fact
from tessera.orders import stats
from tessera.orders.inputs import CleanOrder, MemberRef, OrderInput, clean_order, nest_error
from tessera.orders.models import Order, OrderLine
from tessera.rewards.orders import reward_orders
from tessera.rewards.pipeline import RewardsFailed
from tessera.scope import BrandScope
from tessera.uow import UnitOfWork, unit_of_work

MAX_BATCH = 1000


@dataclass(frozen=True)
class OrderResult:
    """The stored order; ``replayed`` when it had been recorded before."""

    order: Order
    replayed: bool = False


async def record_order(
    scope: BrandScope, order: OrderInput, *, now: datetime | None = None
) -> OrderResult:
    """Record ``order`` with its lines and count it into the member's statistics.

    Replaying an ``external_id`` returns the stored order unchanged; the same
    ``external_id`` with other details raises ``IDEMPOTENCY_CONFLICT``.
    """
    clean = clean_order(order, scope.brand.currency, now or datetime.now(UTC), [])
    existing = await scope.query(Order).get_or_none(external_id=clean.external_id)
    if existing is not None:
        return await _replay(scope, existing, clean, [])
    try:
        async with unit_of_work(scope) as uow:
            member = await _member(scope, uow, clean.member, clean.channel, [])
            stored = await _insert(scope, uow, [(clean, member.id)])
    except IntegrityError:
        existing = await scope.query(Order).get_or_none(external_id=clean.external_id)
        if existing is None:
            raise
        return await _replay(scope, existing, clean, [])
    return OrderResult(stored[0])


async def record_orders(
    scope: BrandScope, orders: list[OrderInput], *, now: datetime | None = None
) -> list[OrderResult | DomainError]:
    """Record up to :data:`MAX_BATCH` orders; each item succeeds or fails on its
    own, and its errors name ``["orders", index, ...]``.

    The valid new items are written together with bulk inserts in one
    transaction; should that transaction fail (a concurrent writer took an
    ``external_id``), each of them is retried on its own.
    """
    if len(orders) > MAX_BATCH:
        raise DomainError("BATCH_TOO_LARGE", f"a batch has at most {MAX_BATCH} orders", ["orders"])
    now = now or datetime.now(UTC)
    results: list[OrderResult | DomainError | None] = [None] * len(orders)
    cleaned: dict[int, CleanOrder] = {}
    for i, order in enumerate(orders):
        try:
            cleaned[i] = clean_order(order, scope.brand.currency, now, ["orders", str(i)])
        except DomainError as error:
            results[i] = error

    existing = {
        o.external_id: o
        for o in await scope.query(Order).filter(
            external_id__in={c.external_id for c in cleaned.values()}
        )
    }
    fresh: dict[int, CleanOrder] = {}
    later: list[int] = []  # repeats of an external id earlier in this batch
    seen: set[str] = set()
    for i, clean in cleaned.items():
        if clean.external_id in existing:
            results[i] = await _try_replay(scope, existing[clean.external_id], clean, i)
        elif clean.external_id in seen or needs_settling(clean):
            # Repeats wait for the first; an order that uses coupons or a hold
            # may be refused for them, so it goes alone, not failing the rest.
            later.append(i)
        else:
            seen.add(clean.external_id)
            fresh[i] = clean

    try:
        await _record_together(scope, fresh, results)
    except (IntegrityError, RewardsFailed):
        for i in fresh:
            results[i] = await _record_alone(scope, orders[i], now, i)
    for i in later:
        results[i] = await _record_alone(scope, orders[i], now, i)
    return [r for r in results if r is not None]


async def _record_together(
    scope: BrandScope, fresh: dict[int, CleanOrder], results: list[Any]
) -> None:
    if not fresh:
        return
    active = {
        m_id
        for m_id, status in await scope.query(Member)
        .filter(id__in={c.member.member_id for c in fresh.values() if c.member.member_id})
        .values_list("id", "status")
        if status == "active"
    }
    async with unit_of_work(scope) as uow:
        rows: list[tuple[CleanOrder, int]] = []
        positions: list[int] = []
        for i, clean in fresh.items():
            path = ["orders", str(i)]
            member_id = clean.member.member_id
            if member_id is None or member_id not in active:
                try:
                    member_id = (await _member(scope, uow, clean.member, clean.channel, path)).id
                except DomainError as error:
                    results[i] = error
                    continue
            rows.append((clean, member_id))
            positions.append(i)
        stored = await _insert(scope, uow, rows)
    for i, order in zip(positions, stored, strict=True):
        results[i] = OrderResult(order)


async def _record_alone(
    scope: BrandScope, order: OrderInput, now: datetime, index: int
) -> OrderResult | DomainError:
    try:
        return await record_order(scope, order, now=now)
    except DomainError as error:
        return nest_error(error, ["orders", str(index)])


async def _try_replay(
    scope: BrandScope, existing: Order, clean: CleanOrder, index: int
) -> OrderResult | DomainError:
    try:
        return await _replay(scope, existing, clean, ["orders", str(index)])
    except DomainError as error:
        return error


async def _insert(
    scope: BrandScope, uow: UnitOfWork, rows: list[tuple[CleanOrder, int]]
) -> list[Order]:
    """Orders, their lines and the statistics, in the unit of work: one insert
    per table, whatever the number of orders."""
    if not rows:
        return []
    conn = uow.connection
    if len(rows) == 1:
        clean, member_id = rows[0]
        orders = [await scope.create(Order, using_db=conn, **_order_values(clean, member_id))]
    else:
        orders = [scope.build(Order, **_order_values(c, m)) for c, m in rows]
        await scope.insert_many(Order, orders, conn)
        # Only the new ids come back: the rest of each row is already in hand.
        ids = dict(
            await scope.query(Order)
            .using_db(conn)
            .filter(external_id__in=[c.external_id for c, _ in rows])
            .values_list("external_id", "id")
        )
        for order in orders:
            order.id = ids[order.external_id]
    lines = [
        scope.build(
            OrderLine,
            order_id=order.id,
            line_no=line.line_no,
            sku=line.sku,
            name=line.name,
            category=line.category,
            quantity=line.quantity,
            unit_price=line.unit_price,
            retail_price=line.retail_price,
            paid_amount=line.paid_amount,
        )
        for order, (clean, _) in zip(orders, rows, strict=True)
        for line in clean.lines
    ]
    await scope.insert_many(OrderLine, lines, conn)
    deltas: dict[int, stats.OrderDelta] = {}
    for order, (clean, member_id) in zip(orders, rows, strict=True):
        delta = deltas.get(member_id)
        if delta is None:
            deltas[member_id] = stats.OrderDelta(
                1, clean.amount_paid, clean.units, clean.occurred_at, clean.occurred_at
            )
        else:
            delta.add(clean.amount_paid, clean.units, clean.occurred_at)
        uow.emit(
            "order.recorded",
            order_id=order.id,
            external_id=order.external_id,
            member_id=member_id,
            amount_paid=clean.amount_paid,
            currency=scope.brand.currency,
            units=clean.units,
            occurred_at=clean.occurred_at.isoformat(),
        )
    await stats.add_orders(scope, conn, deltas)
    for order, (clean, _) in zip(orders, rows, strict=True):
        if needs_settling(clean):
            await settle_order(scope, uow, order, clean)
    await reward_orders(scope, uow, [(o, c) for o, (c, _) in zip(orders, rows, strict=True)])
    return orders


def _order_values(clean: CleanOrder, member_id: int) -> dict[str, Any]:
    return {
        "member_id": member_id,
        "external_id": clean.external_id,
        "store_code": clean.store_code,
        "channel": clean.channel,
        "occurred_at": clean.occurred_at,
        "amount_paid": clean.amount_paid,
        "retail_amount": clean.retail_amount,
        "discount": clean.discount,
        "coupon_codes": clean.coupon_codes,
        "units": clean.units,
        "fingerprint": clean.fingerprint,
    }


async def _member(
    scope: BrandScope, uow: UnitOfWork, ref: MemberRef, channel: str | None, path: list[str]
) -> Member:
    try:
        return await member_for_fact(
            scope,
            uow,
            member_id=ref.member_id,
            identity=ref.identity,
            join_channel=channel,
        )
    except DomainError as error:
        raise nest_error(
            error, path, member_field="memberId" if ref.member_id else "identity"
        ) from None


async def _replay(
    scope: BrandScope, existing: Order, clean: CleanOrder, path: list[str]
) -> OrderResult:
    """The stored order when ``clean`` is what was recorded, else a conflict."""
    same = existing.fingerprint == clean.fingerprint
    if same:
        if clean.member.member_id is not None:
            same = clean.member.member_id == existing.member_id
        elif clean.member.identity is not None:
            kind, value = clean.member.identity
            found = await find_by_identity(scope, kind, value)
            same = found is not None and found.id == existing.member_id
    if not same:
        raise DomainError(
            "IDEMPOTENCY_CONFLICT",
            f"order {clean.external_id!r} was recorded before with other details",
            [*path, "externalId"],
        )
    return OrderResult(existing, replayed=True)
