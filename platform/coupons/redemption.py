"""Redeeming a coupon against an order, putting it back when that order is
fully refunded, and finding which coupons an order could use.

A redemption is one transaction: the redemption row first (unique on
``(brand, idempotency_key)``, so a replayed key answers with the first
result), then ``status = 'redeemed' WHERE status = 'available'`` and inside
the window. Two redemptions of one coupon race on that update; exactly one
changes a row, the other is refused and rolls back. A call refused for any
reason looks its key up once more before answering: a concurrent retry of the
same key that applied it meanwhile is its result, not "already redeemed".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from tessera.coupons import codes
from tessera.coupons.models import Coupon, CouponRedemption, CouponTemplate
from tessera.coupons.templates import discount_for
from tessera.coupons.work import connection_of
from tessera.errors import DomainError
from tessera.idempotency import conflict, fingerprint, stored_key
from tessera.members.models import Member
from tessera.members.profile import MemberStatus
from tessera.orders.models import Order, OrderLine
from tessera.orders.money import MAX_MINOR, from_minor
from tessera.scope import BrandScope
from tessera.uow import UnitOfWork, unit_of_work

MAX_EXTERNAL_ID = 128


@dataclass(frozen=True)
class RedeemResult:
    """The coupon as now stored, its redemption, and ``replayed`` when the
    idempotency key had been redeemed before (nothing changed)."""

    coupon: Coupon
    redemption: CouponRedemption
    replayed: bool = False


@dataclass(frozen=True)
class OrderValue:
    """What a coupon is judged against: the amount, the categories bought, and
    the input field an order-level refusal names."""

    amount: int
    categories: frozenset[str] | None  # None: unknown, so no category check applies
    field: str


async def redeem_coupon(
    scope: BrandScope,
    *,
    code: str,
    member_id: int | None,
    idempotency_key: str | None,
    order_id: int | None = None,
    order_amount: int | None = None,
    external_order_id: str | None = None,
    categories: Sequence[str] | None = None,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> RedeemResult:
    """Use ``code`` (held by ``member_id``) on a recorded order (``order_id``)
    or on one a checkout is about to place (``order_amount`` in minor units,
    optionally its ``external_order_id`` and item ``categories``).

    Checks, each refusing with the field at fault: the coupon exists in this
    brand and is the member's (``NOT_FOUND`` either way), is available, inside
    its window in the brand's timezone, its template active, and the order
    reaches the minimum spend and has an item of the template's categories.
    """
    key = idempotency_key_of(idempotency_key)
    now = now or datetime.now(UTC)
    stored_code = codes.normalise(code or "")
    if (order_id is None) == (order_amount is None):
        raise DomainError("INVALID", "give exactly one of orderId and orderAmount", ["orderId"])
    if order_amount is not None and not 0 <= order_amount <= MAX_MINOR:
        raise DomainError("INVALID_AMOUNT", "orderAmount must not be negative", ["orderAmount"])
    external = (external_order_id or "").strip() or None
    if external is not None and order_id is not None:
        raise DomainError("INVALID", "externalOrderId goes with orderAmount", ["externalOrderId"])
    if external is not None and len(external) > MAX_EXTERNAL_ID:
        raise DomainError("TOO_LONG", f"at most {MAX_EXTERNAL_ID} characters", ["externalOrderId"])
    print_ = fingerprint(
        {
            "code": stored_code or code,
            "member": member_id,
            "order": order_id,
            "amount": order_amount,
            "external": external,
            "categories": sorted(set(categories)) if categories is not None else None,
        }
    )
    conn = connection_of(uow)
    replay = await _replayed(scope, conn, key, print_)
    if replay is not None:
        return replay

    try:
        return await _redeem(
            scope,
            conn,
            uow,
            key=key,
            print_=print_,
            code=stored_code,
            member_id=member_id,
            order_id=order_id,
            order_amount=order_amount,
            external=external,
            categories=categories,
            now=now,
        )
    except (IntegrityError, DomainError):
        # A concurrent call with this key may have applied it after our first
        # look: its result wins over our refusal (the coupon now reads redeemed)
        # or our unique-key violation.
        replay = await _replayed(scope, conn, key, print_)
        if replay is None:
            raise
        return replay


async def _redeem(
    scope: BrandScope,
    conn: Any,
    uow: UnitOfWork | None,
    *,
    key: str,
    print_: str,
    code: str | None,
    member_id: int | None,
    order_id: int | None,
    order_amount: int | None,
    external: str | None,
    categories: Sequence[str] | None,
    now: datetime,
) -> RedeemResult:
    coupon = await _owned_coupon(scope, conn, code, member_id)
    await check_may_redeem(scope, coupon.member_id, conn)
    order = await _order(scope, conn, coupon.member_id, order_id, order_amount, categories)
    template = coupon.template
    check_usable(coupon, template, now)
    check_order(template, order, scope.brand.currency)
    discount = discount_for(template, order.amount)
    async with unit_of_work(scope, uow) as work:
        try:
            redemption = await take_coupon(
                work,
                coupon,
                order_id=order_id,
                external_order_id=external,
                order_amount=order.amount,
                discount=discount,
                key=key,
                print_=print_,
                now=now,
                field=["code"],
            )
        except DomainError:
            # Say what changed when it is something the member can see.
            fresh = await scope.query(Coupon).using_db(work.connection).get(id=coupon.id)
            check_usable(fresh, template, now)
            raise
    return RedeemResult(coupon, redemption)


async def check_may_redeem(scope: BrandScope, member_id: int, conn: Any = None) -> None:
    """Refuses a member who is not active (or a prospect), or not found."""
    status = next(
        iter(
            await scope.query(Member)
            .using_db(conn)
            .filter(id=member_id)
            .values_list("status", flat=True)
        ),
        None,
    )
    if status is None:
        raise DomainError("NOT_FOUND", "no such member", ["memberId"])
    if status not in (MemberStatus.ACTIVE.value, MemberStatus.PROSPECT.value):
        raise DomainError("MEMBER_INACTIVE", f"a {status} member cannot redeem", ["memberId"])


async def take_coupon(
    uow: UnitOfWork,
    coupon: Coupon,
    *,
    order_id: int | None,
    external_order_id: str | None,
    order_amount: int,
    discount: int,
    key: str,
    print_: str,
    now: datetime,
    status: str = "available",
    field: list[str] | None = None,
) -> CouponRedemption:
    """The write every redemption makes, in the caller's unit of work: the
    coupon moves from ``status`` to redeemed by one conditional update (a
    concurrent redemption, expiry or hold makes it refuse with ``CONFLICT``,
    naming ``field``), its redemption row, and ``coupon.redeemed``."""
    scope, conn = uow.scope, uow.connection
    query = scope.query(Coupon).using_db(conn).filter(id=coupon.id, status=status)
    if status == "available":
        query = query.filter(valid_from__lte=now, expires_at__gt=now)
    if not await query.update(status="redeemed", redeemed_at=now):
        raise DomainError("CONFLICT", "the coupon changed meanwhile; try again", field)
    redemption = await scope.create(
        CouponRedemption,
        using_db=conn,
        coupon_id=coupon.id,
        member_id=coupon.member_id,
        order_id=order_id,
        external_order_id=external_order_id,
        order_amount=order_amount,
        discount=discount,
        idempotency_key=key,
        fingerprint=print_,
        actor=str(scope.actor)[:100],
        redeemed_at=now,
    )
    uow.emit(
        "coupon.redeemed",
        coupon_id=coupon.id,
        code=coupon.code,
        template_id=coupon.template_id,
        member_id=coupon.member_id,
        redemption_id=redemption.id,
        order_id=order_id,
        external_order_id=external_order_id,
        discount=discount,
        currency=scope.brand.currency,
    )
    coupon.status, coupon.redeemed_at = "redeemed", now
    return redemption


def idempotency_key_of(value: str | None) -> str:
    return stored_key((value or "").strip())


async def _replayed(scope: BrandScope, conn: Any, key: str, print_: str) -> RedeemResult | None:
    found = (
        await scope.query(CouponRedemption)
        .using_db(conn)
        .select_related("coupon__template")
        .get_or_none(idempotency_key=key)
    )
    if found is None:
        return None
    if found.fingerprint != print_:
        raise conflict()
    return RedeemResult(found.coupon, found, replayed=True)


async def _owned_coupon(
    scope: BrandScope, conn: Any, code: str | None, member_id: int | None
) -> Coupon:
    coupon = None
    if code is not None and member_id is not None:
        coupon = (
            await scope.query(Coupon)
            .using_db(conn)
            .select_related("template")
            .get_or_none(code=code)
        )
    # Another member's coupon reads exactly as a missing one: a code must not
    # be a way to learn that someone else holds it.
    if coupon is None or coupon.member_id != member_id:
        raise DomainError("NOT_FOUND", "no such coupon for this member", ["code"])
    return coupon


async def _order(
    scope: BrandScope,
    conn: Any,
    member_id: int,
    order_id: int | None,
    amount: int | None,
    categories: Sequence[str] | None,
) -> OrderValue:
    if order_id is None:
        known = frozenset(c.strip() for c in categories) if categories is not None else None
        return OrderValue(amount or 0, known, "orderAmount")
    order = await scope.query(Order).using_db(conn).get_or_none(id=order_id)
    if order is None or order.member_id != member_id:
        raise DomainError("NOT_FOUND", "no such order of this member", ["orderId"])
    lines = (
        await scope.query(OrderLine)
        .using_db(conn)
        .filter(order_id=order.id)
        .values_list("quantity", "unit_price", "category")
    )
    return order_value(order.amount_paid, lines)


def order_value(amount_paid: int, lines: Iterable[tuple[int, int, str | None]]) -> OrderValue:
    """A recorded order as a coupon sees it: its goods at deal prices (the sum
    the minimum spend is meant for, before order-level discounts and coupons),
    or what was paid when it has no lines; and the categories of its items."""
    lines = list(lines)
    if not lines:
        return OrderValue(amount_paid, None, "orderId")
    amount = sum(q * price for q, price, _ in lines)
    return OrderValue(amount, frozenset(c for *_, c in lines if c), "orderId")


def check_usable(coupon: Coupon, template: CouponTemplate, now: datetime) -> None:
    """Refuse a coupon that is not available right now (``code`` at fault)."""
    if coupon.status == "redeemed":
        raise DomainError("COUPON_REDEEMED", "this coupon was already used", ["code"])
    if coupon.status == "voided":
        raise DomainError("COUPON_VOIDED", "this coupon was voided", ["code"])
    if coupon.status == "held":
        raise DomainError("COUPON_HELD", "this coupon is held for a checkout", ["code"])
    if now >= coupon.expires_at:
        raise DomainError("COUPON_EXPIRED", "this coupon has expired", ["code"])
    if now < coupon.valid_from:
        raise DomainError("COUPON_NOT_YET_VALID", "this coupon is not valid yet", ["code"])
    if not template.active:
        raise DomainError("TEMPLATE_INACTIVE", "coupons of this kind are paused", ["code"])


def check_order(template: CouponTemplate, order: OrderValue, currency: str) -> None:
    if order.amount < template.min_spend:
        raise DomainError(
            "BELOW_MINIMUM_SPEND",
            f"this coupon needs an order of at least {from_minor(template.min_spend, currency)} "
            f"{currency}",
            [order.field],
        )
    if (
        template.categories
        and order.categories is not None
        and not order.categories & set(template.categories)
    ):
        raise DomainError(
            "NOT_APPLICABLE",
            "this coupon applies only to: " + ", ".join(template.categories),
            ["categories" if order.field == "orderAmount" else "orderId"],
        )


async def restore_coupons_for_order(
    scope: BrandScope, order_id: int, uow: UnitOfWork
) -> list[Coupon]:
    """Put back the coupons used on ``order_id`` (redeemed on it directly, or
    by its external id before it was recorded), in the caller's transaction.
    Call it when the order becomes fully refunded. Each comes back available;
    one past its window then reads as expired. Runs once per redemption."""
    conn = uow.connection
    order = await scope.query(Order).using_db(conn).get_or_none(id=order_id)
    if order is None:
        return []
    redemptions = await (
        scope.query(CouponRedemption)
        .using_db(conn)
        .filter(
            Q(order_id=order.id) | Q(order_id=None, external_order_id=order.external_id),
            member_id=order.member_id,
            restored_at=None,
        )
        .order_by("id")
    )
    now = datetime.now(UTC)
    restored = []
    for redemption in redemptions:
        claimed = await (
            scope.query(CouponRedemption)
            .using_db(conn)
            .filter(id=redemption.id, restored_at=None)
            .update(restored_at=now, order_id=order.id)
        )
        if not claimed:
            continue
        await (
            scope.query(Coupon)
            .using_db(conn)
            .filter(id=redemption.coupon_id, status="redeemed")
            .update(status="available", redeemed_at=None)
        )
        coupon = await scope.query(Coupon).using_db(conn).get(id=redemption.coupon_id)
        restored.append(coupon)
        uow.emit(
            "coupon.restored",
            coupon_id=coupon.id,
            member_id=coupon.member_id,
            order_id=order.id,
            redemption_id=redemption.id,
            expired=coupon.expires_at <= now,
        )
    return restored


async def applicable_coupons(
    scope: BrandScope,
    member_id: int,
    order_amount: int,
    categories: Iterable[str] | None,
    now: datetime,
) -> list[Coupon]:
    """The member's coupons an order of ``order_amount`` (minor units) with
    items of ``categories`` (None: unknown, not checked) could use at ``now``,
    soonest-expiring first; each has ``template`` loaded (its discount:
    :func:`tessera.coupons.templates.discount_for`). Reads only."""
    known = frozenset(categories) if categories is not None else None
    found = await (
        scope.query(Coupon)
        .filter(
            member_id=member_id,
            status="available",
            valid_from__lte=now,
            expires_at__gt=now,
            template__active=True,
            template__min_spend__lte=order_amount,
        )
        .select_related("template")
        .order_by("expires_at", "id")
    )
    return [
        c
        for c in found
        if not (
            c.template.categories and known is not None and not known & set(c.template.categories)
        )
    ]
