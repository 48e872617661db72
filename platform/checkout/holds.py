"""Holds: a checkout reserves points and coupons, then an order confirms them
or they are given back (released by the shop, or expired by the sweep).

Reserving is one transaction: the hold row first (unique on
``(brand, idempotency_key)``, so a replayed key answers with the first
hold), then ``reserved = reserved + n`` on the points account only while
``balance - reserved`` covers it, then each coupon's
``status = 'held' WHERE status = 'available'``. Two checkouts racing for the
same points or coupon both run these updates; the database lets exactly the
ones that fit through and the others roll back whole.

Held points stay in the balance (balance = sum of entries is untouched):
every spend checks ``balance - reserved`` (:mod:`tessera.assets.accounts`),
so they cannot be spent elsewhere, and only the order that confirms the hold
turns them into a ``redeem`` entry (:mod:`tessera.checkout.settle`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError

from tessera.assets import accounts
from tessera.assets.models import AssetAccount
from tessera.checkout.models import HeldCoupon, RewardHold
from tessera.coupons import codes
from tessera.coupons.models import Coupon
from tessera.coupons.redemption import (
    MAX_EXTERNAL_ID,
    OrderValue,
    check_may_redeem,
    check_order,
    check_usable,
)
from tessera.coupons.templates import discount_for
from tessera.errors import DomainError
from tessera.idempotency import conflict, fingerprint, stored_key
from tessera.orders.inputs import MAX_COUPONS
from tessera.orders.money import MAX_MINOR
from tessera.rewards.redemption import cash_value, points_allowed, redemption_terms
from tessera.scope import BrandScope
from tessera.uow import UnitOfWork, unit_of_work

POINTS = "points"
DEFAULT_TTL = timedelta(minutes=15)
MIN_TTL = timedelta(minutes=1)
MAX_TTL = timedelta(hours=24)
SWEEP_BATCH = 200


@dataclass(frozen=True)
class HoldResult:
    """The hold as stored, its coupons (in the order given), and ``replayed``
    when the idempotency key had been used before (nothing changed)."""

    hold: RewardHold
    coupons: list[HeldCoupon]
    replayed: bool = False


@dataclass(frozen=True)
class HoldRequest:
    """What a checkout wants to reserve; ``order_amount`` is the cart's value
    in minor units (what minimum spends and the points share are checked on)."""

    member_id: int
    order_amount: int
    idempotency_key: str
    points: int = 0
    coupon_codes: tuple[str, ...] = ()
    categories: tuple[str, ...] | None = None
    external_order_id: str | None = None
    ttl: timedelta = DEFAULT_TTL


async def hold_rewards(
    scope: BrandScope, request: HoldRequest, *, now: datetime | None = None
) -> HoldResult:
    """Reserve ``request.points`` and the coupons of ``request.coupon_codes``
    for a checkout until ``now + request.ttl``. Refused, naming the field and
    changing nothing, when the member lacks the points (``INSUFFICIENT_POINTS``
    counts what other holds keep), a coupon is unknown or another member's
    (``NOT_FOUND``), used, voided, expired, held by another checkout
    (``COUPON_HELD``) or does not apply to the cart."""
    now = now or datetime.now(UTC)
    key = stored_key((request.idempotency_key or "").strip())
    _check_request(request)
    print_ = fingerprint(
        {
            "member": request.member_id,
            "points": request.points,
            "codes": [codes.normalise(c) or c for c in request.coupon_codes],
            "amount": request.order_amount,
            "categories": sorted(request.categories) if request.categories is not None else None,
            "external": request.external_order_id,
            "ttl": request.ttl.total_seconds(),
        }
    )
    replay = await _replayed(scope, key, print_)
    if replay is not None:
        return replay
    await check_may_redeem(scope, request.member_id)
    discount = await _points_value(scope, request)
    cart = OrderValue(
        request.order_amount,
        frozenset(request.categories) if request.categories is not None else None,
        "orderAmount",
    )
    coupons = await _coupons(scope, request, cart, now)
    discount += sum(d for _, d in coupons)
    try:
        async with unit_of_work(scope) as uow:
            hold = await scope.create(
                RewardHold,
                using_db=uow.connection,
                member_id=request.member_id,
                points=request.points,
                discount=discount,
                order_amount=request.order_amount,
                external_order_id=request.external_order_id,
                status="held",
                expires_at=now + request.ttl,
                idempotency_key=key,
                fingerprint=print_,
                actor=str(scope.actor)[:200],
                created_at=now,
            )
            if request.points:
                await _reserve_points(uow, request.member_id, request.points, now)
            held = await _hold_coupons(uow, hold, coupons, now)
            uow.emit(
                "rewards.held",
                hold_id=hold.id,
                member_id=hold.member_id,
                points=hold.points,
                coupon_ids=[h.coupon_id for h in held],
                expires_at=hold.expires_at.isoformat(),
            )
    except IntegrityError:
        replay = await _replayed(scope, key, print_)
        if replay is None:
            raise
        return replay
    return HoldResult(hold, held)


async def release_hold(
    scope: BrandScope, hold_id: int, *, idempotency_key_: str, now: datetime | None = None
) -> HoldResult:
    """Give a hold's points and coupons back. Replaying the key that released
    it returns it again; a hold confirmed by an order, expired or released
    under another key is refused (``HOLD_CONFIRMED``, ``HOLD_EXPIRED``,
    ``HOLD_RELEASED``)."""
    now = now or datetime.now(UTC)
    key = stored_key((idempotency_key_ or "").strip())
    hold = await scope.get(RewardHold, hold_id)
    if hold is None:
        raise _no_hold()
    if hold.status == "held":
        async with unit_of_work(scope) as uow:
            if await give_back(uow, hold, "released", now, release_key=key):
                return HoldResult(hold, await coupons_of(scope, hold.id))
        hold = await scope.query(RewardHold).get(id=hold_id)
    if hold.status == "released" and hold.release_key == key:
        return HoldResult(hold, await coupons_of(scope, hold.id), replayed=True)
    raise not_open(hold)


async def expire_due_holds(scope: BrandScope, now: datetime | None = None) -> int:
    """Give back every open hold whose expiry has passed, one hold per
    transaction; returns how many expired. Safe to repeat and to run beside
    checkouts: each hold is claimed by a conditional update on its status."""
    now = now or datetime.now(UTC)
    expired = 0
    while True:
        due = list(
            await scope.query(RewardHold)
            .filter(status="held", expires_at__lte=now)
            .order_by("expires_at", "id")
            .limit(SWEEP_BATCH)
        )
        for hold in due:
            async with unit_of_work(scope) as uow:
                expired += await give_back(uow, hold, "expired", now)
        if len(due) < SWEEP_BATCH:
            return expired


async def give_back(
    uow: UnitOfWork, hold: RewardHold, status: str, now: datetime, release_key: str | None = None
) -> bool:
    """Move an open hold to ``status`` (released or expired) and return its
    points and coupons, in ``uow``; False when it was no longer open."""
    scope, conn = uow.scope, uow.connection
    claimed = await (
        scope.query(RewardHold)
        .using_db(conn)
        .filter(id=hold.id, status="held")
        .update(status=status, settled_at=now, release_key=release_key)
    )
    if not claimed:
        return False
    if hold.points:
        moved = await accounts.change(
            conn, scope, hold.member_id, POINTS, now, reserved=-hold.points
        )
        if moved is None:
            raise RuntimeError(f"hold {hold.id}: its account reserves less than it held")
    coupon_ids = list(
        await scope.query(HeldCoupon)
        .using_db(conn)
        .filter(hold_id=hold.id)
        .values_list("coupon_id", flat=True)
    )
    if coupon_ids:
        await (
            scope.query(Coupon)
            .using_db(conn)
            .filter(id__in=coupon_ids, status="held")
            .update(status="available")
        )
    hold.status, hold.settled_at, hold.release_key = status, now, release_key
    uow.emit(
        f"rewards.{status}",
        hold_id=hold.id,
        member_id=hold.member_id,
        points=hold.points,
        coupon_ids=coupon_ids,
    )
    return True


async def coupons_of(scope: BrandScope, hold_id: int, conn: Any = None) -> list[HeldCoupon]:
    """A hold's coupons in the order given, each with ``coupon__template`` loaded."""
    return list(
        await scope.query(HeldCoupon)
        .using_db(conn)
        .filter(hold_id=hold_id)
        .select_related("coupon__template")
        .order_by("position")
    )


