"""Orders, refunds and purchase statistics as GraphQL types."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from tessera.orders.models import Order as OrderModel
from tessera.orders.models import OrderLine as OrderLineModel
from tessera.orders.models import Refund as RefundModel
from tessera.orders.stats import StatsView
from tessera.schema.ids import encode_id
from tessera.schema.orders.money import Money

if TYPE_CHECKING:
    from tessera.schema.members.types import Member
    from tessera.schema.orders.outcome import OrderOutcome

MemberType = Annotated["Member", strawberry.lazy("tessera.schema.members.types")]
OutcomeType = Annotated["OrderOutcome", strawberry.lazy("tessera.schema.orders.outcome")]


@strawberry.type(description="One item of an order.")
class OrderLine:
    line: int = strawberry.field(description="Position in the order, from 0; refunds name it.")
    sku: str = strawberry.field(description="Stock-keeping unit.")
    name: str = strawberry.field(description="Product name as sold.")
    category: str | None = strawberry.field(description="Product category.")
    quantity: int = strawberry.field(description="Units bought.")
    unit_price: Money = strawberry.field(description="Deal price per unit.")
    retail_price: Money = strawberry.field(description="Original retail price per unit.")
    paid_amount: Money = strawberry.field(
        description=(
            "This line's share of the order's amount paid (order discounts spread by value)."
        )
    )
    refunded_quantity: int = strawberry.field(description="Units refunded so far.")
    refunded_amount: Money = strawberry.field(description="Money refunded on this line so far.")

    @classmethod
    def from_model(cls, line: OrderLineModel, currency: str) -> OrderLine:
        return cls(
            line=line.line_no,
            sku=line.sku,
            name=line.name,
            category=line.category,
            quantity=line.quantity,
            unit_price=Money.of(line.unit_price, currency),
            retail_price=Money.of(line.retail_price, currency),
            paid_amount=Money.of(line.paid_amount, currency),
            refunded_quantity=line.refunded_quantity,
            refunded_amount=Money.of(line.refunded_amount, currency),
        )


@strawberry.type(description="A purchase recorded by a shop, app or POS.")
class Order:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    external_id: str = strawberry.field(description="The recording system's id (idempotency key).")
    member_id: strawberry.ID = strawberry.field(description="Id of the member who bought.")
    store_code: str | None = strawberry.field(description="Store where it was bought.")
    channel: str | None = strawberry.field(description="Sales channel, e.g. `pos`, `app`, `web`.")
    occurred_at: datetime = strawberry.field(description="When it was bought.")
    amount_paid: Money = strawberry.field(description="What the member paid.")
    retail_amount: Money = strawberry.field(description="Original retail value.")
    discount: Money = strawberry.field(description="Discounts and coupons.")
    coupon_codes: list[str] = strawberry.field(description="Coupons used.")
    units: int = strawberry.field(description="Units bought (sum of the lines' quantities).")
    refunded_amount: Money = strawberry.field(description="Money refunded so far.")
    refunded_units: int = strawberry.field(description="Units refunded so far.")
    _pk: strawberry.Private[int]
    _currency: strawberry.Private[str]
    _member_pk: strawberry.Private[int]

    @strawberry.field(description="The member who bought.")
    async def member(self, info: Info) -> MemberType | None:
        from tessera.schema.members.dataloaders import MemberByIdLoader
        from tessera.schema.members.types import Member

        found = await MemberByIdLoader.of(info).load(self._member_pk)
        return Member.from_model(found) if found is not None else None

    @strawberry.field(
        description="What recording it did: points per rule, growth, points spent on it, "
        "coupons used and issued, the tier change."
    )
    async def outcome(self, info: Info) -> OutcomeType:
        from tessera.schema.orders.loaders import outcome_loader
        from tessera.schema.orders.outcome import OrderOutcome

        found = await outcome_loader(info).load(self._pk)
        return OrderOutcome.of(found, self._member_pk, self._currency)

    @strawberry.field(description="The items bought, in recorded order.")
    async def lines(self, info: Info) -> list[OrderLine]:
        from tessera.schema.orders.loaders import lines_loader

        rows = await lines_loader(info).load(self._pk)
        return [OrderLine.from_model(row, self._currency) for row in rows]

    @classmethod
    def from_model(cls, order: OrderModel, currency: str) -> Order:
        # Without __init__: the four Money values and the member's id are
        # made on first read (__getattr__). A recordOrders answer seldom
        # selects them, and making them was ~5% of the layer above the service
        # for a batch of 1,000 orders; a plain attribute read stays a read.
        self = cls.__new__(cls)
        self.__dict__.update(
            id=strawberry.ID(encode_id("Order", order.id)),
            external_id=order.external_id,
            store_code=order.store_code,
            channel=order.channel,
            occurred_at=order.occurred_at,
            coupon_codes=list(order.coupon_codes or []),
            units=order.units,
            refunded_units=order.refunded_units,
            _pk=order.id,
            _currency=currency,
            _member_pk=order.member_id,
            # copied now: the model may change after the answer is built
            _minor=(order.amount_paid, order.retail_amount, order.discount, order.refunded_amount),
        )
        return self

    def __getattr__(self, name: str) -> object:
        """A field :meth:`from_model` left to be made on first read, kept once made."""
        at = _LAZY_MONEY.get(name)
        lazy = self.__dict__.get("_minor")
        if lazy is not None and at is not None:
            value: object = Money.of(lazy[at], self._currency)
        elif lazy is not None and name == "member_id":
            value = strawberry.ID(encode_id("Member", self._member_pk))
        else:
            raise AttributeError(
                f"{type(self).__name__!r} object has no attribute {name!r}", name=name, obj=self
            )
        self.__dict__[name] = value
        return value


# Order's Money fields by their position in Order._minor
_LAZY_MONEY = {"amount_paid": 0, "retail_amount": 1, "discount": 2, "refunded_amount": 3}


@strawberry.type(description="Money, and possibly goods, returned on an order.")
class Refund:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    external_id: str = strawberry.field(description="The recording system's id (idempotency key).")
    order_id: strawberry.ID = strawberry.field(description="Id of the refunded order.")
    member_id: strawberry.ID = strawberry.field(description="Id of the order's member.")
    occurred_at: datetime = strawberry.field(description="When it was refunded.")
    amount: Money = strawberry.field(description="Money refunded.")
    units: int = strawberry.field(description="Units taken back (0 for a money-only refund).")
    reason: str | None = strawberry.field(description="Why, as the recording system said.")

    @classmethod
    def from_model(cls, refund: RefundModel, currency: str) -> Refund:
        return cls(
            id=strawberry.ID(encode_id("Refund", refund.id)),
            external_id=refund.external_id,
            order_id=strawberry.ID(encode_id("Order", refund.order_id)),
            member_id=strawberry.ID(encode_id("Member", refund.member_id)),
            occurred_at=refund.occurred_at,
            amount=Money.of(refund.amount, currency),
            units=refund.units,
            reason=refund.reason,
        )


@strawberry.type(
    description=(
        "A member's purchase figures, kept up to date with every order and refund "
        "(definitions in docs/facts.md)."
    )
)
class MemberStats:
    orders_count: int = strawberry.field(description="Orders recorded (refunded ones included).")
    total_spent: Money = strawberry.field(description="Amount paid over all orders minus refunds.")
    units: int = strawberry.field(description="Units bought minus units refunded.")
    average_order_value: Money = strawberry.field(
        description=(
            "Total spent / orders count, rounded half-even to the minor unit; 0 without orders."
        )
    )
    first_order_at: datetime | None = strawberry.field(description="Time of the first order.")
    last_order_at: datetime | None = strawberry.field(description="Time of the latest order.")
    spent_last_365_days: Money = strawberry.field(
        description=(
            "Amount paid minus refunded, over the orders placed in the 365 × 24 hours before "
            "this request."
        )
    )
    refunded_total: Money = strawberry.field(description="Money refunded over all orders.")
    refunds_count: int = strawberry.field(description="Refunds recorded.")

    @classmethod
    def from_view(cls, view: StatsView, currency: str) -> MemberStats:
        return cls(
            orders_count=view.orders_count,
            total_spent=Money.of(view.total_spent, currency),
            units=view.units,
            average_order_value=Money.of(view.average_order_value, currency),
            first_order_at=view.first_order_at,
            last_order_at=view.last_order_at,
            spent_last_365_days=Money.of(view.spent_last_365_days, currency),
            refunded_total=Money.of(view.refunded_total, currency),
            refunds_count=view.refunds_count,
        )
