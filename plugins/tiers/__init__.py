"""Built-in tier policies (docs/loyalty.md). Exactly one is active per brand.

Each names tiers by code in its config; a code the brand has not defined is
ignored. All share the :class:`Retention` rules applied when a member's tier
reaches its evaluation point (validity end).
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tessera import (
    PointsFact,
    TierGrant,
    TierInfo,
    TierPolicy,
    TierProgress,
    TierStanding,
    hookimpl,
)


def months_before(moment: datetime, months: int) -> datetime:
    index = moment.month - 1 - months
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(
        year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1])
    )


def months_after(moment: datetime, months: int) -> datetime:
    return months_before(moment, -months)


class Retention(BaseModel):
    """What happens at the evaluation point when the member no longer meets
    the tier's own threshold."""

    model_config = ConfigDict(extra="forbid")

    renewal_spend: Decimal | None = Field(
        None,
        ge=0,
        description="Keep the tier if the member spent at least this (in the brand's currency) "
        "in the last `renewal_months` months before validity ends; null: no such rule.",
    )
    renewal_months: int = Field(12, ge=1, le=60)
    on_failure: Literal["drop_one", "to_base"] = Field(
        "drop_one", description="Otherwise drop one tier, or to the lowest tier."
    )
    inactive_days: int | None = Field(
        None,
        ge=1,
        le=3650,
        description="For tiers without validity: review a member after this many days without "
        "a purchase (each purchase pushes it back).",
    )
    reactivate_on_purchase: bool = Field(
        False, description="A purchase gives back the tier a review took away."
    )


class _RetainingPolicy(TierPolicy):
    """A policy with its own qualification measure plus the retention rules."""

    async def qualified(self, member: TierStanding, tiers: Sequence[TierInfo]) -> TierGrant | None:
        raise NotImplementedError

    @property
    def retention(self) -> Retention:
        return self.config.retention  # type: ignore[attr-defined, no-any-return]

    async def evaluate(self, member: TierStanding, tiers: Sequence[TierInfo]) -> TierGrant | None:
        best = await self.qualified(member, tiers)
        fact = member.fact
        retention = self.retention
        purchase = fact is not None and fact.kind == "order"
        lapsed = _find(tiers, member.member.lapsed_tier)
        if (
            retention.reactivate_on_purchase
            and purchase
            and lapsed is not None
            and (best is None or lapsed.rank > _rank(tiers, best.code))
        ):
            best = TierGrant(lapsed.code)
        if best is None:
            return None
        chosen = _find(tiers, best.code)
        if (
            retention.inactive_days
            and purchase
            and fact is not None
            and chosen is not None
            and chosen.validity_months is None
            and best.until is None
        ):
            best = TierGrant(best.code, fact.occurred_at + timedelta(days=retention.inactive_days))
        return best

    async def review(self, member: TierStanding, tiers: Sequence[TierInfo]) -> TierGrant | None:
        current = member.member.tier
        best = await self.qualified(member, tiers)
        if current is None:
            return best
        if best is not None and _rank(tiers, best.code) >= current.rank:
            return TierGrant(best.code) if best.code != current.code else TierGrant(current.code)
        retention = self.retention
        end = member.member.tier_expires_at or member.now
        if retention.renewal_spend is not None:
            spent = await member.spent(months_before(end, retention.renewal_months), end)
            if spent >= member.minor(retention.renewal_spend):
                return TierGrant(current.code)
        if retention.inactive_days and current.validity_months is None:
            since = end - timedelta(days=retention.inactive_days)
            if await member.spent(since, end) > 0:
                return TierGrant(current.code, end + timedelta(days=retention.inactive_days))
        floor = _rank(tiers, best.code) if best is not None else -1
        ordered = sorted(tiers, key=lambda t: t.rank)
        if retention.on_failure == "drop_one":
            lower = [t for t in ordered if t.rank < current.rank]
            target = lower[-1] if lower else current
        else:
            target = ordered[0]
        if target.rank < floor and best is not None:
            return TierGrant(best.code)
        return TierGrant(target.code)


def _find(tiers: Sequence[TierInfo], code: str | None) -> TierInfo | None:
    return next((t for t in tiers if t.code == code), None) if code else None


def _rank(tiers: Sequence[TierInfo], code: str | None) -> int:
    tier = _find(tiers, code)
    return tier.rank if tier is not None else -1


def _highest(tiers: Sequence[TierInfo], passes: dict[str, bool]) -> TierGrant | None:
    eligible = [t for t in tiers if passes.get(t.code)]
    return TierGrant(max(eligible, key=lambda t: t.rank).code) if eligible else None


class CumulativeSpendConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    thresholds: dict[str, Decimal] = Field(
        default_factory=dict,
        description="Tier code -> net spend (brand currency) within the window to reach it.",
    )
    window_months: int = Field(12, ge=1, le=60, description="The rolling window, in months.")
    retention: Retention = Field(default_factory=Retention)


