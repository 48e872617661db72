"""Inputs of the orders mutations, and their translation to the domain's."""

from __future__ import annotations

from datetime import datetime

import strawberry

from tessera.orders import inputs as domain
from tessera.schema.ids import id_for_lookup
from tessera.schema.members.identities import IdentityInput
from tessera.schema.orders.money import MoneyInput


def member_ref(member_id: strawberry.ID | None, identity: IdentityInput | None) -> domain.MemberRef:
    """Both or neither given is refused by the domain; an id that is not a
    member id finds nobody."""
    pk = id_for_lookup(member_id, "Member")
    if identity is None:
        return domain.MemberRef(member_id=pk)
    kind, value = identity.pair()
    return domain.MemberRef(member_id=pk, identity_kind=kind, identity_value=value)


@strawberry.input(description="One item of an order.")
class OrderLineInput:
    sku: str = strawberry.field(description="Stock-keeping unit (1-64 characters).")
    quantity: int = strawberry.field(description="Units bought, at least 1.")
    unit_price: MoneyInput = strawberry.field(description="Deal price per unit.")
    retail_price: MoneyInput | None = strawberry.field(
        default=None, description="Original retail price per unit; default: the unit price."
    )
    name: str = strawberry.field(default="", description="Product name (up to 200 characters).")
    category: str | None = strawberry.field(default=None, description="Product category.")


@strawberry.input(
    description=(
        "An order to record. The member is given by `memberId` or by `identity` (exactly "
        "one); under the brand's `first_purchase` join rule an unknown identity becomes a "
        "member. Amounts are in the brand's currency."
    )
)
class RecordOrderInput:
    external_id: str = strawberry.field(
        description="Your id of the order, unique in the brand: replaying it changes nothing."
    )
    occurred_at: datetime = strawberry.field(description="When it was bought, with a UTC offset.")
    amount_paid: MoneyInput = strawberry.field(description="What the member paid.")
    member_id: strawberry.ID | None = strawberry.field(default=None, description="The member.")
    identity: IdentityInput | None = strawberry.field(
        default=None, description="Or: an identity of the member."
    )
    lines: list[OrderLineInput] = strawberry.field(
        default_factory=list, description="Items bought (at most 500)."
    )
    retail_amount: MoneyInput | None = strawberry.field(
        default=None, description="Original retail value; default: the lines' retail total."
    )
    discount: MoneyInput | None = strawberry.field(
        default=None, description="Discounts and coupons; default: retail amount - amount paid."
    )
    coupon_codes: list[str] = strawberry.field(
        default_factory=list,
        description="The member's coupons used (at most 50), redeemed on the order in its "
        "transaction; one that cannot be used (unknown, another member's, used, expired, "
        "held, not applicable) refuses the whole order with the error at "
        "`input.couponCodes.<index>`. A coupon `redeemCoupon` already used on this "
        "`externalId` is linked, not redeemed again.",
    )
    hold_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="A hold from `holdRewards` to confirm with this order: its points are "
        "spent on the order and its coupons redeemed on it, in the order's transaction. "
        "The hold must be the member's and still HELD (`HOLD_EXPIRED`, `HOLD_RELEASED`, "
        "`HOLD_CONFIRMED`).",
    )
    store_code: str | None = strawberry.field(default=None, description="Store code.")
    channel: str | None = strawberry.field(
        default=None, description="Sales channel, e.g. `pos`, `app`, `web`, `mini_program`."
    )

    def to_domain(self) -> domain.OrderInput:
        return domain.OrderInput(
            external_id=self.external_id,
            member=member_ref(self.member_id, self.identity),
            occurred_at=self.occurred_at,
            amount_paid=self.amount_paid.to_domain(),
            lines=[
                domain.LineInput(
                    sku=line.sku,
                    quantity=line.quantity,
                    unit_price=line.unit_price.to_domain(),
                    retail_price=line.retail_price.to_domain() if line.retail_price else None,
                    name=line.name,
                    category=line.category,
                )
                for line in self.lines
            ],
            retail_amount=self.retail_amount.to_domain() if self.retail_amount else None,
            discount=self.discount.to_domain() if self.discount else None,
            coupon_codes=list(self.coupon_codes),
            store_code=self.store_code,
            channel=self.channel,
            hold_id=id_for_lookup(self.hold_id, "RewardHold"),
        )


@strawberry.input(description="Up to 1,000 orders, each recorded (or refused) on its own.")
class RecordOrdersInput:
    orders: list[RecordOrderInput] = strawberry.field(
        description="The orders; a longer list is refused whole with `BATCH_TOO_LARGE`."
    )


@strawberry.input(description="What to take back from one order line.")
class RefundLineInput:
    line: int = strawberry.field(description="The order line's `line` number.")
    quantity: int = strawberry.field(description="Units returned, at least 1.")
    amount: MoneyInput | None = strawberry.field(
        default=None,
        description=(
            "Money returned for them; default: the line's paid share for that many units "
            "(all that is left when the last units are returned)."
        ),
    )


@strawberry.input(
    description=(
        "A refund of one order, given by `orderId` or `orderExternalId`. With neither "
        "`lines` nor `amount`, everything not yet refunded is; with `amount` only, that much "
        "money; with `lines`, those units. Never more than was paid."
    )
)
class RecordRefundInput:
    external_id: str = strawberry.field(
        description="Your id of the refund, unique in the brand: replaying it changes nothing."
    )
    occurred_at: datetime = strawberry.field(description="When it was refunded, with a UTC offset.")
    order_id: strawberry.ID | None = strawberry.field(default=None, description="The order.")
    order_external_id: str | None = strawberry.field(
        default=None, description="Or: the order's `externalId`."
    )
    amount: MoneyInput | None = strawberry.field(
        default=None, description="A money-only refund of this amount."
    )
    lines: list[RefundLineInput] | None = strawberry.field(
        default=None, description="A refund of these lines."
    )
    reason: str | None = strawberry.field(default=None, description="Why (up to 500 characters).")

    def to_domain(self) -> domain.RefundInput:
        order_id = id_for_lookup(self.order_id, "Order")
        return domain.RefundInput(
            external_id=self.external_id,
            occurred_at=self.occurred_at,
            order_id=order_id,
            order_external_id=self.order_external_id,
            amount=self.amount.to_domain() if self.amount else None,
            lines=None
            if self.lines is None
            else [
                domain.RefundLineInput(
                    line_no=x.line,
                    quantity=x.quantity,
                    amount=x.amount.to_domain() if x.amount else None,
                )
                for x in self.lines
            ],
            reason=self.reason,
        )
