"""Sending a campaign: the audience snapshot, then one job per batch.

``campaigns_start`` copies the segment's members into ``campaign_recipient``
in one INSERT ... SELECT (holdout and batch numbers computed in SQL), then
queues batch 0. ``campaigns_batch`` decides its batch through the gate's
set-based :func:`tessera.channels.gate.decide_batch` (messages keyed
``campaign:<id>``, delivery queued on the bulk lane), links each recipient to
its message in the same transaction, and queues the next batch, spaced by the
throttle. A retried batch finds its members decided and queues nothing, so
every (campaign, member) gets at most one message (docs/campaigns.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tortoise import connections

from tessera import runtime
from tessera.campaigns.models import Campaign, CampaignRecipient, CampaignStatus
from tessera.channels import gate
from tessera.channels.gate import SqlParams
from tessera.errors import DomainError
from tessera.outbox.store import FollowUp
from tessera.scope import BrandScope
from tessera.uow import UnitOfWork, unit_of_work
from tessera.webhooks.triggers import scope_of

HOLDOUT_BATCH = -1  # holdout recipients are never sent: no batch
# The holdout draw: a hash of (campaign, member) in integer arithmetic both
# databases do alike (64-bit, no overflow), so a campaign's holdout is
# reproducible and :func:`holdout_draw` says which members it holds.
_PRIME = 2_147_483_647
_CAMPAIGN_SALT = 7_919
_MIX = 48_271
_SHIFT = 12_345


def holdout_draw(campaign_id: int, member_id: int) -> int:
    """The member's draw in [0, 2^31 - 1) for the campaign (as the SQL computes it)."""
    x = (member_id + campaign_id * _CAMPAIGN_SALT) % _PRIME
    return ((x * x) % _PRIME * _MIX + _SHIFT) % _PRIME


def holdout_cut(share: Decimal) -> int:
    """Members whose draw is below this are held out."""
    return int(Decimal(share) * _PRIME)


def batch_size(campaign: Campaign) -> int:
    size = runtime.current().settings.campaign_batch_size
    if campaign.throttle_per_minute:
        size = min(size, campaign.throttle_per_minute)
    return max(1, size)


def batch_spacing_s(campaign: Campaign) -> float:
    """Time between two batches' starts: a batch of n under a throttle of t a
    minute takes n / t minutes."""
    if not campaign.throttle_per_minute:
        return 0.0
    return 60.0 * batch_size(campaign) / campaign.throttle_per_minute


def idempotency_key(campaign_id: int) -> str:
    return f"campaign:{campaign_id}"


async def snapshot(uow: UnitOfWork, campaign: Campaign, now: datetime) -> None:
    """Copy the segment's members, in one statement: nothing goes through Python."""
    conn = uow.connection
    p = SqlParams(conn)
    sql = (
        'INSERT INTO "campaign_recipient" '
        "(brand_id, campaign_id, member_id, holdout, batch, created_at) "
        f"SELECT {p(campaign.brand_id, 'bigint')}, {p(campaign.id, 'bigint')}, s.member_id, s.h, "
        f"CASE WHEN s.h THEN {p(HOLDOUT_BATCH, 'bigint')} ELSE "
        "(ROW_NUMBER() OVER (PARTITION BY s.h ORDER BY s.member_id) - 1) / "
        f"{p(batch_size(campaign), 'bigint')} END, {p(now)} "
        f"FROM (SELECT t.member_id, (((t.x * t.x) % {_PRIME}) * {_MIX} + {_SHIFT}) % {_PRIME} "
        f"< {p(holdout_cut(campaign.holdout_share), 'bigint')} AS h "
        f"FROM (SELECT sm.member_id, (sm.member_id + {p(campaign.id, 'bigint')} * {_CAMPAIGN_SALT})"
        f" % {_PRIME} AS x "
        'FROM "segment_membership" sm '
        f"WHERE sm.brand_id = {p(campaign.brand_id, 'bigint')} "
        f"AND sm.segment_id = {p(campaign.segment_id, 'bigint')}) t) s"
    )
    await conn.execute_query(sql, p.values)


def _batch_job(campaign: Campaign, batch: int, delay_s: float = 0.0) -> FollowUp:
    return FollowUp("campaigns_batch", (campaign.brand_id, campaign.id, batch), delay_s=delay_s)


