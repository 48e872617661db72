"""Orders as a domain: storing a batch of cleaned orders with their lines and
statistics, and telling a replay from a conflict. Recording an order (member,
rewards, tiers, settling a checkout) is the pipeline above the domains,
:mod:`tessera.pipeline.orders`, which calls these.

Idempotency rests on the unique ``(brand_id, external_id)`` constraint, not on
a prior read: the order rows are the first writes of their transaction, so
when two identical calls race, one commits and the other fails on the
constraint, rolls back everything it did (member, statistics) and answers as
a replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise import connections

from tessera.errors import DomainError
from tessera.members.models import Member
from tessera.orders import stats
from tessera.orders.inputs import CleanOrder
from tessera.orders.models import Order, OrderLine
from tessera.reports.rollup import mark_orders_dirty
from tessera.scope import BrandScope
from tessera.uow import UnitOfWork

MAX_BATCH = 1000


@dataclass(frozen=True)
class OrderResult:
    """The stored order; ``replayed`` when it had been recorded before."""

    order: Order
    replayed: bool = False


async def insert_orders(
    scope: BrandScope, uow: UnitOfWork, rows: list[tuple[CleanOrder, int]]
) -> list[Order]:
    """Orders, their lines and the statistics, in the unit of work: one insert
    per table, whatever the number of orders."""
    if not rows:
        return []
    conn = uow.connection
    if len(rows) == 1:
        clean, member_id = rows[0]
        orders = [await scope.create(Order, using_db=conn, **order_values(clean, member_id))]
    else:
        # Plain rows, not model instances: validating a thousand instances
        # field by field cost more than writing them.
        now = datetime.now(UTC)
        values = [
            {
                **order_values(c, m),
                "brand_id": scope.brand_id,
                "refunded_amount": 0,
                "refunded_units": 0,
                "created_at": now,
            }
            for c, m in rows
        ]
        ids = await scope.insert_rows(Order, values, conn)
        orders = scope.loaded(Order, [{**v, "id": i} for v, i in zip(values, ids, strict=True)])
    lines = [
        {
            "order_id": order.id,
            "line_no": line.line_no,
            "sku": line.sku,
            "name": line.name,
            "category": line.category,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "retail_price": line.retail_price,
            "paid_amount": line.paid_amount,
        }
        for order, (clean, _) in zip(orders, rows, strict=True)
        for line in clean.lines
    ]
    await scope.copy_values(OrderLine, lines, conn)
    deltas: dict[int, stats.OrderDelta] = {}
    for order, (clean, member_id) in zip(orders, rows, strict=True):
        delta = deltas.get(member_id)
        if delta is None:
            deltas[member_id] = stats.OrderDelta(
                1, clean.amount_paid, order.units, clean.occurred_at, clean.occurred_at
            )
        else:
            delta.add(clean.amount_paid, order.units, clean.occurred_at)
        uow.emit(
            "order.recorded",
            order_id=order.id,
            external_id=order.external_id,
            member_id=member_id,
            amount_paid=clean.amount_paid,
            currency=scope.brand.currency,
            units=order.units,
            occurred_at=clean.occurred_at.isoformat(),
        )
    await stats.add_orders(scope, conn, deltas)
    await mark_orders_dirty(
        scope, conn, [(member_id, clean.occurred_at) for clean, member_id in rows]
    )
    return orders


async def recorded_orders(scope: BrandScope, external_ids: set[str]) -> dict[str, Order]:
    """The orders recorded with these external ids, by external id: one
    query, whatever their number, one index probe per id
    (:meth:`BrandScope.rows_by_key`), as the importer looks its batches up."""
    rows = await scope.rows_by_key(
        connections.get("default"), Order._meta.db_table, "external_id", external_ids
    )
    return {o.external_id: o for o in scope.loaded(Order, rows)}


def order_values(clean: CleanOrder, member_id: int) -> dict[str, Any]:
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


async def check_replay(
    existing: Order, clean: CleanOrder, path: list[str], by_identity: Member | None = None
) -> OrderResult:
    """The stored order when ``clean`` is what was recorded, else a conflict.
    ``by_identity`` is the member ``clean``'s identity names (looked up by
    the caller, for a whole batch at once), if it names one."""
    same = existing.fingerprint == clean.fingerprint
    if same:
        if clean.member.member_id is not None:
            same = clean.member.member_id == existing.member_id
        elif clean.member.identity is not None:
            same = by_identity is not None and by_identity.id == existing.member_id
    if not same:
        raise DomainError(
            "IDEMPOTENCY_CONFLICT",
            f"order {clean.external_id!r} was recorded before with other details",
            [*path, "externalId"],
        )
    return OrderResult(existing, replayed=True)
