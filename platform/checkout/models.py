"""Holds: points and coupons reserved for one checkout.

A hold's points are counted in the points account's ``held`` counter (never in
its balance, so balance = sum of entries holds); its coupons are marked
``held`` on the coupon row. Both change only by conditional updates in the
same transaction as the hold row (:mod:`tessera.checkout.holds`).
"""

from __future__ import annotations

from tortoise import fields

from tessera.models_base import BrandOwned

HOLD_STATUSES = ("held", "confirmed", "released", "expired")


class RewardHold(BrandOwned):
    """Points and coupons reserved for a checkout until ``expires_at`` (UTC).

    ``status`` goes from ``held`` to exactly one of ``confirmed`` (an order
    used it, ``order_id``), ``released`` (the shop gave it back) or ``expired``
    (the sweep gave it back), by a conditional update on ``status = 'held'``.
    """

    id = fields.BigIntField(primary_key=True)
    member: fields.ForeignKeyRelation = fields.ForeignKeyField(  # type: ignore[type-arg]
        "tessera.Member", related_name=False, on_delete=fields.CASCADE, index=False
    )
    member_id: int
    points = fields.BigIntField(default=0, description="points reserved")
    discount = fields.BigIntField(default=0, description="what they and the coupons are worth")
    order_amount = fields.BigIntField(null=True, description="the cart the hold was checked on")
    external_order_id = fields.CharField(max_length=128, null=True)
    status = fields.CharField(max_length=16, default="held")
    expires_at = fields.DatetimeField()
    order: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(  # type: ignore[type-arg]
        "tessera.Order", related_name=False, on_delete=fields.SET_NULL, null=True, index=False
    )
    order_id: int | None
    idempotency_key = fields.CharField(max_length=200)
    fingerprint = fields.CharField(max_length=64)
    release_key = fields.CharField(max_length=200, null=True, description="releaseHold's key")
    actor = fields.CharField(max_length=200, default="")
    created_at = fields.DatetimeField()
    settled_at = fields.DatetimeField(null=True)

    class Meta:
        table = "reward_hold"
        unique_together = (("brand_id", "idempotency_key"),)
        indexes = (("brand_id", "status", "expires_at"), ("brand_id", "member_id", "status"))


class HeldCoupon(BrandOwned):
    """A coupon reserved by a hold, in the order it was given."""

    id = fields.BigIntField(primary_key=True)
    hold: fields.ForeignKeyRelation[RewardHold] = fields.ForeignKeyField(
        "tessera.RewardHold", related_name="coupons", on_delete=fields.CASCADE, index=False
    )
    hold_id: int
    coupon: fields.ForeignKeyRelation = fields.ForeignKeyField(  # type: ignore[type-arg]
        "tessera.Coupon", related_name=False, on_delete=fields.CASCADE, index=False
    )
    coupon_id: int
    position = fields.IntField()
    discount = fields.BigIntField(description="what it takes off the held cart, minor units")

    class Meta:
        table = "held_coupon"
        unique_together = (("hold_id", "coupon_id"),)
        indexes = (("brand_id", "coupon_id"),)
