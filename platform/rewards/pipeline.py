"""The rewards pipeline: what a fact earns, computed once, applied once.

:func:`compute_rewards` only reads: it asks every enabled points rule (in
stage order, each seeing the earlier awards) and the active tier policy, and
returns a :class:`RewardPlan`. :func:`apply_rewards` writes the plan inside
the caller's unit of work (the order's transaction): points (held pending
for the brand's return window when the fact is an order), growth, the tier
upgrade and its gift. ``previewOrderRewards`` calls the same
:func:`compute_order_rewards` as ``recordOrder`` and stops before applying.

A plugin that raises fails the fact: :class:`RewardsFailed` is a
``DomainError``, so the order is rolled back and the API reports which
component failed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tessera import runtime
from tessera.assets.policy import get_policy
from tessera.assets.service import (
    MAX_POINTS_ENTRY,
    balances,
    earn_growth,
    earn_points,
    pending_window_end,
)
from tessera.errors import DomainError
from tessera.features.models import BrandFeature
from tessera.features.service import load_config
from tessera.members.models import Member
from tessera.plugin_host.components import (
    Award,
    ComponentFamily,
    MemberFacts,
    OrderFacts,
    PointsFact,
    PointsRule,
    RuleAward,
    TierGrant,
    TierInfo,
    TierPolicy,
    TierStanding,
)
from tessera.rewards.facts import (
    brand_info,
    member_facts,
    money_exponent,
    net_growth,
    net_spent,
)
from tessera.scope import BrandScope
from tessera.tiers.definitions import list_tiers
from tessera.tiers.models import MemberTierState, TierDefinition
from tessera.tiers.service import TierChange, apply_on_fact, rank_of, tier_info
from tessera.uow import UnitOfWork

log = logging.getLogger("tessera.rewards")


class RewardsFailed(DomainError):
    """A points rule or the tier policy raised; the fact is not recorded."""

    def __init__(self, component: str, error: BaseException) -> None:
        super().__init__(
            "REWARD_RULE_FAILED",
            f"component {component!r} failed, so nothing was recorded: {error!r}",
        )
        self.component = component


@dataclass(frozen=True)
class Programme:
    """The brand's enabled points rules (in running order) and tier policy."""

    rules: tuple[PointsRule, ...]
    policy: TierPolicy | None

    @property
    def empty(self) -> bool:
        return not self.rules and self.policy is None


async def programme(scope: BrandScope) -> Programme:
    """One query: the brand's enabled loyalty components, configured."""
    rt = runtime.current()
    rules: list[PointsRule] = []
    policy: TierPolicy | None = None
    features = scope.query(BrandFeature).filter(
        enabled=True,
        family__in=[ComponentFamily.POINTS_RULE.value, ComponentFamily.TIER_POLICY.value],
    )
    for feature in await features.order_by("component_key"):
        registered = rt.host.component(feature.component_key)
        if registered is None:
            continue
        try:
            component = registered.cls(load_config(registered.cls, feature, rt.settings))
        except Exception as error:
            raise RewardsFailed(feature.component_key, error) from error
        if isinstance(component, TierPolicy):
            policy = component
        elif isinstance(component, PointsRule):
            rules.append(component)
    rules.sort(key=lambda r: (r.stage, r.key))
    return Programme(tuple(rules), policy)


class History:
    """What computing a fact's rewards reads about the member: their facts
    (tags, tier), the tiers, the growth held and net spend and growth within a
    window. This one asks the database each time (one fact at a time, and
    ``previewOrderRewards``); the batch pipeline (:mod:`tessera.pipeline.orders`)
    passes one that loaded the whole batch's in a few queries, so both run the
    same computation below."""

    def __init__(self, scope: BrandScope) -> None:
        self.scope = scope

    async def facts(
        self, member: Member, now: datetime, state: MemberTierState | None
    ) -> MemberFacts:
        return await member_facts(self.scope, member, now, state)

    async def tiers(self) -> Sequence[TierDefinition]:
        return await list_tiers(self.scope)

    def tier_infos(self, tiers: Sequence[TierDefinition]) -> tuple[TierInfo, ...]:
        """``tiers`` (what :meth:`tiers` gave) as policies see them."""
        return tuple(_info(t) for t in tiers)

    async def held_growth(self, member_id: int) -> int:
        return (await balances(self.scope, [member_id]))[member_id].growth

    async def spent(
        self, member_id: int, since: datetime, until: datetime, leave_out: str | None
    ) -> int:
        return await net_spent(self.scope, member_id, since, until, leave_out=leave_out)

    async def grown(self, member_id: int, since: datetime, until: datetime) -> int:
        return await net_growth(self.scope, member_id, since, until)


@dataclass(frozen=True)
class PlannedPoints:
    """Points one rule awards for the fact."""

    rule: str
    member_id: int
    points: int
    reason: str
    idempotency_key: str


