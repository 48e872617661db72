"""Applying tier decisions: a member's tier state, its history, upgrade gifts.

The active tier policy says which tier a member qualifies for; this module
decides what that answer does, by one rule (docs/loyalty.md):

- on a fact (an order, a check-in...), only an upgrade takes effect, at once;
  the same tier with a later ``until`` extends the validity;
- at the member's evaluation point (``expires_at``, by the review job) the
  answer may keep (renew), raise or lower the tier.

Every change appends a :class:`TierHistory` row, unique per member and
triggering source, so replaying a fact or re-running the job changes nothing;
the upgrade gift's idempotency keys derive from that row, so it is granted
once per upgrade.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError

from tessera.assets.policy import end_of_local_day
from tessera.assets.service import earn_points
from tessera.coupons.service import issue_coupon
from tessera.errors import DomainError
from tessera.plugin_host.components import TierGrant, TierInfo
from tessera.scope import BrandScope
from tessera.tiers.models import MemberTierState, TierDefinition, TierHistory
from tessera.uow import UnitOfWork, unit_of_work

log = logging.getLogger("tessera.tiers")

UPGRADE, DOWNGRADE, RENEWED, REACTIVATED, MANUAL = (
    "upgrade",
    "downgrade",
    "renewed",
    "reactivated",
    "manual",
)


@dataclass(frozen=True)
class TierChange:
    """A change applied: its history row and the tiers either side."""

    history: TierHistory
    from_tier: TierDefinition | None
    to_tier: TierDefinition | None
    gift_errors: tuple[str, ...] = ()


def tier_info(tier: TierDefinition | None) -> TierInfo | None:
    if tier is None:
        return None
    return TierInfo(tier.code, tier.name, tier.rank, tier.validity_months)


def rank_of(tier: TierDefinition | None) -> int:
    return tier.rank if tier is not None else -1


def add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def validity_end(tier: TierDefinition | None, start: datetime, timezone: str) -> datetime | None:
    """When a tier entered at ``start`` reaches its evaluation point: the end
    of the local day ``validity_months`` later; None when it never expires."""
    if tier is None or not tier.validity_months:
        return None
    tz = ZoneInfo(timezone)
    return end_of_local_day(add_months(start.astimezone(tz).date(), tier.validity_months), tz)


async def states_of(
    scope: BrandScope, member_ids: Iterable[int], using_db: Any = None
) -> dict[int, MemberTierState]:
    """The tier state of each member that has one, with its tiers loaded."""
    rows = (
        await scope.query(MemberTierState)
        .using_db(using_db)
        .filter(member_id__in=list(member_ids))
        .select_related("tier", "lapsed_tier")
    )
    return {row.member_id: row for row in rows}


async def lock_state(
    scope: BrandScope, uow: UnitOfWork, member_id: int, at: datetime
) -> MemberTierState:
    """The member's state row, created empty if missing, locked for the rest
    of the transaction so that concurrent facts of one member queue."""
    conn = uow.connection
    await scope.insert_many(
        MemberTierState,
        [scope.build(MemberTierState, member_id=member_id, tier_id=None, since=at)],
        conn,
        ignore_conflicts=True,
    )
    state = (
        await scope.query(MemberTierState)
        .using_db(conn)
        .select_for_update()
        .get(member_id=member_id)
    )
    # PostgreSQL refuses FOR UPDATE over the outer join select_related makes.
    await state.fetch_related("tier", "lapsed_tier", using_db=conn)
    return state


def _by_code(tiers: Sequence[TierDefinition], code: str | None) -> TierDefinition | None:
    if code is None:
        return None
    for tier in tiers:
        if tier.code == code:
            return tier
    log.warning("tier policy named an unknown tier %r; ignored", code)
    raise LookupError(code)


@dataclass(frozen=True)
class OnFact:
    """What a policy's answer to a fact does: move to ``target`` for
    ``reason`` until ``expires_at``, or (``target`` the current tier, no
    ``reason``) only extend the validity to ``expires_at``."""

    target: TierDefinition | None
    reason: str | None
    expires_at: datetime | None


def decide_on_fact(
    scope: BrandScope,
    state: MemberTierState,
    tiers: Sequence[TierDefinition],
    grant: TierGrant | None,
    at: datetime,
) -> OnFact | None:
    """The rule for a fact, without writing: an upgrade (or reactivation) now,
    or a later validity for the same tier; None for anything else (lower
    waits for review)."""
    if grant is None or grant.code is None:
        return None
    try:
        target = _by_code(tiers, grant.code)
    except LookupError:
        return None
    current = state.tier
    if target is not None and current is not None and target.id == current.id:
        if grant.until is not None and (state.expires_at is None or grant.until > state.expires_at):
            return OnFact(current, None, grant.until)
        return None
    if rank_of(target) <= rank_of(current):
        return None
    reason = UPGRADE
    if target is not None and state.lapsed_tier_id == target.id:
        reason = REACTIVATED
    return OnFact(target, reason, grant.until or validity_end(target, at, scope.brand.timezone))


async def apply_on_fact(
    scope: BrandScope,
    uow: UnitOfWork,
    state: MemberTierState,
    tiers: Sequence[TierDefinition],
    grant: TierGrant | None,
    *,
    policy_key: str,
    source: str,
    at: datetime,
) -> TierChange | None:
    """Apply the policy's answer to a fact (:func:`decide_on_fact`)."""
    decided = decide_on_fact(scope, state, tiers, grant, at)
    if decided is None:
        return None
    if decided.reason is None:
        state.expires_at = decided.expires_at
        await state.save(using_db=uow.connection, update_fields=["expires_at", "updated_at"])
        return None
    return await change_tier(
        scope,
        uow,
        state,
        decided.target,
        reason=decided.reason,
        policy_key=policy_key,
        source=source,
        at=at,
        expires_at=decided.expires_at,
    )


