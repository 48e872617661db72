"""Coupon templates, coupons and redemptions as GraphQL types."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from tessera.coupons.models import Coupon as CouponModel
from tessera.coupons.models import CouponRedemption as RedemptionModel
from tessera.coupons.models import CouponTemplate as TemplateModel
from tessera.coupons.service import CouponKind, CouponStatus, status_of
from tessera.schema.ids import encode_id
from tessera.schema.orders.money import Money

strawberry.enum(
    CouponKind,
    description="AMOUNT_OFF: a fixed amount off the order; PERCENT_OFF: a share of it, "
    "optionally capped; GIFT: an item given with the order; FREE_SHIPPING: no delivery fee.",
)
strawberry.enum(
    CouponStatus,
    description="AVAILABLE: usable (or not yet, see `validFrom`); REDEEMED: used on an order; "
    "VOIDED: cancelled by the brand; EXPIRED: its window ended unused; HELD: reserved by a "
    "checkout's `holdRewards` until an order confirms the hold or it is released or expires.",
)


@strawberry.type(description="What a coupon is worth, when it is valid, and who may get how many.")
class CouponTemplate:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    kind: CouponKind = strawberry.field(description="What the coupon gives.")
    title: str = strawberry.field(description="Shown in the member's wallet.")
    description: str = strawberry.field(description="Terms shown to the member.")
    amount_off: Money | None = strawberry.field(description="AMOUNT_OFF: money off the order.")
    percent_off: int | None = strawberry.field(description="PERCENT_OFF: 1-100.")
    max_discount: Money | None = strawberry.field(
        description="PERCENT_OFF: the most it takes off one order; null for no cap."
    )
    gift_sku: str | None = strawberry.field(description="GIFT: the item given.")
    min_spend: Money = strawberry.field(
        description="The order's goods value (deal prices, before order-level discounts) "
        "must reach this; zero for none."
    )
    categories: list[str] = strawberry.field(
        description="The order needs an item of one of these categories; empty for any."
    )
    valid_from: date | None = strawberry.field(
        description="Fixed window: first day (brand's timezone); null from the day of issue."
    )
    valid_until: date | None = strawberry.field(
        description="Fixed window: last day, valid to its end (brand's timezone)."
    )
    valid_days: int | None = strawberry.field(
        description="Rolling window: valid until the end of the Nth day after the day of issue."
    )
    total_stock: int | None = strawberry.field(
        description="Most coupons ever issued; null: no limit."
    )
    issued_count: int = strawberry.field(description="Coupons issued so far.")
    per_member_limit: int | None = strawberry.field(
        description="Most coupons one member may be issued; null: no limit."
    )
    active: bool = strawberry.field(
        description="Inactive templates issue nothing, and their coupons cannot be redeemed."
    )
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="Last change.")

    @strawberry.field(description="Coupons that can still be issued; null: no limit.")
    def remaining_stock(self) -> int | None:
        if self.total_stock is None:
            return None
        return max(self.total_stock - self.issued_count, 0)

    @classmethod
    def from_model(cls, t: TemplateModel, currency: str) -> CouponTemplate:
        def money(minor: int | None) -> Money | None:
            return None if minor is None else Money.of(minor, currency)

        return cls(
            id=strawberry.ID(encode_id("CouponTemplate", t.id)),
            kind=CouponKind(t.kind),
            title=t.title,
            description=t.description,
            amount_off=money(t.amount_off),
            percent_off=t.percent_off,
            max_discount=money(t.max_discount),
            gift_sku=t.gift_sku,
            min_spend=Money.of(t.min_spend, currency),
            categories=list(t.categories),
            valid_from=t.valid_from_date,
            valid_until=t.valid_until_date,
            valid_days=t.valid_days,
            total_stock=t.total_stock,
            issued_count=t.issued_count,
            per_member_limit=t.per_member_limit,
            active=t.active,
            created_at=t.created_at,
            updated_at=t.updated_at,
        )


@strawberry.type(description="A coupon held by a member.")
class Coupon:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    code: str = strawberry.field(
        description="What the member shows at checkout: 16 symbols of Crockford base32 in "
        "groups of four. Case, hyphens and O/0, I/L/1 are forgiven when it is typed."
    )
    status: CouponStatus = strawberry.field(description="Where it stands now.")
    member_id: strawberry.ID = strawberry.field(description="Id of the member who holds it.")
    template: CouponTemplate = strawberry.field(description="What it is worth and its terms.")
    issued_at: datetime = strawberry.field(description="When it was issued.")
    valid_from: datetime = strawberry.field(description="Usable from this moment.")
    expires_at: datetime = strawberry.field(description="Usable until just before this moment.")
    redeemed_at: datetime | None = strawberry.field(description="When it was used, if it is.")
    voided_at: datetime | None = strawberry.field(description="When it was voided, if it was.")
    void_reason: str | None = strawberry.field(description="Why it was voided.")

    @classmethod
    def from_model(
        cls, c: CouponModel, template: TemplateModel, currency: str, now: datetime
    ) -> Coupon:
        return cls(
            id=strawberry.ID(encode_id("Coupon", c.id)),
            code=c.code,
            status=status_of(c, now),
            member_id=strawberry.ID(encode_id("Member", c.member_id)),
            template=CouponTemplate.from_model(template, currency),
            issued_at=c.issued_at,
            valid_from=c.valid_from,
            expires_at=c.expires_at,
            redeemed_at=c.redeemed_at,
            voided_at=c.voided_at,
            void_reason=c.void_reason,
        )


@strawberry.type(description="A coupon used on an order.")
class CouponRedemption:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    order_id: strawberry.ID | None = strawberry.field(
        description="The recorded order it was used on, when known."
    )
    external_order_id: str | None = strawberry.field(
        description="The checkout's order id, when redeemed before the order was recorded."
    )
    order_amount: Money = strawberry.field(description="The order value it was checked against.")
    discount: Money = strawberry.field(
        description="Money off the order (zero for GIFT and FREE_SHIPPING)."
    )
    redeemed_at: datetime = strawberry.field(description="When it was used.")
    restored_at: datetime | None = strawberry.field(
        description="When a full refund of the order gave the coupon back."
    )

    @classmethod
    def from_model(cls, r: RedemptionModel, currency: str) -> CouponRedemption:
        return cls(
            id=strawberry.ID(encode_id("CouponRedemption", r.id)),
            order_id=strawberry.ID(encode_id("Order", r.order_id)) if r.order_id else None,
            external_order_id=r.external_order_id,
            order_amount=Money.of(r.order_amount, currency),
            discount=Money.of(r.discount, currency),
            redeemed_at=r.redeemed_at,
            restored_at=r.restored_at,
        )
