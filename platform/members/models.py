from __future__ import annotations

from tortoise import fields

from tessera.models_base import BrandOwned


class Member(BrandOwned):
    """A person in one brand's programme."""

    id = fields.BigIntField(primary_key=True)
    external_id = fields.CharField(max_length=128, null=True)
    card_number = fields.CharField(max_length=32)
    status = fields.CharField(max_length=16, default="active")
    name = fields.CharField(max_length=200, default="")
    joined_at = fields.DatetimeField()
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "member"
        unique_together = (("brand_id", "external_id"), ("brand_id", "card_number"))
        indexes = (("brand_id", "joined_at"),)
