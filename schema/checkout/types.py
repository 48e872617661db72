"""A checkout hold as the API shows it."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum

import strawberry

from tessera.checkout.holds import HoldResult
from tessera.schema.coupons.types import Coupon
from tessera.schema.ids import encode_id
from tessera.schema.orders.money import Money


@strawberry.enum(description="Where a hold stands.")
class HoldStatus(Enum):
    HELD = "held"
    CONFIRMED = "confirmed"
    RELEASED = "released"
    EXPIRED = "expired"


@strawberry.type(description="A coupon a hold reserves, and what it takes off the cart.")
class HeldCoupon:
    coupon: Coupon = strawberry.field(description="The coupon.")
    discount: Money = strawberry.field(description="What it takes off the held cart.")


@strawberry.type(
    description="Points and coupons reserved for one checkout (`holdRewards`). While HELD "
    "nothing else can spend them; `recordOrder(input: {holdId})` spends them on the order, "
    "`releaseHold` or the expiry give them back."
)
class RewardHold:
    id: strawberry.ID = strawberry.field(description="Opaque id; pass it as `holdId`.")
    member_id: strawberry.ID = strawberry.field(description="Whose points and coupons.")
    status: HoldStatus = strawberry.field(description="Where it stands.")
    points: int = strawberry.field(description="Points reserved.")
    discount: Money = strawberry.field(
        description="What the points (under the brand's points-as-cash terms) and the "
        "coupons take off the cart together."
    )
    coupons: list[HeldCoupon] = strawberry.field(description="Coupons reserved, in order given.")
    order_amount: Money | None = strawberry.field(description="The cart it was checked on.")
    external_order_id: str | None = strawberry.field(description="The checkout's own id.")
    expires_at: datetime = strawberry.field(
        description="When it lapses unless an order confirms it (UTC)."
    )
    order_id: strawberry.ID | None = strawberry.field(
        description="The order that confirmed it, once CONFIRMED."
    )
    created_at: datetime = strawberry.field(description="When it was made.")

    @classmethod
    def of(cls, result: HoldResult, currency: str) -> RewardHold:
        hold, now = result.hold, datetime.now(UTC)
        return cls(
            id=strawberry.ID(encode_id("RewardHold", hold.id)),
            member_id=strawberry.ID(encode_id("Member", hold.member_id)),
            status=HoldStatus(hold.status),
            points=hold.points,
            discount=Money.of(hold.discount, currency),
            coupons=[
                HeldCoupon(
                    coupon=Coupon.from_model(h.coupon, h.coupon.template, currency, now),
                    discount=Money.of(h.discount, currency),
                )
                for h in result.coupons
            ],
            order_amount=Money.of(hold.order_amount, currency)
            if hold.order_amount is not None
            else None,
            external_order_id=hold.external_order_id,
            expires_at=hold.expires_at,
            order_id=strawberry.ID(encode_id("Order", hold.order_id)) if hold.order_id else None,
            created_at=hold.created_at,
        )