@dataclass(frozen=True)
class RewardPlan:
    """What a fact earns, before anything is written."""

    member_id: int
    kind: str
    source_type: str
    source_ref: str
    occurred_at: datetime
    points: tuple[PlannedPoints, ...]
    growth: int
    policy_key: str | None
    tier_from: TierInfo | None
    tier_to: TierInfo | None
    grant: TierGrant | None
    pending_until: datetime | None = None

    @property
    def total_points(self) -> int:
        return sum(p.points for p in self.points if p.member_id == self.member_id)

    @property
    def upgrades(self) -> bool:
        return self.tier_to is not None and (
            self.tier_from is None or self.tier_to.rank > self.tier_from.rank
        )


@dataclass(frozen=True)
class Applied:
    plan: RewardPlan
    tier_change: TierChange | None


async def compute_order_rewards(
    scope: BrandScope,
    member: Member,
    order_facts: OrderFacts,
    now: datetime,
    *,
    state: MemberTierState | None = None,
    loaded: Programme | None = None,
    history: History | None = None,
) -> RewardPlan:
    """What recording ``order_facts`` for ``member`` earns at ``now``. Reads only."""
    ref = str(order_facts.order_id) if order_facts.order_id is not None else order_facts.external_id
    return await compute_rewards(
        scope,
        member,
        "order",
        now=now,
        order=order_facts,
        source_type="order",
        source_ref=ref,
        state=state,
        loaded=loaded,
        history=history,
    )


async def compute_rewards(
    scope: BrandScope,
    member: Member,
    kind: str,
    *,
    now: datetime,
    source_type: str,
    source_ref: str,
    order: OrderFacts | None = None,
    streak: int = 0,
    event_type: str | None = None,
    referrer_id: int | None = None,
    state: MemberTierState | None = None,
    loaded: Programme | None = None,
    history: History | None = None,
) -> RewardPlan:
    """What a fact of ``kind`` earns ``member``. Reads only (through ``history``)."""
    prog = loaded if loaded is not None else await programme(scope)
    past = history if history is not None else History(scope)
    facts = await past.facts(member, now, state)
    base = PointsFact(
        kind=kind,
        brand=brand_info(scope),
        member=facts,
        occurred_at=order.occurred_at if order is not None else now,
        money_exponent=money_exponent(scope),
        order=order,
        streak=streak,
        event_type=event_type,
        referrer_id=referrer_id,
    )
    awards: list[RuleAward] = []
    planned: list[PlannedPoints] = []
    fact = base  # so_far is (): what the first rule sees
    for rule in prog.rules:
        if len(fact.so_far) != len(awards):
            # A fact is frozen: one is made only when the awards so far grew.
            fact = _with_awards(base, awards)
        try:
            result = await rule.points_for(fact)
            made = _awards(rule, result, member.id)
        except Exception as error:
            raise RewardsFailed(rule.key, error) from error
        for i, award in enumerate(made):
            _within_limit(award.points, "points")
            awards.append(award)
            planned.append(
                PlannedPoints(
                    award.rule,
                    award.member_id,
                    award.points,
                    award.reason,
                    f"{source_type}:{source_ref}:{award.rule}:{i}",
                )
            )
    growth = 0
    grant: TierGrant | None = None
    tier_to = facts.tier
    if prog.policy is not None:
        policy = prog.policy
        if len(fact.so_far) != len(awards):
            fact = _with_awards(base, awards)
        try:
            growth = int(await policy.growth_for(fact))
            if growth < 0:
                raise ValueError(f"growth {growth} is out of range")
            _within_limit(growth, "growth")
            tiers = await past.tiers()
            standing = await _standing(past, facts, fact, now, growth)
            grant = await policy.evaluate(standing, past.tier_infos(tiers))
        except (RewardsFailed, AwardTooLarge):
            raise
        except Exception as error:
            raise RewardsFailed(policy.key, error) from error
        tier_to = _reached(tiers, facts.tier, grant)
    return RewardPlan(
        member_id=member.id,
        kind=kind,
        source_type=source_type,
        source_ref=source_ref,
        occurred_at=base.occurred_at,
        points=tuple(p for p in planned if p.points > 0),
        growth=growth,
        policy_key=prog.policy.key if prog.policy is not None else None,
        tier_from=facts.tier,
        tier_to=tier_to,
        grant=grant,
    )


def _with_awards(base: PointsFact, awards: Sequence[RuleAward]) -> PointsFact:
    return PointsFact(
        kind=base.kind,
        brand=base.brand,
        member=base.member,
        occurred_at=base.occurred_at,
        money_exponent=base.money_exponent,
        order=base.order,
        streak=base.streak,
        event_type=base.event_type,
        referrer_id=base.referrer_id,
        so_far=tuple(awards),
    )


class AwardTooLarge(DomainError):
    """An award past the ledger's limit on one entry: the fact is refused."""


def _within_limit(amount: int, field: str) -> None:
    if amount > MAX_POINTS_ENTRY:
        raise AwardTooLarge(
            "AMOUNT_TOO_LARGE",
            f"this would award {amount:,} {field}, more than the {MAX_POINTS_ENTRY:,} "
            "an entry may hold",
            [field],
        )