async def _complete(uow: UnitOfWork, campaign: Campaign, now: datetime) -> None:
    """Completed once every recipient is decided (paused or sending)."""
    undecided = (
        await uow.scope.query(CampaignRecipient)
        .using_db(uow.connection)
        .filter(campaign_id=campaign.id, holdout=False, message_id__isnull=True)
        .exists()
    )
    if not undecided:
        await (
            uow.scope.query(Campaign)
            .using_db(uow.connection)
            .filter(
                id=campaign.id,
                status__in=(CampaignStatus.SENDING, CampaignStatus.PAUSED),
            )
            .update(status=CampaignStatus.COMPLETED, completed_at=now, updated_at=now)
        )


async def continue_from_next_batch(
    uow: UnitOfWork, campaign: Campaign, delay_s: float = 0.0
) -> None:
    """Queue the lowest batch with undecided members, or complete the campaign."""
    rows = (
        await uow.scope.query(CampaignRecipient)
        .using_db(uow.connection)
        .filter(campaign_id=campaign.id, holdout=False, message_id__isnull=True)
        .order_by("batch")
        .limit(1)
        .values("batch")
    )
    if rows:
        uow.follow_ups.append(_batch_job(campaign, int(rows[0]["batch"]), delay_s))
    else:
        await _complete(uow, campaign, datetime.now(UTC))


async def campaigns_start(ctx: dict[str, Any], brand_id: int, campaign_id: int) -> str:
    """The start: the snapshot and batch 0, once (a rerun finds the campaign
    past ``preparing`` and does nothing)."""
    scope = await scope_of(brand_id)
    campaign = await scope.get(Campaign, campaign_id) if scope else None
    if scope is None or campaign is None:
        return "gone"
    now = datetime.now(UTC)
    if campaign.status is CampaignStatus.SCHEDULED:
        await (
            scope.query(Campaign)
            .filter(id=campaign.id, status=CampaignStatus.SCHEDULED)
            .update(status=CampaignStatus.PREPARING, updated_at=now)
        )
        campaign = await scope.get(Campaign, campaign_id)
        assert campaign is not None
    if campaign.status is not CampaignStatus.PREPARING:
        return campaign.status.value
    await record_sender_problem(scope, campaign)
    async with unit_of_work(scope) as uow:
        moved = await (
            scope.query(Campaign)
            .using_db(uow.connection)
            .filter(id=campaign.id, status=CampaignStatus.PREPARING)
            .update(status=CampaignStatus.SENDING, updated_at=now)
        )
        if not moved:
            return "raced"
        if (
            not await scope.query(CampaignRecipient)
            .using_db(uow.connection)
            .filter(campaign_id=campaign.id)
            .exists()
        ):
            await snapshot(uow, campaign, now)
        await continue_from_next_batch(uow, campaign)
    return "started"


async def record_sender_problem(scope: BrandScope, campaign: Campaign) -> str:
    """The campaign's ``last_error``: why its channel's sender cannot send (no
    sender enabled, a config that no longer validates), or empty. Messages
    are decided and queued all the same: they fail with the reason and are
    counted, never lost."""
    from tessera.channels.delivery import sender_for

    try:
        enabled = await sender_for(scope, campaign.channel)
        problem = "" if enabled else f"no {campaign.channel.value} sender is enabled for the brand"
    except DomainError as error:
        problem = error.message
    if problem != campaign.last_error:
        await scope.query(Campaign).filter(id=campaign.id).update(last_error=problem[:2000])
        campaign.last_error = problem
    return problem


