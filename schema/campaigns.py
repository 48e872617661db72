"""Campaigns: drafts, launch, pause, resume, cancel and live counts
(docs/campaigns.md). Reading needs the read scope; every change the manage
scope. Results against the holdout are ``campaignResults``."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry
from strawberry.types import Info

from tessera.campaigns import models, sending, service
from tessera.schema.channels import ChannelKind, MessagePurpose
from tessera.schema.errors import UserError
from tessera.schema.ids import encode_id, id_for_lookup, require_id
from tessera.schema.pagination import Connection, Window, paginate
from tessera.schema.permissions import CanManage, CanRead

CampaignStatus = strawberry.enum(
    models.CampaignStatus,
    name="CampaignStatus",
    description="DRAFT: editable; SCHEDULED: launched, starts at sendAt; PREPARING: the "
    "audience is being copied; SENDING: batches going out; PAUSED: no new batch until "
    "resumed; CANCELLED: no new batch ever; COMPLETED: every recipient decided.",
)


@strawberry.type(description="A count of messages with one reason.")
class ReasonCount:
    reason: str = strawberry.field(description="e.g. `no_consent`, `frequency_cap:sms:1/24h`.")
    count: int = strawberry.field(description="Recipients.")


@strawberry.type(description="Where a campaign's recipients are, counted live.")
class CampaignCounts:
    audience: int = strawberry.field(description="Recipients copied at the start.")
    holdout: int = strawberry.field(description="Kept out at random (never sent).")
    targeted: int = strawberry.field(description="Recipients to be sent (audience - holdout).")
    undecided: int = strawberry.field(description="Targeted, their batch not yet decided.")
    held: int = strawberry.field(description="Held back by the gate (or a cancel).")
    held_by_reason: list[ReasonCount] = strawberry.field(description="Held, by reason.")
    deferred: int = strawberry.field(description="Waiting for the end of quiet hours.")
    queued: int = strawberry.field(description="Waiting for (another) send attempt.")
    sent: int = strawberry.field(description="Taken by the provider (delivered included).")
    delivered: int = strawberry.field(description="A receipt said it arrived.")
    failed: int = strawberry.field(description="Given up.")
    failed_by_reason: list[ReasonCount] = strawberry.field(description="Failed, by reason.")
    rejected: int = strawberry.field(description="The provider said unreachable.")
    opened: int = strawberry.field(description="Opened (receipts).")
    clicked: int = strawberry.field(description="Clicked (receipts).")


def _reasons(counts: dict[str, int]) -> list[ReasonCount]:
    return [ReasonCount(reason=k, count=v) for k, v in sorted(counts.items())]


@strawberry.type(description="One template sent to one segment's members, frozen at launch.")
class Campaign:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    name: str = strawberry.field(description="Unique within the brand.")
    status: CampaignStatus = strawberry.field(description="Where it stands.")  # type: ignore[valid-type]
    segment_id: strawberry.ID | None = strawberry.field(description="The audience's segment.")
    template_id: strawberry.ID = strawberry.field(description="The message template.")
    channel: ChannelKind = strawberry.field(description="The template's channel.")  # type: ignore[valid-type]
    purpose: MessagePurpose = strawberry.field(description="Marketing or transactional.")  # type: ignore[valid-type]
    holdout_share: Decimal = strawberry.field(description="0 to 0.5, kept out at random.")
    send_at: datetime | None = strawberry.field(description="Start no earlier; null: at launch.")
    throttle_per_minute: int | None = strawberry.field(description="Messages a minute; null: none.")
    attribution_days: int = strawberry.field(description="Days after a send that count.")
    cost_per_message: Decimal = strawberry.field(description="The sender's price per message.")
    last_error: str = strawberry.field(
        description="Why its channel's sender cannot send (empty: nothing wrong); its messages "
        "then fail with the reason and show in the counts."
    )
    launched_at: datetime | None = strawberry.field(description="When it was launched.")
    completed_at: datetime | None = strawberry.field(description="When every batch was decided.")
    created_at: datetime = strawberry.field(description="Created.")
    pk: strawberry.Private[int]

    @classmethod
    def from_model(cls, row: models.Campaign) -> Campaign:
        return cls(
            id=strawberry.ID(encode_id("Campaign", row.id)),
            name=row.name,
            status=row.status,
            segment_id=strawberry.ID(encode_id("Segment", row.segment_id))
            if row.segment_id is not None
            else None,
            template_id=strawberry.ID(encode_id("MessageTemplate", row.template_id)),
            channel=row.channel,
            purpose=row.purpose,
            holdout_share=row.holdout_share,
            send_at=row.send_at,
            throttle_per_minute=row.throttle_per_minute,
            attribution_days=row.attribution_days,
            cost_per_message=row.cost_per_message,
            last_error=row.last_error,
            launched_at=row.launched_at,
            completed_at=row.completed_at,
            created_at=row.created_at,
            pk=row.id,
        )

    @strawberry.field(description="Live counts: one query over the recipients and messages.")
    async def counts(self, info: Info) -> CampaignCounts:
        c = await sending.counts(info.context.scope, self.pk)
        return CampaignCounts(
            audience=c.audience,
            holdout=c.holdout,
            targeted=c.targeted,
            undecided=c.undecided,
            held=c.held,
            held_by_reason=_reasons(c.held_by_reason),
            deferred=c.deferred,
            queued=c.queued,
            sent=c.sent,
            delivered=c.delivered,
            failed=c.failed,
            failed_by_reason=_reasons(c.failed_by_reason),
            rejected=c.rejected,
            opened=c.opened,
            clicked=c.clicked,
        )


@strawberry.type
class CampaignsQuery:
    @strawberry.field(
        description="The brand's campaigns, newest first, optionally of one status. "
        "Needs the read scope.",
        permission_classes=[CanRead],
    )
    async def campaigns(
        self,
        info: Info,
        status: CampaignStatus | None = None,  # type: ignore[valid-type]
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Campaign]:
        query = info.context.scope.query(models.Campaign)
        if status is not None:
            query = query.filter(status=status)
        return await paginate(
            query,
            Window(first, after),
            cap=info.context.settings.limits.page_size,
            to_node=Campaign.from_model,
            descending=True,
        )

    @strawberry.field(
        description="One campaign, or null. Needs the read scope.", permission_classes=[CanRead]
    )
    async def campaign(self, info: Info, id: strawberry.ID) -> Campaign | None:
        pk = id_for_lookup(id, "Campaign")
        row = await info.context.scope.get(models.Campaign, pk) if pk else None
        return Campaign.from_model(row) if row is not None else None


@strawberry.input(description="A new campaign (a draft); checked field by field.")
class CreateCampaignInput:
    name: str = strawberry.field(description="Unique within the brand.")
    segment_id: strawberry.ID = strawberry.field(description="The audience's segment.")
    template_id: strawberry.ID = strawberry.field(description="The message template.")
    purpose: MessagePurpose = strawberry.field(  # type: ignore[valid-type]
        default=models.Purpose.MARKETING, description="Marketing (default) or transactional."
    )
    holdout_share: Decimal = strawberry.field(
        default=Decimal(0), description="0 to 0.5 of the audience kept out at random."
    )
    send_at: datetime | None = strawberry.field(default=None, description="Start no earlier.")
    throttle_per_minute: int | None = strawberry.field(
        default=None, description="At most this many messages a minute (1 or more)."
    )
    attribution_days: int = strawberry.field(default=7, description="1 to 90.")
    cost_per_message: Decimal = strawberry.field(
        default=Decimal(0), description="The sender's price per message."
    )


@strawberry.input(description="Changes to a draft; omitted fields stay.")
class UpdateCampaignInput:
    id: strawberry.ID = strawberry.field(description="The campaign (a draft).")
    name: str | None = strawberry.field(default=None, description="New name.")
    segment_id: strawberry.ID | None = strawberry.field(default=None, description="Segment.")
    template_id: strawberry.ID | None = strawberry.field(default=None, description="Template.")
    purpose: MessagePurpose | None = strawberry.field(default=None, description="Purpose.")  # type: ignore[valid-type]
    holdout_share: Decimal | None = strawberry.field(default=None, description="0 to 0.5.")
    send_at: datetime | None = strawberry.field(default=None, description="Start no earlier.")
    throttle_per_minute: int | None = strawberry.field(default=None, description="1 or more.")
    attribution_days: int | None = strawberry.field(default=None, description="1 to 90.")
    cost_per_message: Decimal | None = strawberry.field(default=None, description="Price.")


@strawberry.input(description="The campaign to act on.")
class CampaignIdInput:
    id: strawberry.ID = strawberry.field(description="The campaign.")


@strawberry.type(description="The campaign after the change.")
class CampaignPayload:
    campaign: Campaign | None = strawberry.field(default=None, description="As stored.")
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.type(description="Result of deleting a draft.")
class DeleteCampaignPayload:
    deleted_id: strawberry.ID | None = strawberry.field(default=None, description="Deleted.")
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


def _campaign_id(opaque: strawberry.ID) -> int:
    return require_id(opaque, "Campaign", "id")


def _values(input: CreateCampaignInput | UpdateCampaignInput) -> service.CampaignInput:
    return service.CampaignInput(
        name=input.name,
        segment_id=id_for_lookup(input.segment_id, "Segment"),
        template_id=id_for_lookup(input.template_id, "MessageTemplate"),
        purpose=input.purpose,
        holdout_share=input.holdout_share,
        send_at=input.send_at,
        throttle_per_minute=input.throttle_per_minute,
        attribution_days=input.attribution_days,
        cost_per_message=input.cost_per_message,
    )


def _ok(row: models.Campaign) -> CampaignPayload:
    return CampaignPayload(campaign=Campaign.from_model(row), errors=[])


@strawberry.type
class CampaignsMutation:
    @strawberry.mutation(
        description="Create a campaign (a draft). Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def create_campaign(self, info: Info, input: CreateCampaignInput) -> CampaignPayload:
        return _ok(await service.create_campaign(info.context.scope, _values(input)))

    @strawberry.mutation(
        description="Change a draft. Needs the manage scope.", permission_classes=[CanManage]
    )
    async def update_campaign(self, info: Info, input: UpdateCampaignInput) -> CampaignPayload:
        row = await service.update_campaign(
            info.context.scope, _campaign_id(input.id), _values(input)
        )
        return _ok(row)

    @strawberry.mutation(
        description="Delete a draft. Needs the manage scope.", permission_classes=[CanManage]
    )
    async def delete_campaign(self, info: Info, input: CampaignIdInput) -> DeleteCampaignPayload:
        await service.delete_campaign(info.context.scope, _campaign_id(input.id))
        return DeleteCampaignPayload(deleted_id=input.id, errors=[])

    @strawberry.mutation(
        description="Launch a draft: now, or at its sendAt. Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def launch_campaign(self, info: Info, input: CampaignIdInput) -> CampaignPayload:
        return _ok(await service.launch_campaign(info.context.scope, _campaign_id(input.id)))

    @strawberry.mutation(
        description="Pause a sending campaign at the next batch. Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def pause_campaign(self, info: Info, input: CampaignIdInput) -> CampaignPayload:
        return _ok(await service.pause_campaign(info.context.scope, _campaign_id(input.id)))

    @strawberry.mutation(
        description="Resume a paused campaign where it stopped. Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def resume_campaign(self, info: Info, input: CampaignIdInput) -> CampaignPayload:
        return _ok(await service.resume_campaign(info.context.scope, _campaign_id(input.id)))

    @strawberry.mutation(
        description="Cancel a campaign: no new batch, and messages not yet sent are held "
        "(`campaign_cancelled`). Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def cancel_campaign(self, info: Info, input: CampaignIdInput) -> CampaignPayload:
        return _ok(await service.cancel_campaign(info.context.scope, _campaign_id(input.id)))
