"""Built-in points rules (docs/loyalty.md). Any number may be active."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from tessera import Award, PointsFact, PointsRule, RedemptionTerms, hookimpl

ROUNDING = {"down": ROUND_FLOOR, "half_up": ROUND_HALF_UP, "up": ROUND_CEILING}


class PurchaseConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points_per_unit: Decimal = Field(
        Decimal(1), gt=0, le=1000, description="Points per unit of currency paid."
    )
    rounding: Literal["down", "half_up", "up"] = "down"
    excluded_categories: list[str] = Field(
        default_factory=list, description="Lines of these categories earn nothing."
    )
    tier_multipliers: dict[str, Decimal] = Field(
        default_factory=dict, description="Tier code -> multiplier (e.g. gold: 1.5)."
    )

    @model_validator(mode="after")
    def _multipliers(self) -> PurchaseConfig:
        for code, value in self.tier_multipliers.items():
            if not Decimal(1) <= value <= Decimal(10):
                raise ValueError(f"tier_multipliers.{code} must be from 1 to 10")
        return self


class PurchasePoints(PointsRule):
    key = "points.purchase"
    title = "Points for purchases"
    description = "Points per unit of currency paid, with per-tier multipliers."
    Config = PurchaseConfig

    async def points_for(self, fact: PointsFact) -> int:
        config: PurchaseConfig = self.config  # type: ignore[assignment]
        if fact.kind != "order" or fact.order is None:
            return 0
        paid = fact.order.paid_in(config.excluded_categories, exclude=True)
        units = Decimal(paid).scaleb(-fact.money_exponent)
        tier = fact.member.tier
        multiplier = config.tier_multipliers.get(tier.code, Decimal(1)) if tier else Decimal(1)
        raw = units * config.points_per_unit * multiplier
        return int(raw.quantize(Decimal(1), rounding=ROUNDING[config.rounding]))


class CampaignConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    multiplier: Decimal = Field(Decimal(2), gt=1, le=10, description="x2, x3...")
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    tiers: list[str] = Field(default_factory=list, description="Only these tiers; [] for all.")
    tags: list[str] = Field(default_factory=list, description="Only members with a tag code.")
    categories: list[str] = Field(
        default_factory=list, description="Only the share paid for these categories."
    )
    base_rules: list[str] = Field(
        default_factory=lambda: ["points.purchase"], description="Rules whose points it multiplies."
    )

    @model_validator(mode="after")
    def _window(self) -> CampaignConfig:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class MultiplierCampaign(PointsRule):
    key = "points.campaign"
    title = "Multiplier campaign"
    description = "Multiplies purchase points within a date window (x2, x3...)."
    Config = CampaignConfig
    stage = 200

    async def points_for(self, fact: PointsFact) -> Sequence[Award]:
        config: CampaignConfig = self.config  # type: ignore[assignment]
        order = fact.order
        if order is None or not config.starts_at <= order.occurred_at < config.ends_at:
            return []
        member = fact.member
        if config.tiers and (member.tier is None or member.tier.code not in config.tiers):
            return []
        if config.tags and not member.tags & set(config.tags):
            return []
        base = sum(
            a.points
            for a in fact.so_far
            if a.rule in config.base_rules and a.member_id == member.id
        )
        if config.categories and order.amount_paid:
            base = base * order.paid_in(config.categories) // order.amount_paid
        extra = int(base * (config.multiplier - 1))
        return [Award(extra, f"x{config.multiplier.normalize()} campaign")] if extra else []


class ActivityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    registration: int = Field(0, ge=0, le=1_000_000, description="On joining.")
    check_in: int = Field(0, ge=0, le=1_000_000, description="Per daily check-in.")
    streak_days: int = Field(7, ge=2, le=365, description="A streak bonus every N days.")
    streak_bonus: int = Field(0, ge=0, le=1_000_000)
    birthday: int = Field(0, ge=0, le=1_000_000, description="Once a year, on the birthday.")
    profile_completed: int = Field(0, ge=0, le=1_000_000)
    events: dict[str, int] = Field(
        default_factory=dict, description="Task completion: behaviour event type -> points."
    )


class ActivityPoints(PointsRule):
    key = "points.activity"
    title = "Activity points"
    description = "Points for joining, check-ins (with streaks), birthdays, tasks."
    Config = ActivityConfig

    async def points_for(self, fact: PointsFact) -> Sequence[Award]:
        c: ActivityConfig = self.config  # type: ignore[assignment]
        if fact.kind == "joined":
            return _one(c.registration, "registration bonus")
        if fact.kind == "check_in":
            awards = list(_one(c.check_in, "daily check-in"))
            if c.streak_bonus and fact.streak and fact.streak % c.streak_days == 0:
                awards.append(Award(c.streak_bonus, f"{fact.streak}-day check-in streak"))
            return awards
        if fact.kind == "birthday":
            return _one(c.birthday, "birthday bonus")
        if fact.kind == "profile_completed":
            return _one(c.profile_completed, "profile completed")
        if fact.kind == "event" and fact.event_type:
            return _one(c.events.get(fact.event_type, 0), f"task: {fact.event_type}")
        return []


def _one(points: int, reason: str) -> list[Award]:
    return [Award(points, reason)] if points else []


class ReferralConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    referrer: int = Field(0, ge=0, le=1_000_000, description="Points for the member who referred.")
    referee: int = Field(0, ge=0, le=1_000_000, description="Points for the new member.")


class ReferralPoints(PointsRule):
    key = "points.referral"
    title = "Referral"
    description = "Points for the referrer and the referee, once per referee."
    Config = ReferralConfig

    async def points_for(self, fact: PointsFact) -> Sequence[Award]:
        c: ReferralConfig = self.config  # type: ignore[assignment]
        if fact.kind != "referral" or fact.referrer_id is None:
            return []
        awards = _one(c.referee, "joined through a referral")
        if c.referrer:
            awards.append(Award(c.referrer, "referred a member", member_id=fact.referrer_id))
        return awards


class RedemptionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points_per_unit: int = Field(100, ge=1, le=1_000_000, description="Points worth 1 unit.")
    max_share_percent: int = Field(50, ge=1, le=100, description="Of an order's amount.")
    min_points: int = Field(0, ge=0, le=10_000_000, description="Fewest points used at once.")


class Redemption(PointsRule):
    key = "points.redemption"
    title = "Points as cash"
    description = "Points pay part of an order (redeemPointsForOrder). Awards nothing."
    Config = RedemptionConfig

    async def points_for(self, fact: PointsFact) -> int:
        return 0

    def redemption_terms(self) -> RedemptionTerms:
        c: RedemptionConfig = self.config  # type: ignore[assignment]
        return RedemptionTerms(c.points_per_unit, c.max_share_percent, c.min_points)


@hookimpl
def tessera_register_points_rules() -> list[type[PointsRule]]:
    return [PurchasePoints, MultiplierCampaign, ActivityPoints, ReferralPoints, Redemption]
