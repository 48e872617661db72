"""What an order did, as `Order.outcome` shows it (one dataloader per page)."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from tessera.checkout import outcome as domain
from tessera.schema.coupons.types import Coupon
from tessera.schema.ids import encode_id
from tessera.schema.orders.money import Money
from tessera.schema.tiers.types import TierChange


@strawberry.type(description="Points one rule awarded for an order.")
class OrderPointsAward:
    rule: str = strawberry.field(description="Key of the points rule.")
    member_id: strawberry.ID = strawberry.field(
        description="Who got them (the order's member, or e.g. a referrer)."
    )
    points: int = strawberry.field(description="Points awarded.")
    pending: bool = strawberry.field(
        description="True when they were held for the brand's return window (see "
        "`MemberAssets.pendingPoints`)."
    )
    reason: str = strawberry.field(description="Why, as the rule put it.")


@strawberry.type(description="A coupon an order used, and what it took off.")
class OrderCouponUse:
    coupon: Coupon = strawberry.field(description="The coupon.")
    discount: Money = strawberry.field(description="What it took off the order.")
    restored: bool = strawberry.field(
        description="True when a full refund of the order gave the coupon back."
    )


@strawberry.type(
    description="What recording an order did: points per rule, growth, points spent on it, "
    "coupons used and issued, and the tier change it caused."
)
class OrderOutcome:
    awards: list[OrderPointsAward] = strawberry.field(
        description="Points each rule awarded, in the order they were written."
    )
    points: int = strawberry.field(description="Points awarded to the order's member, all rules.")
    growth: int = strawberry.field(description="Growth value it earned.")
    points_redeemed: int = strawberry.field(
        description="Points spent paying for it (a confirmed hold, or `redeemPointsForOrder`)."
    )
    coupons_used: list[OrderCouponUse] = strawberry.field(description="Coupons redeemed on it.")
    coupons_issued: list[Coupon] = strawberry.field(
        description="Coupons it earned (an upgrade's gift)."
    )
    tier_change: TierChange | None = strawberry.field(
        description="The tier change it caused; null: none."
    )

    @classmethod
    def of(cls, found: domain.OrderOutcome, member_id: int, currency: str) -> OrderOutcome:
        now = datetime.now(UTC)
        return cls(
            awards=[
                OrderPointsAward(
                    rule=a.rule,
                    member_id=strawberry.ID(encode_id("Member", a.member_id)),
                    points=a.points,
                    pending=a.pending,
                    reason=a.reason,
                )
                for a in found.awards
            ],
            points=sum(a.points for a in found.awards if a.member_id == member_id),
            growth=found.growth,
            points_redeemed=found.points_redeemed,
            coupons_used=[
                OrderCouponUse(
                    coupon=Coupon.from_model(r.coupon, r.coupon.template, currency, now),
                    discount=Money.of(r.discount, currency),
                    restored=r.restored_at is not None,
                )
                for r in found.coupons_used
            ],
            coupons_issued=[
                Coupon.from_model(c, c.template, currency, now) for c in found.coupons_issued
            ],
            tier_change=TierChange.from_model(found.tier_change) if found.tier_change else None,
        )
