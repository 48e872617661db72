"""Campaigns: drafts, their validation and the state machine.

::

    draft --launch--> scheduled --(send_at)--> preparing --> sending --> completed
      |                   |                                  |   ^
      |                   +--cancel--> cancelled <--cancel---+   |
      |                                    ^              pause  resume
    delete                                 +----cancel---- paused

A draft is edited and deleted freely; from launch on the campaign is frozen
(only pause, resume and cancel). Sending is :mod:`tessera.campaigns.sending`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tortoise.expressions import Subquery

from tessera.campaigns.models import Campaign, CampaignRecipient, CampaignStatus
from tessera.channels.models import Message, MessageStatus, MessageTemplate, Purpose
from tessera.errors import DomainError, DomainErrors
from tessera.scope import BrandScope
from tessera.segments.models import Segment
from tessera.uow import unit_of_work

MAX_HOLDOUT = Decimal("0.5")
MAX_ATTRIBUTION_DAYS = 90
CANCELLED_REASON = "campaign_cancelled"

# Which states each action leaves from, and where it goes.
TRANSITIONS: dict[str, tuple[frozenset[CampaignStatus], CampaignStatus | None]] = {
    "launch": (frozenset({CampaignStatus.DRAFT}), None),  # scheduled or preparing
    "pause": (frozenset({CampaignStatus.SENDING}), CampaignStatus.PAUSED),
    "resume": (frozenset({CampaignStatus.PAUSED}), CampaignStatus.SENDING),
    "cancel": (
        frozenset(
            {
                CampaignStatus.SCHEDULED,
                CampaignStatus.PREPARING,
                CampaignStatus.SENDING,
                CampaignStatus.PAUSED,
            }
        ),
        CampaignStatus.CANCELLED,
    ),
}


@dataclass
class CampaignInput:
    """A draft's fields; on update, None leaves a field as it is."""

    name: str | None = None
    segment_id: int | None = None
    template_id: int | None = None
    purpose: Purpose | None = None
    holdout_share: Decimal | str | float | None = None
    send_at: datetime | None = None
    throttle_per_minute: int | None = None
    attribution_days: int | None = None
    cost_per_message: Decimal | str | float | None = None


def decimal_of(value: Any, field: str) -> Decimal:
    """A finite decimal of ``value`` (the caller's text: the GraphQL
    ``Decimal`` scalar hands inputs on as written), else ``INVALID`` naming
    ``field``."""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise DomainError("INVALID", "not a number", [field]) from None
    if not number.is_finite():
        raise DomainError("INVALID", "not a number", [field])
    return number


