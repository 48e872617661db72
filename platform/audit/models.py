from __future__ import annotations

from tortoise import fields

from tessera.models_base import BrandOwned


class AuditLogEntry(BrandOwned):
    """One mutation attempt: who, what, when, in which brand, and how it ended."""

    id = fields.BigIntField(primary_key=True)
    actor_kind = fields.CharField(max_length=32)
    actor_id = fields.CharField(max_length=64, null=True)
    action = fields.CharField(max_length=100)
    outcome = fields.CharField(max_length=16, description="ok, rejected, forbidden or failed")
    details = fields.JSONField(default=dict)
    request_id = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "audit_log_entry"
        indexes = (("brand_id", "created_at"),)
