"""What an order settles in its own transaction: the coupons it names and the
hold it confirms. Called by the orders service inside the order's unit of
work, so the order and every coupon and point it uses commit or roll back
together: a code that cannot be used refuses the whole order, naming its
place in ``couponCodes``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tessera.assets.service import redeem_reserved_points
from tessera.checkout.holds import _no_hold, coupons_of, not_open
from tessera.checkout.models import RewardHold
from tessera.coupons import codes
from tessera.coupons.models import Coupon, CouponRedemption
from tessera.coupons.redemption import check_order, check_usable, order_value, take_coupon
from tessera.coupons.templates import discount_for
from tessera.errors import DomainError
from tessera.orders.inputs import CleanOrder
from tessera.orders.models import Order
from tessera.rewards.redemption import SOURCE as REDEMPTION_SOURCE
from tessera.scope import BrandScope
from tessera.uow import UnitOfWork


def needs_settling(clean: CleanOrder) -> bool:
    return clean.hold_id is not None or (clean.redeem_coupons and bool(clean.coupon_codes))


async def settle_order(
    scope: BrandScope, uow: UnitOfWork, order: Order, clean: CleanOrder, now: datetime | None = None
) -> None:
    """Confirm ``clean.hold_id`` (its points become a ``redeem`` entry against
    the order, its coupons are redeemed on it), then redeem the other
    ``couponCodes`` on it, judged at the order's time."""
    now = now or datetime.now(UTC)
    settled: set[int] = set()
    if clean.hold_id is not None:
        settled = await _confirm_hold(scope, uow, order, clean.hold_id, now)
    if clean.redeem_coupons and clean.coupon_codes:
        await _redeem_codes(scope, uow, order, clean, settled)


async def _confirm_hold(
    scope: BrandScope, uow: UnitOfWork, order: Order, hold_id: int, now: datetime
) -> set[int]:
    conn = uow.connection
    hold = await scope.query(RewardHold).using_db(conn).get_or_none(id=hold_id)
    if hold is None or hold.member_id != order.member_id:
        raise _no_hold()
    claimed = await (
        scope.query(RewardHold)
        .using_db(conn)
        .filter(id=hold.id, status="held", expires_at__gt=now)
        .update(status="confirmed", order_id=order.id, settled_at=now)
    )
    if not claimed:
        fresh = await scope.query(RewardHold).using_db(conn).get(id=hold.id)
        raise not_open(fresh)
    if hold.points:
        await redeem_reserved_points(
            scope,
            hold.member_id,
            hold.points,
            idempotency_key=f"hold:{hold.id}:points",
            reason=f"held for order {order.external_id}",
            source_type=REDEMPTION_SOURCE,
            source_ref=str(order.id),
            now=now,
            uow=uow,
        )
    used = set()
    for held in await coupons_of(scope, hold.id, conn):
        coupon = held.coupon
        await _redeem(
            uow,
            coupon,
            order,
            order_amount=hold.order_amount or order.amount_paid,
            discount=held.discount,
            key=f"hold:{hold.id}:coupon:{coupon.id}",
            status="held",
            now=now,
        )
        used.add(coupon.id)
    uow.emit(
        "rewards.confirmed",
        hold_id=hold.id,
        member_id=hold.member_id,
        order_id=order.id,
        points=hold.points,
        coupon_ids=sorted(used),
    )
    return used


@dataclass(frozen=True)
class CouponUse:
    """A code of an order as it will be settled: the coupon, what it takes
    off, and ``linked`` when ``redeemCoupon`` already used it on this order
    (by its external id) before the order was recorded."""

    coupon: Coupon
    discount: int
    order_amount: int
    field: list[str]
    linked: bool = False


async def check_codes(
    scope: BrandScope,
    member_id: int,
    clean: CleanOrder,
    *,
    settled: Collection[int] = (),
    conn: Any = None,
) -> list[CouponUse]:
    """Every code of ``clean.coupon_codes`` checked for ``member_id`` at the
    order's time, without writing; refuses the first that cannot be used,
    naming ``["couponCodes", i]``. Coupons in ``settled`` (a confirmed hold's)
    are left out."""
    wanted = [codes.normalise(c) for c in clean.coupon_codes]
    found = {
        c.code: c
        for c in await scope.query(Coupon)
        .using_db(conn)
        .filter(code__in=[w for w in wanted if w])
        .select_related("template")
    }
    value = order_value(
        clean.amount_paid, [(x.quantity, x.unit_price, x.category) for x in clean.lines]
    )
    at = clean.occurred_at
    uses: list[CouponUse] = []
    seen: set[int] = set()
    for i, code in enumerate(wanted):
        field = ["couponCodes", str(i)]
        coupon = found.get(code) if code else None
        # Another member's coupon reads as a missing one (see coupons.redemption).
        if coupon is None or coupon.member_id != member_id:
            raise DomainError("NOT_FOUND", "no such coupon for this member", field)
        if coupon.id in seen:
            raise DomainError("DUPLICATE", "this coupon is already in the list", field)
        seen.add(coupon.id)
        if coupon.id in settled:
            continue
        if coupon.status == "redeemed" and await _redeemed_at_checkout(
            scope, conn, coupon, member_id, clean.external_id
        ):
            uses.append(CouponUse(coupon, 0, value.amount, field, linked=True))
            continue
        try:
            check_usable(coupon, coupon.template, at)
            check_order(coupon.template, value, scope.brand.currency)
        except DomainError as error:
            raise DomainError(error.code, error.message, field) from None
        uses.append(
            CouponUse(coupon, discount_for(coupon.template, value.amount), value.amount, field)
        )
    return uses


async def _redeem_codes(
    scope: BrandScope, uow: UnitOfWork, order: Order, clean: CleanOrder, settled: set[int]
) -> None:
    uses = await check_codes(scope, order.member_id, clean, settled=settled, conn=uow.connection)
    for use in uses:
        if use.linked:
            await _link(scope, uow, use.coupon, order)
            continue
        await _redeem(
            uow,
            use.coupon,
            order,
            order_amount=use.order_amount,
            discount=use.discount,
            key=f"order:{order.id}:coupon:{use.coupon.id}",
            status="available",
            now=clean.occurred_at,
            field=use.field,
        )


async def _redeemed_at_checkout(
    scope: BrandScope, conn: Any, coupon: Coupon, member_id: int, external_id: str
) -> bool:
    return bool(
        await scope.query(CouponRedemption)
        .using_db(conn)
        .filter(
            coupon_id=coupon.id,
            member_id=member_id,
            order_id=None,
            external_order_id=external_id,
            restored_at=None,
        )
        .exists()
    )


async def _link(scope: BrandScope, uow: UnitOfWork, coupon: Coupon, order: Order) -> None:
    """Point a redemption made by external order id at the order now recorded."""
    await (
        scope.query(CouponRedemption)
        .using_db(uow.connection)
        .filter(
            coupon_id=coupon.id,
            member_id=order.member_id,
            order_id=None,
            external_order_id=order.external_id,
            restored_at=None,
        )
        .update(order_id=order.id)
    )


async def _redeem(
    uow: UnitOfWork,
    coupon: Coupon,
    order: Order,
    *,
    order_amount: int,
    discount: int,
    key: str,
    status: str,
    now: datetime,
    field: list[str] | None = None,
) -> None:
    await take_coupon(
        uow,
        coupon,
        order_id=order.id,
        external_order_id=order.external_id,
        order_amount=order_amount,
        discount=discount,
        key=key,
        print_=key,
        now=now,
        status=status,
        field=field,
    )
