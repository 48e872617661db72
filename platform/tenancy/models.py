from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Tenant(Model):
    """A company. It owns brands and admin users."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=200)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "tenant"


class Brand(Model):
    """One membership programme. Every brand-owned row carries its id."""

    id = fields.IntField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "tessera.Tenant", related_name="brands", on_delete=fields.RESTRICT
    )
    tenant_id: int
    code = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=200)
    currency = fields.CharField(max_length=3, description="ISO 4217 code")
    timezone = fields.CharField(max_length=64, description="IANA time zone name")
    default_region = fields.CharField(
        max_length=2, default="CN", description="ISO 3166 region for phone numbers without +"
    )
    identity_key_version = fields.SmallIntField(
        default=1, db_default=1, description="the key version new identity values are sealed with"
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "brand"