async def apply_review(
    scope: BrandScope,
    uow: UnitOfWork,
    state: MemberTierState,
    tiers: Sequence[TierDefinition],
    grant: TierGrant | None,
    *,
    policy_key: str,
    at: datetime,
) -> TierChange | None:
    """Apply the policy's answer at the evaluation point ``at`` (the state's
    ``expires_at``): renew, raise or lower the tier for the next period."""
    current = state.tier
    source = f"review:{at.isoformat()}"
    if grant is None:
        target = current
    else:
        try:
            target = _by_code(tiers, grant.code)
        except LookupError:
            target = current
    if target is not None and current is not None and target.id == current.id:
        reason = RENEWED
    elif rank_of(target) > rank_of(current):
        reason = UPGRADE
    else:
        reason = DOWNGRADE
    until = grant.until if grant is not None else None
    expires = until or validity_end(target, at, scope.brand.timezone)
    return await change_tier(
        scope,
        uow,
        state,
        target,
        reason=reason,
        policy_key=policy_key,
        source=source,
        at=at,
        expires_at=expires,
    )


async def change_tier(
    scope: BrandScope,
    uow: UnitOfWork,
    state: MemberTierState,
    target: TierDefinition | None,
    *,
    reason: str,
    policy_key: str,
    source: str,
    at: datetime,
    expires_at: datetime | None,
) -> TierChange | None:
    """Move the member (``state`` locked by :func:`lock_state`) to ``target``,
    append the history row and grant the upgrade gift. None when ``source``
    already changed this member's tier (a replay)."""
    conn = uow.connection
    current = state.tier
    try:
        # A savepoint: on PostgreSQL a unique violation would otherwise abort
        # the caller's whole transaction (the order).
        async with unit_of_work(scope, uow):
            history = await scope.create(
                TierHistory,
                using_db=conn,
                member_id=state.member_id,
                from_tier_id=current.id if current else None,
                to_tier_id=target.id if target else None,
                reason=reason,
                policy_key=policy_key,
                source=source[:160],
                at=at,
                expires_at=expires_at,
            )
    except IntegrityError:
        return None
    changes = state_changes(current, target, reason, at, expires_at)
    await (
        scope.query(MemberTierState)
        .using_db(conn)
        .filter(member_id=state.member_id)
        .update(**changes)
    )
    for name, value in changes.items():
        setattr(state, name, value)
    state.tier = target
    gift_errors: tuple[str, ...] = ()
    if reason == UPGRADE and target is not None:
        gift_errors = await _grant_gift(scope, uow, history, target, at)
    tier_changed(uow, history, current, target, gift_errors)
    return TierChange(history, current, target, gift_errors)