class CumulativeSpendPolicy(_RetainingPolicy):
    key = "tiers.cumulative_spend"
    title = "Cumulative spend"
    description = "Tier by net spend within a rolling window of months."
    Config = CumulativeSpendConfig

    async def qualified(self, member: TierStanding, tiers: Sequence[TierInfo]) -> TierGrant | None:
        config: CumulativeSpendConfig = self.config  # type: ignore[assignment]
        spent = await member.spent(months_before(member.now, config.window_months))
        return _highest(
            tiers,
            {code: spent >= member.minor(limit) for code, limit in config.thresholds.items()},
        )

    async def progress(self, member: TierStanding, target: TierInfo) -> TierProgress | None:
        config: CumulativeSpendConfig = self.config  # type: ignore[assignment]
        limit = config.thresholds.get(target.code)
        if limit is None:
            return None
        spent = await member.spent(months_before(member.now, config.window_months))
        return TierProgress("spend", spent, member.minor(limit))


class SingleOrderConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    thresholds: dict[str, Decimal] = Field(
        default_factory=dict, description="Tier code -> amount one order must reach."
    )
    retention: Retention = Field(default_factory=Retention)


class SingleOrderPolicy(_RetainingPolicy):
    key = "tiers.single_order"
    title = "Single order"
    description = "Tier reached by one order of at least a threshold."
    Config = SingleOrderConfig

    async def qualified(self, member: TierStanding, tiers: Sequence[TierInfo]) -> TierGrant | None:
        config: SingleOrderConfig = self.config  # type: ignore[assignment]
        order = member.fact.order if member.fact is not None else None
        if order is None:
            return None
        return _highest(
            tiers,
            {c: order.amount_paid >= member.minor(v) for c, v in config.thresholds.items()},
        )


class GrowthRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    per_currency_unit: Decimal = Field(
        Decimal(1), ge=0, le=1000, description="Growth per unit of currency paid."
    )
    joined: int = Field(0, ge=0, le=1_000_000)
    check_in: int = Field(0, ge=0, le=1_000_000)
    events: dict[str, int] = Field(
        default_factory=dict, description="Behaviour event type -> growth."
    )


class GrowthConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    thresholds: dict[str, int] = Field(
        default_factory=dict, description="Tier code -> growth value to reach it."
    )
    window_months: int | None = Field(
        None,
        ge=1,
        le=60,
        description="Count only growth earned in the last N months (null: all of it).",
    )
    growth: GrowthRules = Field(default_factory=GrowthRules)
    retention: Retention = Field(default_factory=Retention)


class GrowthPolicy(_RetainingPolicy):
    key = "tiers.growth"
    title = "Growth value"
    description = "Tier by growth value, earned from spend and activities."
    Config = GrowthConfig

    async def growth_for(self, fact: PointsFact) -> int:
        rules = self.config.growth  # type: ignore[attr-defined]
        if fact.kind == "order" and fact.order is not None:
            unit = fact.minor(Decimal(1)) or 1
            return int(Decimal(fact.order.amount_paid) / unit * rules.per_currency_unit)
        if fact.kind == "check_in":
            return int(rules.check_in)
        if fact.kind == "joined":
            return int(rules.joined)
        if fact.kind == "event" and fact.event_type:
            return int(rules.events.get(fact.event_type, 0))
        return 0

    async def qualified(self, member: TierStanding, tiers: Sequence[TierInfo]) -> TierGrant | None:
        have = await self._growth(member)
        config: GrowthConfig = self.config  # type: ignore[assignment]
        return _highest(tiers, {c: have >= v for c, v in config.thresholds.items()})

    async def _growth(self, member: TierStanding) -> int:
        window = self.config.window_months  # type: ignore[attr-defined]
        if window is None:
            return member.growth
        return await member.grown(months_before(member.now, window))

    async def progress(self, member: TierStanding, target: TierInfo) -> TierProgress | None:
        config: GrowthConfig = self.config  # type: ignore[assignment]
        need = config.thresholds.get(target.code)
        if need is None:
            return None
        return TierProgress("growth", await self._growth(member), need)


class PaidMembershipConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    offers: dict[str, str] = Field(
        default_factory=dict, description="SKU sold as a membership -> the tier code it buys."
    )
    months: int = Field(12, ge=1, le=120, description="How long a purchase holds the tier.")
    retention: Retention = Field(default_factory=lambda: Retention(on_failure="to_base"))


class PaidMembershipPolicy(_RetainingPolicy):
    key = "tiers.paid"
    title = "Paid membership"
    description = "Members buy a tier for a period (an order line with the tier's SKU)."
    Config = PaidMembershipConfig

    async def qualified(self, member: TierStanding, tiers: Sequence[TierInfo]) -> TierGrant | None:
        config: PaidMembershipConfig = self.config  # type: ignore[assignment]
        order = member.fact.order if member.fact is not None else None
        if order is None:
            return None
        bought = [_find(tiers, config.offers.get(line.sku)) for line in order.lines]
        found = [t for t in bought if t is not None]
        if not found:
            return None
        best = max(found, key=lambda t: t.rank)
        current = member.member
        start = order.occurred_at
        if (
            current.tier is not None
            and current.tier.code == best.code
            and current.tier_expires_at is not None
            and current.tier_expires_at > start
        ):
            start = current.tier_expires_at  # a renewal adds to the time left
        return TierGrant(best.code, months_after(start, config.months))


@hookimpl
def tessera_register_tier_policies() -> list[type[TierPolicy]]:
    return [CumulativeSpendPolicy, SingleOrderPolicy, GrowthPolicy, PaidMembershipPolicy]