async def _validated(
    scope: BrandScope, values: CampaignInput, current: Campaign | None
) -> dict[str, Any]:
    """The fields to store, every problem reported at once with its field."""
    problems: list[DomainError] = []
    out: dict[str, Any] = {}
    if values.name is not None or current is None:
        name = (values.name or "").strip()
        if not name:
            problems.append(DomainError("REQUIRED", "a campaign needs a name", ["name"]))
        elif len(name) > 100:
            problems.append(DomainError("TOO_LONG", "at most 100 characters", ["name"]))
        else:
            clash = scope.query(Campaign).filter(name=name)
            if current is not None:
                clash = clash.exclude(id=current.id)
            if await clash.exists():
                problems.append(
                    DomainError("DUPLICATE", "another campaign has this name", ["name"])
                )
            out["name"] = name
    if values.segment_id is not None or current is None:
        if values.segment_id is None:
            problems.append(DomainError("REQUIRED", "a campaign needs a segment", ["segmentId"]))
        elif not await scope.query(Segment).filter(id=values.segment_id).exists():
            problems.append(DomainError("NOT_FOUND", "no such segment", ["segmentId"]))
        else:
            out["segment_id"] = values.segment_id
    if values.template_id is not None or current is None:
        template = (
            await scope.query(MessageTemplate).get_or_none(id=values.template_id)
            if values.template_id is not None
            else None
        )
        if values.template_id is None:
            problems.append(DomainError("REQUIRED", "a campaign needs a template", ["templateId"]))
        elif template is None:
            problems.append(DomainError("NOT_FOUND", "no such message template", ["templateId"]))
        else:
            out["template_id"] = template.id
            out["channel"] = template.channel
    if values.purpose is not None:
        out["purpose"] = values.purpose
    if values.holdout_share is not None:
        try:
            share = decimal_of(values.holdout_share, "holdoutShare")
            if not Decimal(0) <= share <= MAX_HOLDOUT:
                raise DomainError("OUT_OF_RANGE", "a holdout share is 0 to 0.5", ["holdoutShare"])
            out["holdout_share"] = share.quantize(Decimal("0.0001"))
        except DomainError as problem:
            problems.append(problem)
    if values.throttle_per_minute is not None:
        if values.throttle_per_minute < 1:
            problems.append(
                DomainError("OUT_OF_RANGE", "at least 1 message a minute", ["throttlePerMinute"])
            )
        else:
            out["throttle_per_minute"] = values.throttle_per_minute
    if values.attribution_days is not None:
        if not 1 <= values.attribution_days <= MAX_ATTRIBUTION_DAYS:
            problems.append(DomainError("OUT_OF_RANGE", "1 to 90 days", ["attributionDays"]))
        else:
            out["attribution_days"] = values.attribution_days
    if values.cost_per_message is not None:
        try:
            cost = decimal_of(values.cost_per_message, "costPerMessage")
            if cost < 0 or cost >= Decimal("1e8"):
                raise DomainError(
                    "OUT_OF_RANGE", "a cost is 0 or more (under 10^8)", ["costPerMessage"]
                )
            out["cost_per_message"] = cost.quantize(Decimal("0.0001"))
        except DomainError as problem:
            problems.append(problem)
    if values.send_at is not None:
        if values.send_at.tzinfo is None:
            problems.append(DomainError("INVALID_TIME", "a time needs its UTC offset", ["sendAt"]))
        else:
            out["send_at"] = values.send_at
    if problems:
        raise DomainErrors(problems) if len(problems) > 1 else problems[0]
    return out


async def create_campaign(scope: BrandScope, values: CampaignInput) -> Campaign:
    fields = await _validated(scope, values, None)
    async with unit_of_work(scope) as uow:
        return await scope.create(Campaign, using_db=uow.connection, **fields)


async def get_campaign(scope: BrandScope, campaign_id: int) -> Campaign:
    campaign = await scope.get(Campaign, campaign_id)
    if campaign is None:
        raise DomainError("NOT_FOUND", "no such campaign", ["id"])
    return campaign


def _draft_only(campaign: Campaign, action: str) -> None:
    if campaign.status is not CampaignStatus.DRAFT:
        raise DomainError(
            "INVALID_STATE",
            f"only a draft can be {action}; this campaign is {campaign.status.value}",
            ["id"],
        )


async def update_campaign(scope: BrandScope, campaign_id: int, values: CampaignInput) -> Campaign:
    campaign = await get_campaign(scope, campaign_id)
    _draft_only(campaign, "changed")
    fields = await _validated(scope, values, campaign)
    async with unit_of_work(scope) as uow:
        changed = await (
            scope.query(Campaign)
            .using_db(uow.connection)
            .filter(id=campaign.id, status=CampaignStatus.DRAFT)
            .update(**fields, updated_at=datetime.now(UTC))
        )
    if not changed:
        raise DomainError("CONFLICT", "the campaign was launched meanwhile", ["id"])
    return await get_campaign(scope, campaign_id)


async def delete_campaign(scope: BrandScope, campaign_id: int) -> None:
    campaign = await get_campaign(scope, campaign_id)
    _draft_only(campaign, "deleted")
    async with unit_of_work(scope) as uow:
        gone = await (
            scope.query(Campaign)
            .using_db(uow.connection)
            .filter(id=campaign.id, status=CampaignStatus.DRAFT)
            .delete()
        )
    if not gone:
        raise DomainError("CONFLICT", "the campaign was launched meanwhile", ["id"])


