from __future__ import annotations

from typing import Any

from tortoise import fields

from tessera.models_base import BrandOwned


class BrandFeature(BrandOwned):
    """A component switched on (or off) for one brand, with its configuration.

    Slot kinds are instantiated as named slots, so ``instance`` names the slot,
    for the other families it is the empty string.
    """

    id = fields.IntField(primary_key=True)
    family = fields.CharField(max_length=32)
    component_key = fields.CharField(max_length=100)
    instance = fields.CharField(max_length=100, default="")
    enabled = fields.BooleanField(default=True)
    config: fields.JSONField[dict[str, Any]] = fields.JSONField(
        default=dict, description="the non-secret config fields"
    )
    secrets = fields.TextField(default="", description="secret fields, encrypted")
    last_error: str | None = fields.TextField(null=True)
    last_error_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "brand_feature"
        unique_together = (("brand_id", "component_key", "instance"),)
        indexes = (("brand_id", "family", "enabled"),)
