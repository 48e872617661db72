"""Retention: each brand's old behaviour events and delivery logs deleted,
and members inactive past the brand's period anonymised through the same
erasure as by hand (docs/privacy.md, "Retention").

Deletes are set-based, a batch of ids at a time, so one run never holds a
long lock or a huge transaction; a run does at most ``MAX_BATCHES`` batches
per table and the next hour's run goes on where it stopped."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.expressions import Q, Subquery

from tessera.assets.models import AssetAccount, LedgerEntry
from tessera.behaviour.models import BehaviourEvent
from tessera.channels.models import Message, MessageStatus
from tessera.errors import DomainError
from tessera.members.models import Member
from tessera.members.profile import MemberStatus
from tessera.models_base import BrandOwned
from tessera.orders.models import MemberStats
from tessera.privacy.erasure import ErasureReason, erase_member
from tessera.privacy.exports import expire_exports
from tessera.privacy.models import LegalHold
from tessera.privacy.settings import get_settings
from tessera.scope import Actor, BrandScope
from tessera.tenancy.models import Brand
from tessera.webhooks.models import DeliveryStatus, WebhookDelivery

log = logging.getLogger("tessera.privacy")

BATCH = 1000
MAX_BATCHES = 100
MEMBERS_PER_RUN = 500
RETENTION_ACTOR = Actor("system", "retention")


_UNSETTLED = {MessageStatus.QUEUED, MessageStatus.DEFERRED}


@dataclass
class RetentionReport:
    behaviour_events: int = 0
    webhook_deliveries: int = 0
    message_logs: int = 0
    exports_expired: int = 0
    members_anonymised: list[int] = field(default_factory=list)


async def delete_older(
    scope: BrandScope,
    model: type[BrandOwned],
    column: str,
    before: datetime,
    condition: Q | None = None,
) -> int:
    """Delete the brand's rows whose ``column`` is before ``before``, a batch at a time."""
    deleted = 0
    for _ in range(MAX_BATCHES):
        query = scope.query(model).filter(**{f"{column}__lt": before})
        if condition is not None:
            query = query.filter(condition)
        ids = await query.order_by("id").limit(BATCH).values_list("id", flat=True)
        if not ids:
            break
        deleted += await scope.query(model).filter(id__in=list(ids)).delete()
        if len(ids) < BATCH:
            break
    return deleted


def inactive_members(scope: BrandScope, since: datetime) -> Any:
    """The brand's members with no order, behaviour event or ledger entry
    since ``since`` and joined before it, that retention may anonymise:
    not erased, not under a legal hold, holding no stored value (the
    person's money: the brand settles it with them first)."""
    active = (
        Q(
            id__in=Subquery(
                scope.query(MemberStats).filter(last_order_at__gte=since).values("member_id")
            )
        )
        | Q(
            id__in=Subquery(
                scope.query(BehaviourEvent).filter(occurred_at__gte=since).values("member_id")
            )
        )
        | Q(
            id__in=Subquery(
                scope.query(LedgerEntry).filter(occurred_at__gte=since).values("member_id")
            )
        )
    )
    kept = Q(id__in=Subquery(scope.query(LegalHold).all().values("member_id"))) | Q(
        id__in=Subquery(
            scope.query(AssetAccount)
            .filter(Q(balance__gt=0) | Q(reserved__gt=0), kind="stored_value")
            .values("member_id")
        )
    )
    return (
        scope.query(Member)
        .filter(joined_at__lt=since, updated_at__lt=since)
        .exclude(status=MemberStatus.ERASED.value)
        .exclude(active)
        .exclude(kept)
    )


async def run_retention(scope: BrandScope, now: datetime | None = None) -> RetentionReport:
    """Apply the brand's retention periods once."""
    now = now or datetime.now(UTC)
    settings = await get_settings(scope)
    report = RetentionReport()
    report.exports_expired = await expire_exports(scope, now)
    if settings.behaviour_event_days:
        report.behaviour_events = await delete_older(
            scope,
            BehaviourEvent,
            "occurred_at",
            now - timedelta(days=settings.behaviour_event_days),
        )
    if settings.webhook_delivery_days:
        # Finished deliveries only: a pending one is work still to do.
        report.webhook_deliveries = await delete_older(
            scope,
            WebhookDelivery,
            "created_at",
            now - timedelta(days=settings.webhook_delivery_days),
            Q(status__in=[DeliveryStatus.DELIVERED, DeliveryStatus.FAILED, DeliveryStatus.DEAD]),
        )
    if settings.message_log_days:
        # Settled messages only: a queued or deferred one is still to be sent.
        report.message_logs = await delete_older(
            scope,
            Message,
            "created_at",
            now - timedelta(days=settings.message_log_days),
            Q(status__in=[s for s in MessageStatus if s not in _UNSETTLED]),
        )
    if settings.inactive_member_days:
        since = now - timedelta(days=settings.inactive_member_days)
        ids = await (
            inactive_members(scope, since)
            .order_by("id")
            .limit(MEMBERS_PER_RUN)
            .values_list("id", flat=True)
        )
        system = scope.acting_as(RETENTION_ACTOR)
        for member_id in ids:
            try:
                await erase_member(system, member_id, ErasureReason.RETENTION)
            except DomainError as error:  # a hold set, or erased, since the query
                log.info("retention skipped member %s: %s", member_id, error.code)
                continue
            report.members_anonymised.append(member_id)
    return report


async def retention_brand(ctx: dict[str, Any], brand_id: int) -> None:
    brand = await Brand.get_or_none(id=brand_id)
    if brand is not None:
        report = await run_retention(BrandScope(brand))
        log.info("retention of brand %s: %s", brand.code, report)


async def retention_tick(ctx: dict[str, Any]) -> None:
    """Cron (hourly): each brand's retention, one job per brand so each
    retries on its own; the job id names the hour, so a second tick in the
    same hour enqueues nothing."""
    queue = ctx["runtime"].queue
    hour = datetime.now(UTC).strftime("%Y-%m-%dT%H")
    for brand_id in await Brand.all().order_by("id").values_list("id", flat=True):
        await queue.enqueue("privacy_retention", brand_id, job_id=f"retention:{brand_id}:{hour}")