def state_changes(
    current: TierDefinition | None,
    target: TierDefinition | None,
    reason: str,
    at: datetime,
    expires_at: datetime | None,
) -> dict[str, Any]:
    """The columns of a member's tier state a change sets."""
    changes: dict[str, Any] = {"tier_id": target.id if target else None, "expires_at": expires_at}
    if reason != RENEWED:
        changes["since"] = at
    if reason == DOWNGRADE:
        changes["lapsed_tier_id"] = current.id if current else None
    elif reason in (UPGRADE, REACTIVATED):
        changes["lapsed_tier_id"] = None
    return changes


def tier_changed(
    uow: UnitOfWork,
    history: TierHistory,
    current: TierDefinition | None,
    target: TierDefinition | None,
    gift_errors: Sequence[str],
) -> None:
    """Emit ``tier.changed`` for ``history``."""
    uow.emit(
        "tier.changed",
        member_id=history.member_id,
        from_tier=current.code if current else None,
        to_tier=target.code if target else None,
        reason=history.reason,
        policy=history.policy_key,
        history_id=history.id,
        expires_at=history.expires_at.isoformat() if history.expires_at else None,
        gift_errors=list(gift_errors),
    )


async def grant_gift_coupons(
    scope: BrandScope, uow: UnitOfWork, history: TierHistory, tier: TierDefinition, at: datetime
) -> tuple[str, ...]:
    """Issue the upgrade gift's coupons; the templates that could not give one."""
    errors = []
    for template_id in tier.gift_coupon_template_ids:
        try:
            await issue_coupon(
                scope,
                template_id=template_id,
                member_id=history.member_id,
                idempotency_key=f"tier-gift:{history.id}:coupon:{template_id}",
                now=at,
                uow=uow,
            )
        except DomainError as error:
            # A template switched off or out of stock must not block the order
            # that earned the upgrade; the miss is in the tier.changed event.
            log.warning("upgrade gift coupon %s not issued: %s", template_id, error.message)
            errors.append(f"coupon template {template_id}: {error.message}")
    return tuple(errors)


GIFT_SOURCE = "tier_gift"


def gift_points_key(history: TierHistory) -> str:
    return f"tier-gift:{history.id}:points"


def gift_points_reason(tier: TierDefinition) -> str:
    return f"upgrade gift: {tier.name}"


async def _grant_gift(
    scope: BrandScope, uow: UnitOfWork, history: TierHistory, tier: TierDefinition, at: datetime
) -> tuple[str, ...]:
    if tier.gift_points:
        await earn_points(
            scope,
            history.member_id,
            tier.gift_points,
            idempotency_key=gift_points_key(history),
            reason=gift_points_reason(tier),
            source_type=GIFT_SOURCE,
            source_ref=str(history.id),
            now=at,
            uow=uow,
        )
    return await grant_gift_coupons(scope, uow, history, tier, at)


async def history_of(
    scope: BrandScope, member_ids: Iterable[int], using_db: Any = None
) -> dict[int, list[TierHistory]]:
    """Each member's tier history, oldest first, with the tiers loaded."""
    found: dict[int, list[TierHistory]] = {m: [] for m in member_ids}
    rows = (
        await scope.query(TierHistory)
        .using_db(using_db)
        .filter(member_id__in=list(found))
        .select_related("from_tier", "to_tier")
        .order_by("at", "id")
    )
    for row in rows:
        found[row.member_id].append(row)
    return found
