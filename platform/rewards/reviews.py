"""Tier reviews: when a member's tier reaches its evaluation point
(``expires_at``: validity end, or the inactivity point a policy set), the
active policy's :meth:`~tessera.TierPolicy.review` decides the next period:
renew, raise or lower. Downgrades happen only here. Run by the
``tier_review`` job; re-running it changes nothing (the history row of a
review is unique per member and evaluation point)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from tessera.assets.service import balances
from tessera.members.models import Member
from tessera.plugin_host.components import TierProgress, TierStanding
from tessera.rewards.facts import (
    brand_info,
    member_facts,
    money_exponent,
    net_growth,
    net_spent,
)
from tessera.rewards.pipeline import RewardsFailed, programme
from tessera.scope import BrandScope
from tessera.tiers.definitions import list_tiers
from tessera.tiers.models import MemberTierState, TierDefinition
from tessera.tiers.service import (
    TierChange,
    apply_review,
    lock_state,
    rank_of,
    states_of,
    tier_info,
)
from tessera.uow import unit_of_work

PAGE = 200
# A job that has not run for several periods catches up one period per pass.
MAX_PERIODS = 24


@dataclass
class ReviewReport:
    reviewed: int = 0
    renewed: int = 0
    upgraded: int = 0
    downgraded: int = 0


async def review_due(scope: BrandScope, now: datetime | None = None) -> ReviewReport:
    """Review every member of the brand whose evaluation point is at or before ``now``."""
    now = now or datetime.now(UTC)
    report = ReviewReport()
    prog = await programme(scope)
    if prog.policy is None:
        return report
    after = 0
    while True:
        due: list[int] = cast(
            list[int],
            await scope.query(MemberTierState)
            .filter(expires_at__lte=now, member_id__gt=after)
            .order_by("member_id")
            .limit(PAGE)
            .values_list("member_id", flat=True),
        )
        for member_id in due:
            for _ in range(MAX_PERIODS):
                change = await review_member(scope, member_id, now)
                if change is None:
                    break
                report.reviewed += 1
                reason = change.history.reason
                if reason == "renewed":
                    report.renewed += 1
                elif reason == "upgrade":
                    report.upgraded += 1
                else:
                    report.downgraded += 1
                if change.history.expires_at is None or change.history.expires_at > now:
                    break
        if len(due) < PAGE:
            return report
        after = due[-1]


async def review_member(scope: BrandScope, member_id: int, now: datetime) -> TierChange | None:
    """Review one member if their evaluation point has passed; one transaction."""
    prog = await programme(scope)
    policy = prog.policy
    if policy is None:
        return None
    async with unit_of_work(scope) as uow:
        member = await scope.query(Member).using_db(uow.connection).get(id=member_id)
        state = await lock_state(scope, uow, member_id, now)
        if state.expires_at is None or state.expires_at > now:
            return None
        at = state.expires_at
        tiers = await list_tiers(scope, uow.connection)
        standing = await standing_at(scope, member, state, at)
        try:
            grant = await policy.review(standing, [i for t in tiers if (i := tier_info(t))])
        except Exception as error:
            raise RewardsFailed(policy.key, error) from error
        return await apply_review(scope, uow, state, tiers, grant, policy_key=policy.key, at=at)


async def standing_at(
    scope: BrandScope, member: Member, state: MemberTierState | None, at: datetime
) -> TierStanding:
    """``member`` as a tier policy judges them at ``at``, with no fact."""
    facts = await member_facts(scope, member, at, state)
    growth = (await balances(scope, [member.id]))[member.id].growth

    async def spent_between(since: datetime, until: datetime) -> int:
        return await net_spent(scope, member.id, since, until)

    async def grown_between(since: datetime, until: datetime) -> int:
        return await net_growth(scope, member.id, since, until)

    return TierStanding(
        member=facts,
        brand=brand_info(scope),
        now=at,
        growth=growth,
        fact=None,
        spent_between=spent_between,
        grown_between=grown_between,
        money_exponent=money_exponent(scope),
    )


@dataclass(frozen=True)
class Progress:
    """The member's tier, the next one up, and how far they are from it."""

    tier: TierDefinition | None
    next_tier: TierDefinition | None
    progress: TierProgress | None


async def tier_progress(scope: BrandScope, member: Member, now: datetime | None = None) -> Progress:
    """Where ``member`` stands on the way to the next tier (reads only)."""
    now = now or datetime.now(UTC)
    state = (await states_of(scope, [member.id])).get(member.id)
    current = state.tier if state is not None else None
    tiers = await list_tiers(scope)
    higher = [t for t in tiers if t.rank > rank_of(current)]
    if not higher:
        return Progress(current, None, None)
    target = higher[0]
    policy = (await programme(scope)).policy
    if policy is None:
        return Progress(current, target, None)
    standing = await standing_at(scope, member, state, now)
    info = tier_info(target)
    assert info is not None
    try:
        measured = await policy.progress(standing, info)
    except Exception as error:
        raise RewardsFailed(policy.key, error) from error
    return Progress(current, target, measured)
