"""Check-ins and referrals: the activity facts that need a row of their own."""

from __future__ import annotations

from tortoise import fields

from tessera.models_base import BrandOwned


class CheckIn(BrandOwned):
    """A member's daily check-in, one per local day (the brand's timezone).
    ``streak`` counts consecutive days up to and including this one."""

    id = fields.BigIntField(primary_key=True)
    member: fields.ForeignKeyRelation = fields.ForeignKeyField(  # type: ignore[type-arg]
        "tessera.Member", related_name=False, on_delete=fields.CASCADE, index=False
    )
    member_id: int
    day = fields.DateField(description="the brand-local day")
    streak = fields.IntField()
    points = fields.IntField(default=0, description="points awarded for it, all rules")
    at = fields.DatetimeField()

    class Meta:
        table = "check_in"
        unique_together = (("brand_id", "member_id", "day"),)


class Referral(BrandOwned):
    """Who referred whom, a referee is referred once."""

    id = fields.BigIntField(primary_key=True)
    referrer: fields.ForeignKeyRelation = fields.ForeignKeyField(  # type: ignore[type-arg]
        "tessera.Member", related_name=False, on_delete=fields.CASCADE, index=False
    )
    referrer_id: int
    referee: fields.ForeignKeyRelation = fields.ForeignKeyField(  # type: ignore[type-arg]
        "tessera.Member", related_name=False, on_delete=fields.CASCADE, index=False
    )
    referee_id: int
    at = fields.DatetimeField()

    class Meta:
        table = "referral"
        unique_together = (("brand_id", "referee_id"),)