def not_open(hold: RewardHold, field: str = "holdId") -> DomainError:
    if hold.status == "confirmed":
        return DomainError("HOLD_CONFIRMED", "an order has used this hold", [field])
    if hold.status == "released":
        return DomainError("HOLD_RELEASED", "this hold was released", [field])
    return DomainError("HOLD_EXPIRED", "this hold has expired", [field])


def _no_hold(field: str = "holdId") -> DomainError:
    return DomainError("NOT_FOUND", "no such hold", [field])


def _check_request(request: HoldRequest) -> None:
    points = request.points
    if isinstance(points, bool) or not isinstance(points, int) or points < 0:
        raise DomainError("INVALID_AMOUNT", "must be zero or more", ["points"])
    if points > MAX_MINOR:
        raise DomainError("INVALID_AMOUNT", f"must be at most {MAX_MINOR}", ["points"])
    if not 0 <= request.order_amount <= MAX_MINOR:
        raise DomainError("INVALID_AMOUNT", "must not be negative", ["orderAmount"])
    if len(request.coupon_codes) > MAX_COUPONS:
        raise DomainError("TOO_MANY", f"at most {MAX_COUPONS} coupon codes", ["couponCodes"])
    if not points and not request.coupon_codes:
        raise DomainError("REQUIRED", "hold some points or at least one coupon", ["points"])
    if not MIN_TTL <= request.ttl <= MAX_TTL:
        raise DomainError(
            "INVALID",
            f"must be between {int(MIN_TTL.total_seconds())} and "
            f"{int(MAX_TTL.total_seconds())} seconds",
            ["expiresInSeconds"],
        )
    external = request.external_order_id
    if external is not None and len(external) > MAX_EXTERNAL_ID:
        raise DomainError("TOO_LONG", f"at most {MAX_EXTERNAL_ID} characters", ["externalOrderId"])