async def campaigns_batch(ctx: dict[str, Any], brand_id: int, campaign_id: int, batch: int) -> int:
    """Decide one batch; returns how many recipients this run decided (0 on a
    rerun, or when the campaign is paused or cancelled: the batch boundary)."""
    scope = await scope_of(brand_id)
    campaign = await scope.get(Campaign, campaign_id) if scope else None
    if scope is None or campaign is None or campaign.status is not CampaignStatus.SENDING:
        return 0
    await record_sender_problem(scope, campaign)
    now = datetime.now(UTC)
    key = idempotency_key(campaign.id)

    def members(p: SqlParams) -> str:
        return (
            'SELECT member_id FROM "campaign_recipient" '
            f"WHERE brand_id = {p(campaign.brand_id, 'bigint')} "
            f"AND campaign_id = {p(campaign.id, 'bigint')} AND batch = {p(batch, 'bigint')} "
            "AND NOT holdout AND message_id IS NULL"
        )

    request = gate.BatchRequest(
        members, campaign.template_id, campaign.channel, campaign.purpose, key, key
    )
    async with unit_of_work(scope) as uow:
        quiet_until = await gate.decide_batch(uow, request, now)
        p = SqlParams(uow.connection)
        linked = await uow.connection.execute_query_dict(
            'UPDATE "campaign_recipient" SET message_id = (SELECT x.id FROM "message" x '
            "WHERE x.brand_id = campaign_recipient.brand_id "
            "AND x.member_id = campaign_recipient.member_id "
            f"AND x.idempotency_key = {p(key)}) "
            f"WHERE brand_id = {p(campaign.brand_id, 'bigint')} "
            f"AND campaign_id = {p(campaign.id, 'bigint')} AND batch = {p(batch, 'bigint')} "
            "AND NOT holdout AND message_id IS NULL RETURNING member_id",
            p.values,
        )
        if linked:
            # A batch decided inside quiet hours is deferred to their end; the
            # next one waits for that too, so the throttle holds then as well.
            wait = batch_spacing_s(campaign)
            if quiet_until is not None:
                wait += (quiet_until - now).total_seconds()
            # The next batch by number (an index lookup; the lowest undecided
            # one, as resume looks for, would scan every decided row first).
            if (
                await scope.query(CampaignRecipient)
                .using_db(uow.connection)
                .filter(campaign_id=campaign.id, batch=batch + 1)
                .exists()
            ):
                uow.follow_ups.append(_batch_job(campaign, batch + 1, wait))
            else:
                await _complete(uow, campaign, now)
    return len(linked)


@dataclass
class CampaignCounts:
    """Where a campaign's recipients are (one GROUP BY, see :func:`counts`)."""

    audience: int = 0  # recipients: targeted + holdout
    holdout: int = 0
    targeted: int = 0
    undecided: int = 0  # targeted, their batch not yet decided
    held: int = 0
    held_by_reason: dict[str, int] = field(default_factory=dict)
    deferred: int = 0
    queued: int = 0
    sent: int = 0  # the provider took it (delivered ones included)
    delivered: int = 0
    failed: int = 0
    failed_by_reason: dict[str, int] = field(default_factory=dict)
    rejected: int = 0
    opened: int = 0
    clicked: int = 0


async def counts(scope: BrandScope, campaign_id: int) -> CampaignCounts:
    conn = connections.get("default")
    p = SqlParams(conn)
    rows = await conn.execute_query_dict(
        "SELECT r.holdout AS holdout, x.status AS status, "
        "CASE WHEN x.status IN ('held', 'failed') THEN x.reason ELSE '' END AS reason, "
        "COUNT(*) AS n, COUNT(x.opened_at) AS opened, COUNT(x.clicked_at) AS clicked "
        'FROM "campaign_recipient" r LEFT JOIN "message" x '
        "ON x.id = r.message_id AND x.brand_id = r.brand_id "
        f"WHERE r.brand_id = {p(scope.brand_id, 'bigint')} "
        f"AND r.campaign_id = {p(campaign_id, 'bigint')} "
        "GROUP BY r.holdout, x.status, CASE WHEN x.status IN ('held', 'failed') "
        "THEN x.reason ELSE '' END",
        p.values,
    )
    out = CampaignCounts()
    for row in rows:
        n = int(row["n"])
        out.audience += n
        if row["holdout"]:
            out.holdout += n
            continue
        out.targeted += n
        status, reason = row["status"], row["reason"] or ""
        out.opened += int(row["opened"])
        out.clicked += int(row["clicked"])
        if status is None:
            out.undecided += n
        elif status == "held":
            out.held += n
            out.held_by_reason[reason] = out.held_by_reason.get(reason, 0) + n
        elif status == "deferred":
            out.deferred += n
        elif status == "queued":
            out.queued += n
        elif status in ("sent", "delivered"):
            out.sent += n
            if status == "delivered":
                out.delivered += n
        elif status == "failed":
            out.failed += n
            out.failed_by_reason[reason] = out.failed_by_reason.get(reason, 0) + n
        elif status == "rejected":
            out.rejected += n
    return out