def _awards(rule: PointsRule, result: Any, member_id: int) -> list[RuleAward]:
    if isinstance(result, bool):
        raise TypeError("points_for returned a bool")
    items = [Award(result, rule.title)] if isinstance(result, int) else list(result)
    made = []
    for item in items:
        if not isinstance(item, Award):
            raise TypeError(f"points_for returned {item!r}, not an int or Awards")
        if not isinstance(item.points, int) or item.points < 0:
            raise ValueError(f"an award of {item.points!r} points is out of range")
        made.append(RuleAward(rule.key, item.points, item.reason, item.member_id or member_id))
    return made


def _info(tier: TierDefinition) -> TierInfo:
    info = tier_info(tier)
    assert info is not None
    return info


def _reached(
    tiers: Sequence[TierDefinition], current: TierInfo | None, grant: TierGrant | None
) -> TierInfo | None:
    """The tier a fact leaves the member in: only upgrades apply on a fact."""
    if grant is None or grant.code is None:
        return current
    target = next((t for t in tiers if t.code == grant.code), None)
    if target is None:
        return current
    if rank_of(target) > (current.rank if current is not None else -1):
        return tier_info(target)
    return current


async def _standing(
    past: History, facts: Any, fact: PointsFact, now: datetime, growth: int
) -> TierStanding:
    held = await past.held_growth(facts.id)
    order = fact.order

    async def spent_between(since: datetime, until: datetime) -> int:
        # The order being recorded (or previewed) is left out of the query and
        # counted here, so a preview and the recording see the same total.
        total = await past.spent(facts.id, since, until, order.external_id if order else None)
        if order is not None and since <= order.occurred_at <= until:
            total += order.amount_paid
        return total

    async def grown_between(since: datetime, until: datetime) -> int:
        total = await past.grown(facts.id, since, until)
        return total + growth if since <= fact.occurred_at <= until else total

    return TierStanding(
        member=facts,
        brand=fact.brand,
        now=now,
        growth=held + growth,
        fact=fact,
        spent_between=spent_between,
        grown_between=grown_between,
        money_exponent=fact.money_exponent,
    )


async def apply_rewards(
    scope: BrandScope,
    uow: UnitOfWork,
    plan: RewardPlan,
    *,
    state: MemberTierState,
    hold: bool = False,
) -> Applied:
    """Write ``plan`` in ``uow``: points (with ``hold``, pending for the
    brand's return window), growth, then the tier upgrade and its gift.
    ``state`` is the member's locked tier state (:func:`lock_state`)."""
    at = plan.occurred_at
    pending_until = None
    if hold and plan.points:
        policy = await get_policy(scope, uow.connection)
        pending_until = pending_window_end(scope, at, policy)
    for item in plan.points:
        await earn_points(
            scope,
            item.member_id,
            item.points,
            idempotency_key=item.idempotency_key,
            reason=f"{item.rule}: {item.reason}"[:500],
            source_type=plan.source_type,
            source_ref=plan.source_ref,
            pending_until=pending_until if item.member_id == plan.member_id else None,
            now=at,
            uow=uow,
        )
    if plan.growth:
        await earn_growth(
            scope,
            plan.member_id,
            plan.growth,
            idempotency_key=f"{plan.source_type}:{plan.source_ref}:growth",
            reason=f"{plan.policy_key}: growth",
            source_type=plan.source_type,
            source_ref=plan.source_ref,
            now=at,
            uow=uow,
        )
    change = None
    if plan.policy_key is not None:
        tiers = await list_tiers(scope, uow.connection)
        change = await apply_on_fact(
            scope,
            uow,
            state,
            tiers,
            plan.grant,
            policy_key=plan.policy_key,
            source=f"{plan.source_type}:{plan.source_ref}",
            at=at,
        )
    return Applied(plan, change)


async def reevaluate_tier(
    scope: BrandScope, uow: UnitOfWork, member: Member, *, source: str, now: datetime
) -> TierChange | None:
    """Ask the active tier policy once where ``member`` stands now, with no
    new fact (``kind`` ``merge``: a merge gave them another member's history),
    and apply its answer as a fact's (upgrades, validity). None without an
    active policy or when nothing changed."""
    prog = await programme(scope)
    if prog.policy is None:
        return None
    from tessera.tiers.service import lock_state

    state = await lock_state(scope, uow, member.id, now)
    past = History(scope)
    facts = await past.facts(member, now, state)
    fact = PointsFact(
        kind="merge",
        brand=brand_info(scope),
        member=facts,
        occurred_at=now,
        money_exponent=money_exponent(scope),
    )
    try:
        tiers = await past.tiers()
        standing = await _standing(past, facts, fact, now, 0)
        grant = await prog.policy.evaluate(standing, [_info(t) for t in tiers])
    except Exception as error:
        raise RewardsFailed(prog.policy.key, error) from error
    return await apply_on_fact(
        scope, uow, state, tiers, grant, policy_key=prog.policy.key, source=source, at=now
    )
