"""Behaviour events: what members do (view, search, add to cart, visit a
store...), recorded by frontends. Named "behaviour" so they are not confused
with the domain events the plugin host delivers."""

from __future__ import annotations

from typing import Any

from tortoise import fields

from tessera.members.models import Member
from tessera.models_base import BrandOwned


class BehaviourEvent(BrandOwned):
    """One thing a member did, recorded once per ``(brand, event_id)``."""

    id = fields.BigIntField(primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "tessera.Member", related_name=False, on_delete=fields.CASCADE, index=False
    )
    member_id: int
    event_id = fields.CharField(max_length=128, description="the caller's id, for idempotency")
    type = fields.CharField(max_length=64)
    occurred_at = fields.DatetimeField()
    properties: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    fingerprint = fields.CharField(max_length=64, description="sha256 of the recorded input")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "behaviour_event"
        unique_together = (("brand_id", "event_id"),)
        indexes = (("brand_id", "member_id", "occurred_at"),)
