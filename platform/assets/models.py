"""Member assets as ledgers: points, stored value (minor units) and growth value.

An :class:`AssetAccount` holds a member's materialised balance of one kind,
:class:`LedgerEntry` rows are append-only and always sum to it (see
:mod:`tessera.assets.service` for how pending points are counted),
:class:`PointsLot` rows say which earned points are still there and when they
expire. Only :mod:`tessera.assets.service` and the jobs write these tables.
"""

from __future__ import annotations

from tortoise import fields

from tessera.models_base import BrandOwned

KINDS = ("points", "stored_value", "growth")
ENTRY_TYPES = (
    "earn",
    "redeem",
    "expire",
    "adjust",
    "reverse",
    "top_up",
    "spend",
    "pending",
    "release",
    "cancel",
    "refund",
    "merge",
)
# Entry types that move the pending amount rather than the balance.
PENDING_ONLY = ("pending", "cancel")
LOT_STATUSES = ("pending", "available", "expired", "cancelled")


class AssetAccount(BrandOwned):
    """One member's balance of one kind. ``balance`` and ``pending`` change only
    through conditional SQL updates in the same transaction as their entry.
    ``reserved`` is the part of the balance open checkout holds keep
    (:mod:`tessera.checkout.holds`): no spend may take the balance below it."""

    id = fields.BigIntField(primary_key=True)
    member: fields.ForeignKeyRelation = fields.ForeignKeyField(  # type: ignore[type-arg]
        "tessera.Member", related_name="asset_accounts", on_delete=fields.CASCADE, index=False
    )
    member_id: int
    kind = fields.CharField(max_length=16, description="points, stored_value or growth")
    balance = fields.BigIntField(default=0, description="available now, minor units for money")
    pending = fields.BigIntField(default=0, description="held points, not yet available")
    reserved = fields.BigIntField(
        default=0, description="part of the balance open checkout holds reserve"
    )
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "asset_account"
        unique_together = (("brand_id", "member_id", "kind"),)


class LedgerEntry(BrandOwned):
    """One movement of an account, never updated or deleted."""

    id = fields.BigIntField(primary_key=True)
    account: fields.ForeignKeyRelation[AssetAccount] = fields.ForeignKeyField(
        "tessera.AssetAccount", related_name="entries", on_delete=fields.CASCADE, index=False
    )
    account_id: int
    member: fields.ForeignKeyRelation = fields.ForeignKeyField(  # type: ignore[type-arg]
        "tessera.Member", related_name="ledger_entries", on_delete=fields.CASCADE, index=False
    )
    member_id: int
    kind = fields.CharField(max_length=16)
    entry_type = fields.CharField(max_length=16)
    amount = fields.BigIntField(description="signed: what this entry added to its account")
    balance_after = fields.BigIntField(description="the account's balance after this entry")
    reason = fields.CharField(max_length=500, default="")
    source_type = fields.CharField(max_length=32, default="", description="order, campaign, rule…")
    source_ref = fields.CharField(max_length=128, null=True)
    idempotency_key = fields.CharField(max_length=200)
    fingerprint = fields.CharField(max_length=64, description="sha256 of the request")
    actor = fields.CharField(max_length=200, default="")
    occurred_at = fields.DatetimeField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "ledger_entry"
        unique_together = (("brand_id", "idempotency_key"),)
        indexes = (
            ("brand_id", "member_id", "kind", "occurred_at"),
            ("brand_id", "account_id"),
            ("brand_id", "source_type", "source_ref"),
        )


class PointsLot(BrandOwned):
    """Points earned together, consumed soonest-expiring first.

    ``expires_at`` is the instant they lapse (the end of their last day in the
    brand's timezone), ``available_at`` the instant pending points are released.
    """

    id = fields.BigIntField(primary_key=True)
    account: fields.ForeignKeyRelation[AssetAccount] = fields.ForeignKeyField(
        "tessera.AssetAccount", related_name="lots", on_delete=fields.CASCADE, index=False
    )
    account_id: int
    entry: fields.ForeignKeyRelation[LedgerEntry] = fields.ForeignKeyField(
        "tessera.LedgerEntry", related_name="lots", on_delete=fields.CASCADE, index=False
    )
    entry_id: int
    amount = fields.BigIntField()
    remaining = fields.BigIntField()
    earned_at = fields.DatetimeField()
    expires_at = fields.DatetimeField(null=True)
    status = fields.CharField(max_length=16, description="pending, available, expired, cancelled")
    available_at = fields.DatetimeField(null=True)
    warned_at = fields.DatetimeField(null=True, description="points.expiring_soon sent")

    class Meta:
        table = "points_lot"
        indexes = (
            ("brand_id", "account_id", "status"),
            ("brand_id", "status", "expires_at"),
            ("brand_id", "status", "available_at"),
            ("brand_id", "entry_id"),
        )


class PointsPolicy(BrandOwned):
    """A brand's points rules of time and debt, a brand without a row uses the
    defaults of :class:`tessera.assets.policy.PolicyValues`."""

    id = fields.IntField(primary_key=True)
    expiry_mode = fields.CharField(max_length=24, default="never")
    expiry_months = fields.IntField(default=12)
    expiry_years = fields.IntField(default=1)
    pending_days = fields.IntField(default=0)
    negative_balance = fields.CharField(max_length=24, default="allow_negative")
    expiring_soon_days = fields.IntField(default=7)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "points_policy"
        unique_together = (("brand_id",),)
