from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from tessera.models_base import BrandOwned


class ApiKey(BrandOwned):
    """A brand's server-side credential. Only a hash of the secret is kept."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    prefix = fields.CharField(max_length=16, unique=True, description="public part of the key")
    secret_hash = fields.CharField(max_length=64, description="sha256 of the whole key")
    scopes = fields.JSONField(default=list)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_key"
        indexes = (("brand_id", "created_at"),)


class AdminUser(Model):
    """An operator of the admin UI. Belongs to a tenant, has a role per brand."""

    id = fields.IntField(primary_key=True)
    tenant: fields.ForeignKeyRelation = fields.ForeignKeyField(  # type: ignore[type-arg]
        "tessera.Tenant", related_name="admin_users", on_delete=fields.CASCADE
    )
    tenant_id: int
    email = fields.CharField(max_length=254, unique=True)
    name = fields.CharField(max_length=200, default="")
    password_hash = fields.CharField(max_length=200)
    is_active = fields.BooleanField(default=True)
    locale = fields.CharField(
        max_length=16, default="", description="UI language, empty for the browser language"
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    last_login_at = fields.DatetimeField(null=True)

    class Meta:
        table = "admin_user"


class AdminRole(BrandOwned):
    """What one admin user may do in one brand: the same scopes as an API key."""

    id = fields.IntField(primary_key=True)
    admin_user: fields.ForeignKeyRelation[AdminUser] = fields.ForeignKeyField(
        "tessera.AdminUser", related_name="roles", on_delete=fields.CASCADE
    )
    admin_user_id: int
    role = fields.CharField(
        max_length=16, default="viewer", description="owner, operator, analyst or viewer"
    )
    scopes = fields.JSONField(default=list, description="the API scopes the role maps to")

    class Meta:
        table = "admin_role"
        unique_together = (("brand_id", "admin_user_id"),)


class AdminLoginFailure(Model):
    """One refused sign-in, kept in the database so throttling holds across
    processes; the rows of an email and address go on a successful sign-in."""

    id = fields.BigIntField(primary_key=True)
    email = fields.CharField(max_length=254)
    ip = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "admin_login_failure"
        indexes = (("email", "ip", "created_at"),)


class AdminFormSubmission(BrandOwned):
    """The idempotency key of an admin form whose operation takes none in the
    API (creating a key, a coupon template, a webhook): the first request to
    insert it does the work, a second (a double click, a reload) finds it."""

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "admin_form_submission"
        unique_together = (("brand_id", "key"),)
