"""Orders and refunds recorded from shops and POS, and the per-member
statistics derived from them. Money is integer minor units of the brand's
currency (see :mod:`tessera.orders.money`)."""

from __future__ import annotations

from tortoise import fields

from tessera.members.models import Member
from tessera.models_base import BrandOwned


class Order(BrandOwned):
    """A purchase, recorded once per ``(brand, external_id)``.

    ``refunded_amount`` and ``refunded_units`` only ever grow through a
    conditional update that keeps them within ``amount_paid`` and ``units``.
    """

    id = fields.BigIntField(primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "tessera.Member", related_name="orders", on_delete=fields.CASCADE, index=False
    )
    member_id: int
    external_id = fields.CharField(max_length=128)
    store_code = fields.CharField(max_length=64, null=True)
    channel = fields.CharField(max_length=32, null=True)
    occurred_at = fields.DatetimeField()
    amount_paid = fields.BigIntField(description="what the member paid, minor units")
    retail_amount = fields.BigIntField(description="original retail value, minor units")
    discount = fields.BigIntField(description="discounts and coupons, minor units")
    coupon_codes: fields.JSONField[list[str]] = fields.JSONField(default=list)
    units = fields.IntField(description="sum of the lines' quantities")
    refunded_amount = fields.BigIntField(default=0)
    refunded_units = fields.IntField(default=0)
    fingerprint = fields.CharField(max_length=64, description="sha256 of the recorded input")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "sales_order"
        unique_together = (("brand_id", "external_id"),)
        # The second: reports read a brand's orders by time (docs/reports.md).
        indexes = (("brand_id", "member_id", "occurred_at"), ("brand_id", "occurred_at"))


class OrderLine(BrandOwned):
    """One item of an order. ``paid_amount`` is the line's share of the order's
    ``amount_paid`` (order-level discounts spread over the lines by value), so a
    refund by lines returns what was actually paid for them."""

    id = fields.BigIntField(primary_key=True)
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "tessera.Order", related_name="lines", on_delete=fields.CASCADE, index=False
    )
    order_id: int
    line_no = fields.IntField(description="position in the recorded order, from 0")
    sku = fields.CharField(max_length=64)
    name = fields.CharField(max_length=200, default="")
    category = fields.CharField(max_length=100, null=True)
    quantity = fields.IntField()
    unit_price = fields.BigIntField(description="deal price per unit, minor units")
    retail_price = fields.BigIntField(description="original retail price per unit")
    paid_amount = fields.BigIntField()
    refunded_quantity = fields.IntField(default=0)
    refunded_amount = fields.BigIntField(default=0)

    class Meta:
        table = "order_line"
        unique_together = (("order_id", "line_no"),)


class Refund(BrandOwned):
    """Money (and possibly goods) returned on one order, recorded once per
    ``(brand, external_id)``. ``member_id`` repeats the order's so statistics
    can be rebuilt with one aggregate query."""

    id = fields.BigIntField(primary_key=True)
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "tessera.Order", related_name="refunds", on_delete=fields.CASCADE
    )
    order_id: int
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "tessera.Member", related_name=False, on_delete=fields.CASCADE, index=False
    )
    member_id: int
    external_id = fields.CharField(max_length=128)
    occurred_at = fields.DatetimeField()
    amount = fields.BigIntField(description="refunded money, minor units")
    units = fields.IntField(description="refunded units (0 for a money-only refund)")
    reason = fields.CharField(max_length=500, null=True)
    fingerprint = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "refund"
        unique_together = (("brand_id", "external_id"),)
        indexes = (("brand_id", "member_id"),)


class RefundLine(BrandOwned):
    """What a refund by lines took back from one order line."""

    id = fields.BigIntField(primary_key=True)
    refund: fields.ForeignKeyRelation[Refund] = fields.ForeignKeyField(
        "tessera.Refund", related_name="lines", on_delete=fields.CASCADE
    )
    refund_id: int
    order_line: fields.ForeignKeyRelation[OrderLine] = fields.ForeignKeyField(
        "tessera.OrderLine", related_name=False, on_delete=fields.CASCADE, index=False
    )
    order_line_id: int
    quantity = fields.IntField()
    amount = fields.BigIntField()

    class Meta:
        table = "refund_line"


class MemberStats(BrandOwned):
    """Per-member purchase figures, changed in the same transaction as every
    order and refund, and rebuildable from them (:mod:`tessera.orders.stats`).

    Gross figures are stored, net ones (spent minus refunded) are derived on
    read. Spend in the last 365 days is not stored: it is computed on read from
    the orders, so it never goes stale.
    """

    member: fields.OneToOneRelation[Member] = fields.OneToOneField(
        "tessera.Member", related_name=False, on_delete=fields.CASCADE, primary_key=True
    )
    member_id: int
    orders_count = fields.IntField(default=0)
    gross_spent = fields.BigIntField(default=0)
    units_bought = fields.IntField(default=0)
    first_order_at = fields.DatetimeField(null=True)
    last_order_at = fields.DatetimeField(null=True)
    refunds_count = fields.IntField(default=0)
    refunded_total = fields.BigIntField(default=0)
    refunded_units = fields.IntField(default=0)

    class Meta:
        table = "member_stats"
        indexes = (("brand_id", "gross_spent"), ("brand_id", "last_order_at"))
