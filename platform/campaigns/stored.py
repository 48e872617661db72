"""Stored results of closed campaigns (docs/campaign-attribution.md,
"Stored results").

A campaign's attribution is a function of its recipients (frozen at launch),
their messages' send times and the orders in each recipient's window,
refunds as known now. Once every message is settled and the last window
has ended, only three things can still change it:

- an order in a window's days placed, changed or refunded, or moved to
  another member by a merge: each of these marks its local day dirty for
  the sales rollup (``tessera.reports.rollup.mark_dirty``), which also bumps
  the day's version (``tessera.reports.versions``), in the same transaction;
- a merge (or its undo) that moves a recipient row to a member whose own
  orders were never moved: a ``member_merge`` row made or undone since;
- an erasure, which deletes the member's recipient rows: a member erased
  since;
- the message log retention, which deletes old settled messages: a
  campaign launched longer ago than the brand's ``message_log_days`` is
  never read from its stored rows.

:func:`refresh` (the ``campaign_results_tick`` job) runs the live statement
for closed campaigns without a valid stored result and stores its rows
beside the Σ of the window days' versions, read before the statement (a
change that commits meanwhile makes the result stale, never wrong).
:func:`stored_rows` hands the attribution the rows of the campaigns whose
stored result is still valid; the others are computed live, so the answer
is always the live one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.expressions import Q

from tessera.campaigns.models import (
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    StoredResults,
)
from tessera.members.models import Member, MemberMerge
from tessera.privacy.models import PrivacySettings
from tessera.reports.api import local_day, scope_query
from tessera.reports.versions import day_versions, signature
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand
from tessera.uow import unit_of_work

# No new message goes out for these.
SETTLED = (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED)
# A merge or erasure is stamped when its transaction starts, and may commit
# after a result computed later: those within this much before the result
# count as after it.
SLACK = timedelta(hours=1)
COLUMNS = ("grp", "day", "members", "orders", "revenue")


async def _kept(scope: BrandScope, campaigns: Sequence[Campaign]) -> list[Campaign]:
    """Those of ``campaigns`` whose messages the message log retention
    cannot have deleted yet. It deletes settled messages older than its days
    (their members then read as unreached), and a campaign's messages are
    no older than its launch: once they may go, the campaign is read live."""
    settings = await scope.query(PrivacySettings).first()
    if settings is None or not settings.message_log_days:
        return list(campaigns)
    horizon = datetime.now(UTC) - timedelta(days=settings.message_log_days)
    return [c for c in campaigns if c.launched_at is not None and c.launched_at > horizon]


async def _valid(
    scope: BrandScope, candidates: Sequence[StoredResults], campaigns: Sequence[Campaign]
) -> set[int]:
    """The campaign ids of ``candidates`` that no change since reaches."""
    young = {c.id for c in await _kept(scope, campaigns)}
    candidates = [s for s in candidates if s.campaign_id in young]
    if not candidates:
        return set()
    versions = await day_versions(
        scope, min(s.first_day for s in candidates), max(s.last_day for s in candidates)
    )
    since = min(s.computed_at for s in candidates) - SLACK
    erased = await (
        scope.query(Member)
        .filter(status="erased", updated_at__gt=since)
        .values_list("updated_at", flat=True)
    )
    merges = await (
        scope.query(MemberMerge)
        .filter(Q(merged_at__gt=since) | Q(undone_at__gt=since))
        .values_list("survivor_id", "merged_id", "merged_at", "undone_at")
    )
    valid: dict[int, StoredResults] = {}
    touched: dict[int, set[int]] = {}  # campaign -> members merged since its result
    for s in candidates:
        cut = s.computed_at - SLACK
        if signature(versions, s.first_day, s.last_day) != s.versions:
            continue
        if any(at > cut for at in erased):  # type: ignore[operator]
            continue
        valid[s.campaign_id] = s
        for survivor, merged, merged_at, undone_at in merges:
            if merged_at > cut or (undone_at is not None and undone_at > cut):
                touched.setdefault(s.campaign_id, set()).update((survivor, merged))
    if touched:
        members = set().union(*touched.values())
        hit = await (
            scope.query(CampaignRecipient)
            .filter(campaign_id__in=list(touched), member_id__in=list(members))
            .values_list("campaign_id", "member_id")
        )
        for campaign_id, member_id in hit:
            if member_id in touched[campaign_id]:  # type: ignore[index]
                valid.pop(campaign_id, None)  # type: ignore[arg-type]
    return set(valid)


async def stored_rows(
    scope: BrandScope, campaigns: Sequence[Campaign], days: int | None
) -> dict[int, list[dict[str, Any]]]:
    """The attribution rows of those ``campaigns`` whose stored result is
    valid for their window (``days``, else each campaign's own)."""
    if not campaigns:
        return {}
    wanted = {c.id: days if days is not None else c.attribution_days for c in campaigns}
    found = [
        s
        for s in await scope.query(StoredResults).filter(campaign_id__in=list(wanted))
        if s.days == wanted[s.campaign_id] and s.timezone == scope.brand.timezone
    ]
    valid = await _valid(scope, found, campaigns)
    return {
        s.campaign_id: [dict(zip(COLUMNS, row, strict=True)) for row in s.rows]
        for s in found
        if s.campaign_id in valid
    }


async def refresh(scope: BrandScope, now: datetime | None = None) -> int:
    """Store the results of the brand's closed campaigns that have no valid
    stored result: settled (no message left to send) and past the end of
    their last recipient's window. Returns how many were stored. ``now``
    (tests) stands for the clock, the result's ``computed_at`` included."""
    from tessera.campaigns.attribution import sends_of, window_of

    given = now
    now = now or datetime.now(UTC)
    campaigns = await scope.query(Campaign).filter(
        status__in=[s.value for s in SETTLED], launched_at__isnull=False
    )
    # No window can have closed before launch + days.
    campaigns = [
        c
        for c in campaigns
        if c.launched_at is not None and c.launched_at + timedelta(days=c.attribution_days) <= now
    ]
    campaigns = await _kept(scope, campaigns)
    if not campaigns:
        return 0
    have = await scope.query(StoredResults).filter(campaign_id__in=[c.id for c in campaigns])
    tz = scope.brand.timezone
    current = await _valid(
        scope,
        [
            s
            for s in have
            if s.timezone == tz
            and s.days == next(c.attribution_days for c in campaigns if c.id == s.campaign_id)
        ],
        campaigns,
    )
    todo = [c for c in campaigns if c.id not in current]
    if not todo:
        return 0
    sends = await sends_of(scope, [c.id for c in todo])
    done = 0
    for c in todo:
        sent = sends.get(c.id)
        if sent is not None and sent.pending:
            continue
        first, closes = window_of(c, sent, c.attribution_days)
        if closes <= now:
            # One campaign a statement: its own weeks of orders, and a first
            # run over years of campaigns keeps what it has done so far.
            await _store(scope, c, (first, closes), given)
            done += 1
    return done


async def _store(
    scope: BrandScope, campaign: Campaign, span: tuple[datetime, datetime], now: datetime | None
) -> None:
    from tessera.campaigns.attribution import _statement

    tz = scope.brand.timezone
    first_day, last_day = local_day(span[0], tz), local_day(span[1], tz)
    # Versions before the statement: a change committed meanwhile leaves the
    # stored result stale, never wrong.
    versions = await day_versions(scope, first_day, last_day)
    computed_at = now or datetime.now(UTC)
    q = scope_query(scope)
    where = f"c.id = {q(campaign.id)}"
    rows = [
        [
            str(r["grp"]),
            None if r["day"] is None else int(r["day"]),
            int(r["members"]),
            int(r["orders"] or 0),
            int(r["revenue"] or 0),
        ]
        for r in await q.rows(_statement(q, scope.brand_id, where, None, span))
    ]
    async with unit_of_work(scope) as uow:
        await (
            scope.query(StoredResults)
            .using_db(uow.connection)
            .filter(campaign_id=campaign.id)
            .delete()
        )
        await scope.create(
            StoredResults,
            using_db=uow.connection,
            campaign_id=campaign.id,
            days=campaign.attribution_days,
            timezone=tz,
            first_day=first_day,
            last_day=last_day,
            versions=signature(versions, first_day, last_day),
            computed_at=computed_at,
            rows=rows,
        )


async def campaign_results_tick(ctx: dict[str, Any], brand_id: int | None = None) -> int:
    """Store the results of closed campaigns, of one brand or of every brand."""
    del ctx
    query = Brand.filter(id=brand_id) if brand_id is not None else Brand.all()
    done = 0
    for brand in await query.order_by("id"):
        done += await refresh(BrandScope(brand))
    return done
