"""Coupon templates, the coupons issued from them, and their redemptions.

Money is integer minor units of the brand's currency. Stock and per-member
limits move only through conditional updates of the counters here
(:mod:`tessera.coupons.issuing`), never by counting rows in Python.
"""

from __future__ import annotations

from tortoise import fields

from tessera.models_base import BrandOwned


class CouponTemplate(BrandOwned):
    """What a coupon is worth and who may get how many.

    Validity is either a fixed window of dates (``valid_from_date`` ..
    ``valid_until_date``, whole days in the brand's timezone) or ``valid_days``
    counted from the day of issue. ``issued_count`` only grows, by a
    conditional update that keeps it within ``total_stock``.
    """

    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(
        max_length=16, description="amount_off, percent_off, gift, free_shipping"
    )
    title = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    amount_off = fields.BigIntField(null=True, description="amount_off: minor units")
    percent_off = fields.IntField(null=True, description="percent_off: 1-100")
    max_discount = fields.BigIntField(null=True, description="percent_off: optional cap")
    gift_sku = fields.CharField(max_length=64, null=True, description="gift: the item given")
    min_spend = fields.BigIntField(default=0, description="minor units, 0 for none")
    categories = fields.JSONField(default=list, description="applies only to these, [] for all")
    valid_from_date = fields.DateField(null=True)
    valid_until_date = fields.DateField(null=True)
    valid_days = fields.IntField(null=True)
    total_stock = fields.IntField(null=True, description="null for unlimited")
    issued_count = fields.IntField(default=0)
    per_member_limit = fields.IntField(null=True, description="null for unlimited")
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "coupon_template"
        indexes = (("brand_id", "active"),)


class CouponAllowance(BrandOwned):
    """How many coupons of one template a member has been issued: the row the
    per-member limit is enforced on with ``issued < limit`` updates."""

    id = fields.BigIntField(primary_key=True)
    template: fields.ForeignKeyRelation[CouponTemplate] = fields.ForeignKeyField(
        "tessera.CouponTemplate", related_name=False, on_delete=fields.CASCADE, index=False
    )
    template_id: int
    member: fields.ForeignKeyRelation = fields.ForeignKeyField(  # type: ignore[type-arg]
        "tessera.Member", related_name=False, on_delete=fields.CASCADE, index=False
    )
    member_id: int
    issued = fields.IntField(default=0)

    class Meta:
        table = "coupon_allowance"
        unique_together = (("template_id", "member_id"),)


class Coupon(BrandOwned):
    """One coupon held by one member.

    ``status`` is stored as available, redeemed or voided, an available coupon
    past ``expires_at`` reads as expired (no job has to flip it).
    """

    id = fields.BigIntField(primary_key=True)
    template: fields.ForeignKeyRelation[CouponTemplate] = fields.ForeignKeyField(
        "tessera.CouponTemplate", related_name="coupons", on_delete=fields.RESTRICT, index=False
    )
    template_id: int
    member: fields.ForeignKeyRelation = fields.ForeignKeyField(  # type: ignore[type-arg]
        "tessera.Member", related_name=False, on_delete=fields.CASCADE, index=False
    )
    member_id: int
    code = fields.CharField(max_length=24)
    status = fields.CharField(max_length=16, default="available")
    issued_at = fields.DatetimeField()
    valid_from = fields.DatetimeField()
    expires_at = fields.DatetimeField(description="exclusive: usable while now < expires_at")
    idempotency_key = fields.CharField(max_length=200)
    fingerprint = fields.CharField(max_length=64)
    redeemed_at = fields.DatetimeField(null=True)
    voided_at = fields.DatetimeField(null=True)
    void_reason = fields.CharField(max_length=500, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "coupon"
        unique_together = (("brand_id", "code"), ("brand_id", "idempotency_key"))
        indexes = (("brand_id", "member_id", "status"), ("brand_id", "template_id"))


class CouponRedemption(BrandOwned):
    """A coupon used on an order. The order is a recorded one (``order_id``) or
    one a checkout has not recorded yet (``external_order_id``), either way a
    full refund of it puts the coupon back (``restored_at``)."""

    id = fields.BigIntField(primary_key=True)
    coupon: fields.ForeignKeyRelation[Coupon] = fields.ForeignKeyField(
        "tessera.Coupon", related_name="redemptions", on_delete=fields.CASCADE, index=False
    )
    coupon_id: int
    member: fields.ForeignKeyRelation = fields.ForeignKeyField(  # type: ignore[type-arg]
        "tessera.Member", related_name=False, on_delete=fields.CASCADE, index=False
    )
    member_id: int
    order: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(  # type: ignore[type-arg]
        "tessera.Order", related_name=False, on_delete=fields.SET_NULL, null=True, index=False
    )
    order_id: int | None
    external_order_id = fields.CharField(max_length=128, null=True)
    order_amount = fields.BigIntField(description="the amount the coupon was checked against")
    discount = fields.BigIntField(description="money off the order, minor units")
    idempotency_key = fields.CharField(max_length=200)
    fingerprint = fields.CharField(max_length=64)
    actor = fields.CharField(max_length=100, default="")
    redeemed_at = fields.DatetimeField()
    restored_at = fields.DatetimeField(null=True)

    class Meta:
        table = "coupon_redemption"
        unique_together = (("brand_id", "idempotency_key"),)
        indexes = (
            ("brand_id", "coupon_id"),
            ("brand_id", "order_id"),
            ("brand_id", "external_order_id"),
        )
