"""Types of the rewards API."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from tessera.schema.orders.money import Money
from tessera.schema.tiers.types import Tier

if TYPE_CHECKING:
    from tessera.schema.coupons.types import Coupon


@strawberry.type(description="Points one rule would award (or awarded) for a fact.")
class RuleAward:
    rule: str = strawberry.field(description="Key of the points rule.")
    points: int = strawberry.field(description="Points.")
    reason: str = strawberry.field(description="Why, as the rule puts it.")
    member_id: strawberry.ID = strawberry.field(
        description="Who gets them (the order's member, or e.g. a referrer)."
    )


@strawberry.type(
    description="What recording an order would earn, computed by the same code as "
    "`recordOrder` but writing nothing."
)
class OrderRewardsPreview:
    awards: list[RuleAward] = strawberry.field(description="Each active rule's points.")
    total_points: int = strawberry.field(description="The order's member's points, all rules.")
    pending_until: datetime | None = strawberry.field(
        description="When the points would become available (the brand's return window); "
        "null: at once."
    )
    growth: int = strawberry.field(description="Growth value it would earn.")
    tier_before: Tier | None = strawberry.field(description="The member's tier now.")
    tier_after: Tier | None = strawberry.field(description="The tier the order would reach.")
    upgrade: bool = strawberry.field(description="Whether it would upgrade the member.")
    coupons: list[Annotated[Coupon, strawberry.lazy("tessera.schema.coupons.types")]] = (
        strawberry.field(description="The member's coupons this order could use.")
    )
    coupons_applied: list[CouponDiscount] = strawberry.field(
        description="The order's `couponCodes` (and its hold's coupons), each with what it "
        "would take off; a code that could not be used is an error naming "
        "`order.couponCodes.<index>`."
    )
    coupon_discount: Money = strawberry.field(
        description="What `couponsApplied` take off together."
    )


@strawberry.type(description="A coupon and what it takes off an order.")
class CouponDiscount:
    coupon: Annotated[Coupon, strawberry.lazy("tessera.schema.coupons.types")] = strawberry.field(
        description="The coupon."
    )
    discount: Money = strawberry.field(description="What it takes off.")


@strawberry.type(description="A daily check-in.")
class CheckIn:
    day: date = strawberry.field(description="The day, in the brand's timezone.")
    streak: int = strawberry.field(description="Consecutive days up to and including this one.")
    points: int = strawberry.field(description="Points it earned, all rules.")
    at: datetime = strawberry.field(description="When it happened.")
