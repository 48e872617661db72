"""The coupons service: what the API, the CLI and the other domains call.

Issuing lives in :mod:`tessera.coupons.issuing`, redeeming and restoring in
:mod:`tessera.coupons.redemption`, templates in
:mod:`tessera.coupons.templates`; this module adds voiding and the reads, and
is the one import the rest of Tessera needs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from tessera.coupons import codes
from tessera.coupons.issuing import MAX_BULK, issue_coupon, issue_coupons
from tessera.coupons.models import Coupon
from tessera.coupons.redemption import (
    RedeemResult,
    applicable_coupons,
    redeem_coupon,
    restore_coupons_for_order,
)
from tessera.coupons.templates import (
    CouponKind,
    create_template,
    delete_template,
    discount_for,
    update_template,
)
from tessera.errors import DomainError
from tessera.scope import BrandScope
from tessera.uow import unit_of_work

__all__ = [
    "MAX_BULK",
    "CouponKind",
    "CouponStatus",
    "RedeemResult",
    "applicable_coupons",
    "coupons_of_members",
    "create_template",
    "delete_template",
    "discount_for",
    "find_coupon",
    "issue_coupon",
    "issue_coupons",
    "redeem_coupon",
    "restore_coupons_for_order",
    "status_of",
    "update_template",
    "void_coupon",
]


class CouponStatus(StrEnum):
    """As a member sees it. All but expired are stored: an available coupon
    past its end reads as expired; a held one is reserved by a checkout hold
    until that hold is confirmed, released or expires."""

    AVAILABLE = "available"
    REDEEMED = "redeemed"
    VOIDED = "voided"
    EXPIRED = "expired"
    HELD = "held"


def status_of(coupon: Coupon, now: datetime) -> CouponStatus:
    if coupon.status == "available" and coupon.expires_at <= now:
        return CouponStatus.EXPIRED
    return CouponStatus(coupon.status)


def _with_status(
    query: QuerySet[Coupon], status: CouponStatus | None, now: datetime
) -> QuerySet[Coupon]:
    if status is None:
        return query
    if status is CouponStatus.AVAILABLE:
        return query.filter(status="available", expires_at__gt=now)
    if status is CouponStatus.EXPIRED:
        return query.filter(status="available", expires_at__lte=now)
    return query.filter(status=status.value)


async def coupons_of_members(
    scope: BrandScope,
    member_ids: Sequence[int],
    status: CouponStatus | None,
    now: datetime,
) -> dict[int, list[Coupon]]:
    """Each member's coupons in ``status`` (None: all), newest first, with
    their templates, in one query."""
    query = scope.query(Coupon).filter(member_id__in=list(member_ids))
    found: dict[int, list[Coupon]] = defaultdict(list)
    for coupon in (
        await _with_status(query, status, now)
        .select_related("template")
        .order_by("-issued_at", "-id")
    ):
        found[coupon.member_id].append(coupon)
    return found


async def find_coupon(scope: BrandScope, code: str) -> Coupon | None:
    """The brand's coupon with ``code`` (as typed: case, hyphens and look-alikes
    forgiven), with its template."""
    stored = codes.normalise(code)
    if stored is None:
        return None
    return await scope.query(Coupon).select_related("template").get_or_none(code=stored)


async def void_coupon(
    scope: BrandScope,
    *,
    code: str | None = None,
    coupon_id: int | None = None,
    reason: str | None,
    now: datetime | None = None,
) -> Coupon:
    """Make an unused coupon unusable, recording why. Voiding a voided coupon
    changes nothing and returns it; a redeemed one is refused."""
    now = now or datetime.now(UTC)
    why = (reason or "").strip()
    if not why:
        raise DomainError("REQUIRED", "say why the coupon is voided", ["reason"])
    if len(why) > 500:
        raise DomainError("TOO_LONG", "must be at most 500 characters", ["reason"])
    if (code is None) == (coupon_id is None):
        raise DomainError("INVALID", "give exactly one of code and couponId", ["code"])
    field = "code" if code is not None else "couponId"
    coupon = (
        await find_coupon(scope, code) if code is not None else await scope.get(Coupon, coupon_id)
    )
    if coupon is None:
        raise DomainError("NOT_FOUND", "no such coupon", [field])
    async with unit_of_work(scope) as uow:
        voided = await (
            scope.query(Coupon)
            .using_db(uow.connection)
            .filter(Q(id=coupon.id) & Q(status="available"))
            .update(status="voided", voided_at=now, void_reason=why)
        )
        if voided:
            uow.emit(
                "coupon.voided",
                coupon_id=coupon.id,
                member_id=coupon.member_id,
                template_id=coupon.template_id,
                reason=why,
            )
    fresh = await scope.query(Coupon).select_related("template").get(id=coupon.id)
    if not voided and fresh.status == "redeemed":
        raise DomainError("COUPON_REDEEMED", "a used coupon cannot be voided", [field])
    if not voided and fresh.status == "held":
        raise DomainError(
            "COUPON_HELD", "a checkout holds this coupon; release the hold first", [field]
        )
    return fresh
