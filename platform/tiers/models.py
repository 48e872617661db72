"""Tier definitions, the tier each member holds, and every change of it."""

from __future__ import annotations

from tortoise import fields

from tessera.models_base import BrandOwned


class TierDefinition(BrandOwned):
    """One tier of a brand's programme. ``rank`` orders tiers (higher is
    better) and is unique per brand, ``benefits`` is a list of typed items
    (:mod:`tessera.tiers.benefits`), the upgrade gift is granted once per
    upgrade into this tier."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=32)
    name = fields.CharField(max_length=100)
    rank = fields.IntField()
    benefits = fields.JSONField(default=list)
    gift_points = fields.IntField(default=0, description="upgrade gift: points")
    gift_coupon_template_ids = fields.JSONField(default=list, description="upgrade gift: coupons")
    validity_months = fields.IntField(null=True, description="null: the tier never expires")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "tier_definition"
        unique_together = (("brand_id", "code"), ("brand_id", "rank"))


class MemberTierState(BrandOwned):
    """The tier a member holds now, no row means no tier yet.

    ``expires_at`` is the member's next evaluation point (validity end),
    ``lapsed_tier`` the tier a review took away, until an upgrade."""

    member: fields.OneToOneRelation = fields.OneToOneField(  # type: ignore[type-arg]
        "tessera.Member", related_name=False, on_delete=fields.CASCADE, primary_key=True
    )
    member_id: int
    tier: fields.ForeignKeyNullableRelation[TierDefinition] = fields.ForeignKeyField(
        "tessera.TierDefinition", related_name=False, on_delete=fields.RESTRICT, null=True
    )
    tier_id: int | None
    since = fields.DatetimeField()
    expires_at = fields.DatetimeField(null=True)
    lapsed_tier: fields.ForeignKeyNullableRelation[TierDefinition] = fields.ForeignKeyField(
        "tessera.TierDefinition", related_name=False, on_delete=fields.SET_NULL, null=True
    )
    lapsed_tier_id: int | None
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "member_tier_state"
        indexes = (("brand_id", "expires_at"),)


class TierHistory(BrandOwned):
    """One change of a member's tier (append-only). ``reason`` is upgrade,
    downgrade, renewed, reactivated or manual, ``policy_key`` the tier policy
    that decided it."""

    id = fields.BigIntField(primary_key=True)
    member: fields.ForeignKeyRelation = fields.ForeignKeyField(  # type: ignore[type-arg]
        "tessera.Member", related_name=False, on_delete=fields.CASCADE, index=False
    )
    member_id: int
    from_tier: fields.ForeignKeyNullableRelation[TierDefinition] = fields.ForeignKeyField(
        "tessera.TierDefinition", related_name=False, on_delete=fields.SET_NULL, null=True
    )
    from_tier_id: int | None
    to_tier: fields.ForeignKeyNullableRelation[TierDefinition] = fields.ForeignKeyField(
        "tessera.TierDefinition", related_name=False, on_delete=fields.SET_NULL, null=True
    )
    to_tier_id: int | None
    reason = fields.CharField(max_length=16)
    policy_key = fields.CharField(max_length=100, default="")
    source = fields.CharField(max_length=160, default="", description="the triggering fact")
    at = fields.DatetimeField()
    expires_at = fields.DatetimeField(null=True, description="the validity it started")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "tier_history"
        unique_together = (("brand_id", "member_id", "source"),)
        indexes = (("brand_id", "member_id", "at"),)
