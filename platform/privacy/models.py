"""What the privacy rights need stored: the keyed digests of erased
identities, legal holds, exports waiting to be downloaded, and each brand's
retention periods."""

from __future__ import annotations

from tortoise import fields

from tessera.members.models import Member
from tessera.models_base import BrandOwned


class ErasedIdentity(BrandOwned):
    """The blind index (:func:`tessera.crypto.blind_index`) of one identity
    of an erased member, never its value: enough to recognise the identity
    when a later fact names it, so that fact does not bring the person back,
    and nothing to read the value from."""

    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=32)
    digest = fields.CharField(max_length=64, description="blind index of (kind, value)")
    erased_at = fields.DatetimeField()

    class Meta:
        table = "erased_identity"
        unique_together = (("brand_id", "digest"),)


class LegalHold(BrandOwned):
    """A member whose data must be kept (litigation, an authority's request):
    erasure, by hand or by retention, is refused while the hold is set."""

    member: fields.OneToOneRelation[Member] = fields.OneToOneField(
        "tessera.Member", related_name=False, on_delete=fields.CASCADE, primary_key=True
    )
    member_id: int
    reason = fields.CharField(max_length=500)
    set_by = fields.CharField(max_length=200, default="")
    set_at = fields.DatetimeField()

    class Meta:
        table = "legal_hold"


class MemberExport(BrandOwned):
    """One request for a member's data. ``document`` is the JSON document,
    encrypted (:func:`tessera.crypto.encrypt_json`), until it is downloaded
    (once) or expires; then it is emptied."""

    id = fields.BigIntField(primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "tessera.Member", related_name=False, on_delete=fields.CASCADE, index=False
    )
    member_id: int
    status = fields.CharField(
        max_length=16,
        default="pending",
        description="pending, ready, downloaded, expired or failed",
    )
    requested_by = fields.CharField(max_length=200, default="")
    requested_at = fields.DatetimeField()
    ready_at = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField(null=True, description="the link works until then")
    downloaded_at = fields.DatetimeField(null=True)
    document = fields.TextField(default="", description="encrypted JSON, emptied once used")
    error = fields.CharField(max_length=500, default="")

    class Meta:
        table = "member_export"
        indexes = (("brand_id", "member_id"),)


class PrivacySettings(BrandOwned):
    """A brand's retention periods, in days (``None`` keeps for ever)."""

    id = fields.IntField(primary_key=True)
    behaviour_event_days = fields.IntField(null=True)
    webhook_delivery_days = fields.IntField(null=True)
    message_log_days = fields.IntField(null=True, description="for channels' message logs")
    inactive_member_days = fields.IntField(
        null=True, description="anonymise members inactive this long"
    )
    export_link_hours = fields.IntField(default=24)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "privacy_settings"
        unique_together = (("brand_id",),)