async def _replayed(scope: BrandScope, key: str, print_: str) -> HoldResult | None:
    found = await scope.query(RewardHold).get_or_none(idempotency_key=key)
    if found is None:
        return None
    if found.fingerprint != print_:
        raise conflict()
    return HoldResult(found, await coupons_of(scope, found.id), replayed=True)


async def _points_value(scope: BrandScope, request: HoldRequest) -> int:
    """What the held points take off the cart, under the brand's redemption terms."""
    if not request.points:
        return 0
    terms = await redemption_terms(scope)
    if terms is None:
        raise DomainError(
            "REDEMPTION_DISABLED", "this brand has no points-as-cash rule enabled", ["points"]
        )
    currency = scope.brand.currency
    if request.points < terms.min_points:
        raise DomainError(
            "BELOW_MINIMUM", f"at least {terms.min_points} points are used at a time", ["points"]
        )
    allowed = points_allowed(request.order_amount, terms, currency)
    if request.points > allowed:
        raise DomainError(
            "EXCEEDS_ORDER_SHARE",
            f"at most {terms.max_share_percent}% of this order may be paid with points: "
            f"{allowed} points",
            ["points"],
        )
    return cash_value(request.points, terms, currency)


async def _coupons(
    scope: BrandScope, request: HoldRequest, cart: OrderValue, now: datetime
) -> list[tuple[Coupon, int]]:
    """The coupons to hold with what each takes off the cart; refuses the
    first that cannot be held, naming its place in ``couponCodes``."""
    wanted = [codes.normalise(c or "") for c in request.coupon_codes]
    found = {
        c.code: c
        for c in await scope.query(Coupon)
        .filter(code__in=[w for w in wanted if w])
        .select_related("template")
    }
    chosen: list[tuple[Coupon, int]] = []
    seen: set[int] = set()
    for i, code in enumerate(wanted):
        field = ["couponCodes", str(i)]
        coupon = found.get(code) if code else None
        if coupon is None or coupon.member_id != request.member_id:
            raise DomainError("NOT_FOUND", "no such coupon for this member", field)
        if coupon.id in seen:
            raise DomainError("DUPLICATE", "this coupon is already in the list", field)
        seen.add(coupon.id)
        try:
            check_usable(coupon, coupon.template, now)
            check_order(coupon.template, cart, scope.brand.currency)
        except DomainError as error:
            raise DomainError(error.code, error.message, field) from None
        chosen.append((coupon, discount_for(coupon.template, cart.amount)))
    return chosen


async def _reserve_points(uow: UnitOfWork, member_id: int, points: int, now: datetime) -> None:
    scope, conn = uow.scope, uow.connection
    moved = await accounts.change(conn, scope, member_id, POINTS, now, reserved=points, floor=0)
    if moved is not None:
        return
    have = list(
        await scope.query(AssetAccount)
        .using_db(conn)
        .filter(member_id=member_id, kind=POINTS)
        .values_list("balance", "reserved")
    )
    balance, reserved = (int(have[0][0]), int(have[0][1])) if have else (0, 0)
    raise DomainError(
        "INSUFFICIENT_POINTS",
        f"{max(balance - reserved, 0)} points are available ({reserved} held for other "
        f"checkouts), less than {points}",
        ["points"],
    )


async def _hold_coupons(
    uow: UnitOfWork, hold: RewardHold, coupons: list[tuple[Coupon, int]], now: datetime
) -> list[HeldCoupon]:
    scope, conn = uow.scope, uow.connection
    rows = []
    for i, (coupon, discount) in enumerate(coupons):
        taken = await (
            scope.query(Coupon)
            .using_db(conn)
            .filter(id=coupon.id, status="available", valid_from__lte=now, expires_at__gt=now)
            .update(status="held")
        )
        if not taken:
            field = ["couponCodes", str(i)]
            fresh = await scope.query(Coupon).using_db(conn).get(id=coupon.id)
            try:
                check_usable(fresh, coupon.template, now)
            except DomainError as error:
                raise DomainError(error.code, error.message, field) from None
            raise DomainError("CONFLICT", "the coupon changed meanwhile; try again", field)
        rows.append(
            scope.build(
                HeldCoupon, hold_id=hold.id, coupon_id=coupon.id, position=i, discount=discount
            )
        )
    await scope.insert_many(HeldCoupon, rows, conn)
    for row, (coupon, _) in zip(rows, coupons, strict=True):
        coupon.status = "held"
        row.coupon = coupon
    return rows
