"""Templates, consent, do-not-contact, the message log and trigger rules."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from tessera.models_base import BrandOwned


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WECHAT = "wechat"
    PUSH = "push"


class Purpose(StrEnum):
    TRANSACTIONAL = "transactional"  # about the member's own account: no opt-in needed
    MARKETING = "marketing"  # needs the member's opt-in; capped and kept out of quiet hours


class MessageStatus(StrEnum):
    QUEUED = "queued"  # waiting for (another) attempt
    HELD = "held"  # the gate kept it back; ``reason`` says why; never sent
    DEFERRED = "deferred"  # quiet hours: sent at ``send_after``
    SENT = "sent"  # the provider took it
    DELIVERED = "delivered"  # a receipt says it arrived
    FAILED = "failed"  # given up; ``reason`` says why
    REJECTED = "rejected"  # the provider says the recipient cannot be reached


class DoNotContactReason(StrEnum):
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINT = "complaint"
    MANUAL = "manual"
    PROVIDER_REJECTED = "provider_rejected"


class MessageTemplate(BrandOwned):
    """What a message says on one channel, as Jinja2 source (sandboxed)."""

    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=100)
    channel = fields.CharEnumField(Channel, max_length=16)
    subject = fields.CharField(max_length=500, default="", description="email only")
    body = fields.TextField(description="the text (an email's text part)")
    html = fields.TextField(default="", description="an email's HTML part, empty for none")
    provider_template = fields.CharField(
        max_length=100, default="", description="a provider's registered template code, if any"
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "message_template"
        unique_together = (("brand_id", "name"),)


class ChannelSettings(BrandOwned):
    """A brand's contact rules: quiet hours (brand-local) and frequency caps.

    ``caps`` is a list of ``{"channel": "sms" | "*", "limit": n, "hours": h}``:
    at most ``limit`` marketing messages per member on the channel ("*": all
    channels together) in any ``hours``."""

    id = fields.IntField(primary_key=True)
    # HH:MM text: a TIME column does not travel through Tortoise on SQLite.
    quiet_start = fields.CharField(max_length=5, null=True, description="brand-local, e.g. 21:00")
    quiet_end = fields.CharField(max_length=5, null=True, description="brand-local, e.g. 08:00")
    caps = fields.JSONField(default=list)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "channel_settings"
        unique_together = (("brand_id",),)


class ChannelConsent(BrandOwned):
    """A member's yes or no to one channel and purpose, with where it came from."""

    id = fields.BigIntField(primary_key=True)
    member: fields.ForeignKeyRelation = fields.ForeignKeyField(  # type: ignore[type-arg]
        "tessera.Member", related_name=False, on_delete=fields.CASCADE, index=False
    )
    member_id: int
    channel = fields.CharEnumField(Channel, max_length=16)
    purpose = fields.CharEnumField(Purpose, max_length=16)
    granted = fields.BooleanField()
    source = fields.CharField(
        max_length=64, description="api, member, admin, unsubscribe_link, receipt"
    )
    updated_at = fields.DatetimeField()

    class Meta:
        table = "channel_consent"
        unique_together = (("brand_id", "member_id", "channel", "purpose"),)


class DoNotContact(BrandOwned):
    """Never send to this member on this channel, whatever the purpose."""

    id = fields.BigIntField(primary_key=True)
    member: fields.ForeignKeyRelation = fields.ForeignKeyField(  # type: ignore[type-arg]
        "tessera.Member", related_name=False, on_delete=fields.CASCADE, index=False
    )
    member_id: int
    channel = fields.CharEnumField(Channel, max_length=16)
    reason = fields.CharEnumField(DoNotContactReason, max_length=24)
    detail = fields.CharField(max_length=500, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "do_not_contact"
        unique_together = (("brand_id", "member_id", "channel"),)


class Message(BrandOwned):
    """One message to one member, from the gate's decision to its last receipt."""

    id = fields.BigIntField(primary_key=True)
    member: fields.ForeignKeyRelation = fields.ForeignKeyField(  # type: ignore[type-arg]
        "tessera.Member", related_name=False, on_delete=fields.CASCADE, index=False
    )
    member_id: int
    channel = fields.CharEnumField(Channel, max_length=16)
    purpose = fields.CharEnumField(Purpose, max_length=16)
    template: fields.ForeignKeyNullableRelation[MessageTemplate] = fields.ForeignKeyField(
        "tessera.MessageTemplate", related_name=False, on_delete=fields.SET_NULL, null=True
    )
    template_id: int | None
    source = fields.CharField(
        max_length=64, description="trigger:<event>, api, admin, campaign:<id>"
    )
    variables = fields.JSONField(default=dict, description="extra template variables")
    idempotency_key = fields.CharField(max_length=200)
    status = fields.CharEnumField(MessageStatus, max_length=16)
    reason = fields.CharField(max_length=500, default="")
    provider = fields.CharField(max_length=64, default="", description="the sender's key")
    provider_id = fields.CharField(max_length=200, null=True)
    attempts = fields.IntField(default=0)
    send_after = fields.DatetimeField(description="not before this (caps count by it)")
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)
    delivered_at = fields.DatetimeField(null=True)
    opened_at = fields.DatetimeField(null=True)
    clicked_at = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "message"
        unique_together = (("brand_id", "member_id", "idempotency_key"),)
        indexes = (("brand_id", "member_id", "send_after"), ("brand_id", "provider_id"))


class TriggerRule(BrandOwned):
    """Send ``template`` when ``event`` happens to a member, after ``delay_minutes``."""

    id = fields.BigIntField(primary_key=True)
    event = fields.CharField(max_length=64)
    template: fields.ForeignKeyRelation[MessageTemplate] = fields.ForeignKeyField(
        "tessera.MessageTemplate", related_name=False, on_delete=fields.RESTRICT
    )
    template_id: int
    purpose = fields.CharEnumField(Purpose, max_length=16)
    delay_minutes = fields.IntField(default=0)
    segment_id = fields.BigIntField(null=True, description="segment.entered: only this segment")
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "trigger_rule"
        indexes = (("brand_id", "event", "active"),)
