"""A campaign and its recipients: the audience frozen at launch."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from tessera.channels.models import Channel, MessageTemplate, Purpose
from tessera.models_base import BrandOwned


class CampaignStatus(StrEnum):
    DRAFT = "draft"  # editable, nothing frozen
    SCHEDULED = "scheduled"  # launched with a start in the future
    PREPARING = "preparing"  # the audience snapshot and holdout are being written
    SENDING = "sending"  # batches going out
    PAUSED = "paused"  # no new batch starts; resume goes on where it stopped
    CANCELLED = "cancelled"  # no new batch starts, ever; sent messages stay sent
    COMPLETED = "completed"  # every recipient has its message (or its reason not to)


class Campaign(BrandOwned):
    """One send of one template to one segment, frozen at launch."""

    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=100)
    segment_id = fields.BigIntField(
        null=True, description="the audience, its members copied at launch"
    )
    template: fields.ForeignKeyRelation[MessageTemplate] = fields.ForeignKeyField(
        "tessera.MessageTemplate", related_name=False, on_delete=fields.RESTRICT
    )
    template_id: int
    channel = fields.CharEnumField(Channel, max_length=16, description="the template's")
    purpose = fields.CharEnumField(Purpose, max_length=16, default=Purpose.MARKETING)
    holdout_share = fields.DecimalField(
        max_digits=5, decimal_places=4, default=0, description="0 to 0.5, kept out at random"
    )
    send_at = fields.DatetimeField(null=True, description="start no earlier, null: at launch")
    throttle_per_minute = fields.IntField(null=True, description="messages per minute, null: none")
    attribution_days = fields.IntField(default=7)
    cost_per_message = fields.DecimalField(
        max_digits=12, decimal_places=4, default=0, description="the sender's price, at launch"
    )
    status = fields.CharEnumField(CampaignStatus, max_length=16, default=CampaignStatus.DRAFT)
    last_error = fields.TextField(default="")
    launched_at = fields.DatetimeField(null=True)
    completed_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "campaign"
        unique_together = (("brand_id", "name"),)
        indexes = (("brand_id", "status"),)


class CampaignRecipient(BrandOwned):
    """A member frozen into a campaign's audience at launch: in the holdout
    (never sent, the comparison group) or to be sent one message.

    ``message_id`` is set in the transaction that records the gate's decision,
    whose message carries the idempotency key ``campaign:<id>``: a retried
    batch finds the message and sends nothing twice."""

    id = fields.BigIntField(primary_key=True)
    campaign: fields.ForeignKeyRelation[Campaign] = fields.ForeignKeyField(
        "tessera.Campaign", related_name=False, on_delete=fields.CASCADE, index=False
    )
    campaign_id: int
    member: fields.ForeignKeyRelation = fields.ForeignKeyField(  # type: ignore[type-arg]
        "tessera.Member", related_name=False, on_delete=fields.CASCADE, index=False
    )
    member_id: int
    holdout = fields.BooleanField(default=False)
    batch = fields.IntField(description="the send batch, numbered from 0")
    message_id = fields.BigIntField(null=True, description="the message, once decided")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "campaign_recipient"
        unique_together = (("campaign_id", "member_id"),)
        indexes = (("brand_id", "member_id"), ("campaign_id", "batch"))


class AttributionDay(BrandOwned):
    """How often the facts of one of the brand's local days changed: bumped
    with the day's dirty mark (an order placed, changed or refunded, a
    member merged or erased), in the same transaction, and never reset, so a
    stored result can tell whether any day of its window changed since
    (tessera.campaigns.stored, docs/campaign-attribution.md)."""

    id = fields.BigIntField(primary_key=True)
    day = fields.DateField(description="the brand's local calendar day")
    version = fields.BigIntField(default=0)

    class Meta:
        table = "campaign_attribution_day"
        unique_together = (("brand_id", "day"),)


class StoredResults(BrandOwned):
    """A closed campaign's attribution rows as the live statement gives them,
    valid while the days of its window keep the versions they had
    (tessera.campaigns.stored)."""

    id = fields.BigIntField(primary_key=True)
    campaign: fields.ForeignKeyRelation[Campaign] = fields.ForeignKeyField(
        "tessera.Campaign", related_name=False, on_delete=fields.CASCADE, unique=True
    )
    campaign_id: int
    days = fields.IntField(description="the attribution window computed")
    timezone = fields.CharField(max_length=64, description="the brand's, naming the days")
    first_day = fields.DateField(description="the window's first local day")
    last_day = fields.DateField(description="the window's last local day")
    versions = fields.BigIntField(description="Σ versions of the window's days when computed")
    computed_at = fields.DatetimeField(description="taken before the statement ran")
    rows = fields.JSONField(default=list, description="[group, day, members, orders, revenue]")

    class Meta:
        table = "campaign_stored_results"
