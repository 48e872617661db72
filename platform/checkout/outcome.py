"""What recorded orders did, read back for many orders at once: the points
each rule awarded, growth, points spent on it, coupons used and issued, and
the tier change. Four queries for any number of orders (the GraphQL layer
calls it from one dataloader)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import reduce
from operator import or_

from tortoise.expressions import Q

from tessera.assets.models import LedgerEntry
from tessera.coupons.models import Coupon, CouponRedemption
from tessera.rewards.orders import SOURCE as ORDER_SOURCE
from tessera.rewards.redemption import SOURCE as REDEMPTION_SOURCE
from tessera.scope import BrandScope
from tessera.tiers.models import TierHistory


@dataclass(frozen=True)
class PointsAward:
    """Points one rule awarded for an order; ``pending`` while they wait out
    the brand's return window."""

    rule: str
    member_id: int
    points: int
    pending: bool
    reason: str


@dataclass
class OrderOutcome:
    awards: list[PointsAward] = field(default_factory=list)
    growth: int = 0
    points_redeemed: int = 0
    coupons_used: list[CouponRedemption] = field(default_factory=list)
    coupons_issued: list[Coupon] = field(default_factory=list)
    tier_change: TierHistory | None = None


async def order_outcomes(scope: BrandScope, order_ids: Sequence[int]) -> dict[int, OrderOutcome]:
    """Each order's outcome (empty for an order that did nothing)."""
    found = {o: OrderOutcome() for o in order_ids}
    refs = {str(o): o for o in order_ids}
    entries = (
        await scope.query(LedgerEntry)
        .filter(source_type__in=[ORDER_SOURCE, REDEMPTION_SOURCE], source_ref__in=list(refs))
        .order_by("id")
    )
    for entry in entries:
        outcome = found[refs[entry.source_ref or ""]]
        if entry.source_type == REDEMPTION_SOURCE:
            if entry.kind == "points" and entry.entry_type == "redeem":
                outcome.points_redeemed -= entry.amount
        elif entry.kind == "growth" and entry.entry_type == "earn":
            outcome.growth += entry.amount
        elif entry.kind == "points" and entry.entry_type in ("earn", "pending"):
            outcome.awards.append(_award(entry))
    for redemption in (
        await scope.query(CouponRedemption)
        .filter(order_id__in=list(order_ids))
        .select_related("coupon__template")
        .order_by("id")
    ):
        found[redemption.order_id or 0].coupons_used.append(redemption)
    sources = {f"{ORDER_SOURCE}:{o}": o for o in order_ids}
    histories = list(
        await scope.query(TierHistory)
        .filter(source__in=list(sources))
        .select_related("from_tier", "to_tier")
    )
    gifts: dict[str, int] = {}
    for history in histories:
        order_id = sources[history.source]
        found[order_id].tier_change = history
        gifts[f"tier-gift:{history.id}:"] = order_id
    if gifts:
        issued = (
            await scope.query(Coupon)
            .filter(reduce(or_, (Q(idempotency_key__startswith=p) for p in gifts)))
            .select_related("template")
            .order_by("id")
        )
        by_prefix = defaultdict(list)
        for coupon in issued:
            by_prefix[coupon.idempotency_key.rsplit(":", 2)[0] + ":"].append(coupon)
        for prefix, order_id in gifts.items():
            found[order_id].coupons_issued.extend(by_prefix.get(prefix, []))
    return found


def _award(entry: LedgerEntry) -> PointsAward:
    # Keys are "order:<id>:<rule>:<n>" (tessera.rewards.pipeline); reasons "<rule>: <why>".
    rule = entry.idempotency_key.split(":", 2)[-1].rsplit(":", 1)[0]
    reason = entry.reason.removeprefix(f"{rule}: ")
    return PointsAward(rule, entry.member_id, entry.amount, entry.entry_type == "pending", reason)