async def _move(
    scope: BrandScope, campaign: Campaign, action: str, to: CampaignStatus, uow: Any, **more: Any
) -> None:
    """The conditional UPDATE of one transition: of two at once, one wins."""
    allowed, _ = TRANSITIONS[action]
    if campaign.status not in allowed:
        states = ", ".join(sorted(s.value for s in allowed))
        raise DomainError(
            "INVALID_STATE",
            f"cannot {action} a campaign that is {campaign.status.value} (only: {states})",
            ["id"],
        )
    moved = await (
        scope.query(Campaign)
        .using_db(uow.connection)
        .filter(id=campaign.id, status=campaign.status)
        .update(status=to, updated_at=datetime.now(UTC), **more)
    )
    if not moved:
        raise DomainError("CONFLICT", "the campaign changed meanwhile; read it again", ["id"])


async def launch_campaign(
    scope: BrandScope, campaign_id: int, now: datetime | None = None
) -> Campaign:
    """Start now, or at ``send_at`` when that is later. The audience is the
    segment's membership when sending starts (copied by the start job)."""
    now = now or datetime.now(UTC)
    campaign = await get_campaign(scope, campaign_id)
    if (
        campaign.segment_id is None
        or not await scope.query(Segment).filter(id=campaign.segment_id).exists()
    ):
        raise DomainError("NOT_FOUND", "the campaign's segment no longer exists", ["segmentId"])
    later = campaign.send_at is not None and campaign.send_at > now
    to = CampaignStatus.SCHEDULED if later else CampaignStatus.PREPARING
    delay = (campaign.send_at - now).total_seconds() if later and campaign.send_at else 0.0
    async with unit_of_work(scope) as uow:
        await _move(scope, campaign, "launch", to, uow, launched_at=now)
        uow.follow_ups.append(_start_job(scope, campaign.id, delay))
    return await get_campaign(scope, campaign_id)


def _start_job(scope: BrandScope, campaign_id: int, delay_s: float = 0.0) -> Any:
    from tessera.outbox.store import FollowUp

    return FollowUp("campaigns_start", (scope.brand_id, campaign_id), delay_s=delay_s)


async def pause_campaign(scope: BrandScope, campaign_id: int) -> Campaign:
    """No new batch starts; the batch being decided finishes."""
    campaign = await get_campaign(scope, campaign_id)
    async with unit_of_work(scope) as uow:
        await _move(scope, campaign, "pause", CampaignStatus.PAUSED, uow)
    return await get_campaign(scope, campaign_id)


async def resume_campaign(scope: BrandScope, campaign_id: int) -> Campaign:
    from tessera.campaigns import sending

    campaign = await get_campaign(scope, campaign_id)
    async with unit_of_work(scope) as uow:
        await _move(scope, campaign, "resume", CampaignStatus.SENDING, uow)
        await sending.continue_from_next_batch(uow, campaign)
    return await get_campaign(scope, campaign_id)


async def cancel_campaign(scope: BrandScope, campaign_id: int) -> Campaign:
    """No new batch, ever; messages decided but not yet sent are held with
    the reason ``campaign_cancelled`` (their delivery jobs then find nothing
    to send). Messages already sent stay sent."""
    campaign = await get_campaign(scope, campaign_id)
    async with unit_of_work(scope) as uow:
        await _move(scope, campaign, "cancel", CampaignStatus.CANCELLED, uow)
        decided = (
            scope.query(CampaignRecipient)
            .using_db(uow.connection)
            .filter(campaign_id=campaign.id, message_id__isnull=False)
            .values_list("message_id", flat=True)
        )
        await (
            scope.query(Message)
            .using_db(uow.connection)
            .filter(
                id__in=Subquery(decided),
                status__in=(MessageStatus.QUEUED, MessageStatus.DEFERRED),
            )
            .update(
                status=MessageStatus.HELD,
                reason=CANCELLED_REASON,
                updated_at=datetime.now(UTC),
            )
        )
    return await get_campaign(scope, campaign_id)
