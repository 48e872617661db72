"""Inputs of the coupon mutations, and their translation to service values."""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry

from tessera.schema.coupons.types import CouponKind
from tessera.schema.orders.money import MoneyInput

# Input field (Python name) -> template column.
TEMPLATE_COLUMNS = {
    "kind": "kind",
    "title": "title",
    "description": "description",
    "amount_off": "amount_off",
    "percent_off": "percent_off",
    "max_discount": "max_discount",
    "gift_sku": "gift_sku",
    "min_spend": "min_spend",
    "categories": "categories",
    "valid_from": "valid_from_date",
    "valid_until": "valid_until_date",
    "valid_days": "valid_days",
    "total_stock": "total_stock",
    "per_member_limit": "per_member_limit",
    "active": "active",
}


def template_values(input: Any) -> dict[str, Any]:
    """The template fields the caller sent (explicit nulls included), as columns."""
    values = {}
    for name, column in TEMPLATE_COLUMNS.items():
        value = getattr(input, name)
        if value is strawberry.UNSET:
            continue
        if isinstance(value, MoneyInput):
            value = value.to_domain()
        elif isinstance(value, CouponKind):
            value = value.value
        values[column] = value
    return values


@strawberry.input(
    description="A new coupon template. Give the value its kind needs (`amountOff`, "
    "`percentOff`, `giftSku`) and exactly one of `validUntil` (fixed dates) and `validDays`."
)
class CreateCouponTemplateInput:
    kind: CouponKind = strawberry.field(description="What the coupon gives.")
    title: str = strawberry.field(description="Shown in the member's wallet (1-200 characters).")
    description: str | None = strawberry.field(default=strawberry.UNSET, description="Terms.")
    amount_off: MoneyInput | None = strawberry.field(
        default=strawberry.UNSET, description="AMOUNT_OFF: money off, more than zero."
    )
    percent_off: int | None = strawberry.field(
        default=strawberry.UNSET, description="PERCENT_OFF: 1-100."
    )
    max_discount: MoneyInput | None = strawberry.field(
        default=strawberry.UNSET, description="PERCENT_OFF: optional cap per order."
    )
    gift_sku: str | None = strawberry.field(default=strawberry.UNSET, description="GIFT: the item.")
    min_spend: MoneyInput | None = strawberry.field(
        default=strawberry.UNSET, description="Minimum order goods value; omitted: none."
    )
    categories: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Only orders with an item of these (at most 50)."
    )
    valid_from: date | None = strawberry.field(
        default=strawberry.UNSET, description="Fixed window: first day; omitted: day of issue."
    )
    valid_until: date | None = strawberry.field(
        default=strawberry.UNSET, description="Fixed window: last day (to its end)."
    )
    valid_days: int | None = strawberry.field(
        default=strawberry.UNSET, description="Rolling window, 1-3650 days after the day of issue."
    )
    total_stock: int | None = strawberry.field(
        default=strawberry.UNSET, description="Most coupons ever issued; omitted: no limit."
    )
    per_member_limit: int | None = strawberry.field(
        default=strawberry.UNSET, description="Most coupons per member; omitted: no limit."
    )
    active: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Whether it issues and redeems (default true)."
    )


@strawberry.input(
    description="Changes to a template: only the fields given change (null clears). Once a "
    "coupon was issued its terms (kind, value, minimum spend, categories) are fixed."
)
class UpdateCouponTemplateInput:
    id: strawberry.ID = strawberry.field(description="The template.")
    kind: CouponKind | None = strawberry.field(default=strawberry.UNSET, description="Kind.")
    title: str | None = strawberry.field(default=strawberry.UNSET, description="Title.")
    description: str | None = strawberry.field(default=strawberry.UNSET, description="Terms.")
    amount_off: MoneyInput | None = strawberry.field(
        default=strawberry.UNSET, description="AMOUNT_OFF: money off."
    )
    percent_off: int | None = strawberry.field(
        default=strawberry.UNSET, description="PERCENT_OFF: 1-100."
    )
    max_discount: MoneyInput | None = strawberry.field(
        default=strawberry.UNSET, description="PERCENT_OFF: cap per order; null: none."
    )
    gift_sku: str | None = strawberry.field(default=strawberry.UNSET, description="GIFT: item.")
    min_spend: MoneyInput | None = strawberry.field(
        default=strawberry.UNSET, description="Minimum order goods value; null: none."
    )
    categories: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Qualifying categories; empty or null: any."
    )
    valid_from: date | None = strawberry.field(
        default=strawberry.UNSET, description="Fixed window: first day (future issues)."
    )
    valid_until: date | None = strawberry.field(
        default=strawberry.UNSET, description="Fixed window: last day (future issues)."
    )
    valid_days: int | None = strawberry.field(
        default=strawberry.UNSET, description="Rolling window in days (future issues)."
    )
    total_stock: int | None = strawberry.field(
        default=strawberry.UNSET, description="Stock; not below what was issued; null: no limit."
    )
    per_member_limit: int | None = strawberry.field(
        default=strawberry.UNSET, description="Per-member limit; null: no limit."
    )
    active: bool | None = strawberry.field(default=strawberry.UNSET, description="Active flag.")


@strawberry.input(description="Which template to delete.")
class DeleteCouponTemplateInput:
    id: strawberry.ID = strawberry.field(description="A template no coupon was issued from.")


@strawberry.input(description="Issue one coupon to one member.")
class IssueCouponInput:
    template_id: strawberry.ID = strawberry.field(description="The template.")
    member_id: strawberry.ID = strawberry.field(description="The member.")
    idempotency_key: str = strawberry.field(
        description="Unique per brand (1-150 characters): a replay returns the first coupon."
    )


@strawberry.input(description="Issue one coupon to each of up to 10,000 members.")
class IssueCouponsInput:
    template_id: strawberry.ID = strawberry.field(description="The template.")
    member_ids: list[strawberry.ID] = strawberry.field(
        description="The members, at most 10,000; when stock runs out, earlier ones are served."
    )
    idempotency_key: str = strawberry.field(
        description="For the batch: member N's coupon has the key `<key>:<N's numeric id>`, "
        "so replaying the batch returns the same coupons."
    )


@strawberry.input(
    description="Use a coupon on an order: a recorded one (`orderId`) or one a checkout is "
    "about to place (`orderAmount`, with its `externalOrderId` so a later full refund of "
    "that order gives the coupon back)."
)
class RedeemCouponInput:
    code: str = strawberry.field(description="The coupon's code.")
    member_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Whose coupon it is; required with a brand key, omitted "
        "with a member token (the token's member).",
    )
    order_id: strawberry.ID | None = strawberry.field(
        default=None, description="A recorded order of the member."
    )
    order_amount: MoneyInput | None = strawberry.field(
        default=None, description="The order's goods value, when it is not recorded yet."
    )
    external_order_id: str | None = strawberry.field(
        default=None, description="With `orderAmount`: the order's id in the shop."
    )
    categories: list[str] | None = strawberry.field(
        default=None,
        description="With `orderAmount`: categories of its items, checked against the "
        "template's; omitted: not checked.",
    )
    idempotency_key: str = strawberry.field(
        description="Unique per brand: a replay returns the first redemption."
    )


@strawberry.input(description="Void an unused coupon: give `code` or `couponId`.")
class VoidCouponInput:
    code: str | None = strawberry.field(default=None, description="The coupon's code.")
    coupon_id: strawberry.ID | None = strawberry.field(default=None, description="Its id.")
    reason: str = strawberry.field(description="Why (1-500 characters), kept on the coupon.")
