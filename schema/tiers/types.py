"""Tier types: definitions with typed benefits, history entries, progress."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from tessera.plugin_host.components import MONEY_MEASURES
from tessera.plugin_host.components import TierProgress as ProgressInfo
from tessera.schema.ids import encode_id, require_id
from tessera.schema.orders.money import Money
from tessera.tiers.models import TierDefinition, TierHistory


@strawberry.enum(description="The kinds of benefit a tier can carry.")
class TierBenefitKind(Enum):
    MEMBER_PRICE = "member_price"
    FREE_SHIPPING = "free_shipping"
    FREE_RETURNS = "free_returns"
    EARLY_ACCESS = "early_access"
    BIRTHDAY_GIFT = "birthday_gift"
    MEMBER_DAY = "member_day"
    ANNIVERSARY_GIFT = "anniversary_gift"


BENEFIT_FIELDS = (
    "percent_off",
    "per_month",
    "within_days",
    "hours_ahead",
    "points",
    "coupon_template_id",
    "day_of_month",
    "points_multiplier",
)


@strawberry.type(
    description="One benefit of a tier. Which fields are set depends on `kind`: MEMBER_PRICE "
    "`percentOff`; FREE_SHIPPING `perMonth` (null: unlimited); FREE_RETURNS `withinDays`; "
    "EARLY_ACCESS `hoursAhead`; BIRTHDAY_GIFT and ANNIVERSARY_GIFT `points` and "
    "`couponTemplateId`; MEMBER_DAY `dayOfMonth` and `pointsMultiplier`."
)
class TierBenefit:
    kind: TierBenefitKind = strawberry.field(description="What the benefit is.")
    percent_off: int | None = strawberry.field(description="Member price: percent off retail.")
    per_month: int | None = strawberry.field(description="Free shipping: times a month.")
    within_days: int | None = strawberry.field(description="Free returns: days after purchase.")
    hours_ahead: int | None = strawberry.field(description="Early access: hours before others.")
    points: int | None = strawberry.field(description="Gifts: points given.")
    coupon_template_id: strawberry.ID | None = strawberry.field(
        description="Gifts: the coupon template a coupon is issued from."
    )
    day_of_month: int | None = strawberry.field(description="Member day: day of the month.")
    points_multiplier: int | None = strawberry.field(description="Member day: points multiplier.")

    @classmethod
    def from_stored(cls, item: dict[str, Any]) -> TierBenefit:
        values = {name: item.get(name) for name in BENEFIT_FIELDS}
        if values["coupon_template_id"] is not None:
            values["coupon_template_id"] = encode_id("CouponTemplate", values["coupon_template_id"])
        return cls(kind=TierBenefitKind(item["kind"]), **values)


@strawberry.input(description="One benefit; give the fields of its kind (see `TierBenefit`).")
class TierBenefitInput:
    kind: TierBenefitKind = strawberry.field(description="What the benefit is.")
    percent_off: int | None = strawberry.field(default=None, description="MEMBER_PRICE: 1-99.")
    per_month: int | None = strawberry.field(default=None, description="FREE_SHIPPING: 1-1000.")
    within_days: int | None = strawberry.field(default=None, description="FREE_RETURNS: 1-365.")
    hours_ahead: int | None = strawberry.field(default=None, description="EARLY_ACCESS: 1-720.")
    points: int | None = strawberry.field(default=None, description="Gifts: points.")
    coupon_template_id: strawberry.ID | None = strawberry.field(
        default=None, description="Gifts: a coupon template."
    )
    day_of_month: int | None = strawberry.field(default=None, description="MEMBER_DAY: 1-28.")
    points_multiplier: int | None = strawberry.field(default=None, description="MEMBER_DAY: 1-10.")

    def to_domain(self, index: int) -> dict[str, Any]:
        values = {name: getattr(self, name) for name in BENEFIT_FIELDS}
        if self.coupon_template_id is not None:
            values["coupon_template_id"] = require_id(
                self.coupon_template_id,
                "CouponTemplate",
                ["benefits", str(index), "couponTemplateId"],
            )
        return {"kind": self.kind.value, **{k: v for k, v in values.items() if v is not None}}


@strawberry.type(description="What a member gets once, on being upgraded into a tier.")
class UpgradeGift:
    points: int = strawberry.field(description="Points granted.")
    coupon_template_ids: list[strawberry.ID] = strawberry.field(
        description="Coupon templates a coupon is issued from."
    )


@strawberry.type(description="A tier of the brand's membership programme.")
class Tier:
    pk: strawberry.Private[int]
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    code: str = strawberry.field(description="Stable code, used in tier policy configs.")
    name: str = strawberry.field(description="Name shown to members.")
    rank: int = strawberry.field(description="Order of tiers: higher is better; unique.")
    benefits: list[TierBenefit] = strawberry.field(description="What members of the tier get.")
    upgrade_gift: UpgradeGift = strawberry.field(description="Granted once per upgrade into it.")
    validity_months: int | None = strawberry.field(
        description="Months a member holds the tier before review; null: no expiry."
    )
    updated_at: datetime = strawberry.field(description="Last change.")

    @classmethod
    def from_model(cls, tier: TierDefinition) -> Tier:
        return cls(
            pk=tier.id,
            id=strawberry.ID(encode_id("Tier", tier.id)),
            code=tier.code,
            name=tier.name,
            rank=tier.rank,
            benefits=[TierBenefit.from_stored(b) for b in tier.benefits],
            upgrade_gift=UpgradeGift(
                points=tier.gift_points,
                coupon_template_ids=[
                    strawberry.ID(encode_id("CouponTemplate", t))
                    for t in tier.gift_coupon_template_ids
                ],
            ),
            validity_months=tier.validity_months,
            updated_at=tier.updated_at,
        )


@strawberry.enum(description="Why a member's tier changed.")
class TierChangeReason(Enum):
    UPGRADE = "upgrade"
    DOWNGRADE = "downgrade"
    RENEWED = "renewed"
    REACTIVATED = "reactivated"
    MANUAL = "manual"


@strawberry.type(description="One change of a member's tier.")
class TierChange:
    from_tier: Tier | None = strawberry.field(description="The tier before (null: none).")
    to_tier: Tier | None = strawberry.field(description="The tier after (null: none).")
    reason: TierChangeReason = strawberry.field(description="Why.")
    policy: str = strawberry.field(description="Key of the tier policy that decided it.")
    source: str = strawberry.field(
        description="What kind of fact triggered it: `order`, `activity` (joining, a "
        "behaviour event, a referral) or `review` (the scheduled tier review)."
    )
    order_id: strawberry.ID | None = strawberry.field(
        default=None, description="The order that triggered it (an `Order` id), when one did."
    )
    at: datetime = strawberry.field(description="When it took effect.")
    expires_at: datetime | None = strawberry.field(description="The validity it started.")

    @classmethod
    def from_model(cls, row: TierHistory) -> TierChange:
        # The stored source is an internal reference holding database ids
        # (`order:<pk>`, `activity:joined:<member pk>`): only its kind, and the
        # order as an opaque id, are shown.
        kind, _, ref = row.source.partition(":")
        return cls(
            from_tier=Tier.from_model(row.from_tier) if row.from_tier else None,
            to_tier=Tier.from_model(row.to_tier) if row.to_tier else None,
            reason=TierChangeReason(row.reason),
            policy=row.policy_key,
            source=kind,
            order_id=strawberry.ID(encode_id("Order", ref))
            if kind == "order" and ref.isdigit()
            else None,
            at=row.at,
            expires_at=row.expires_at,
        )


@strawberry.type(description="How far a member is from the next tier up.")
class TierProgress:
    next_tier: Tier | None = strawberry.field(description="The next tier up (null: at the top).")
    measure: str | None = strawberry.field(
        description="What the active policy counts: `spend` (money), `growth`, or a plugin's "
        "own; null when it reports no progress."
    )
    current: int | None = strawberry.field(
        description="Where the member stands, for a counted measure (`growth`, a plugin's "
        "own); null when the measure is money (see `currentAmount`)."
    )
    required: int | None = strawberry.field(
        description="What the next tier needs, for a counted measure; null when the measure "
        "is money (see `requiredAmount`)."
    )
    current_amount: Money | None = strawberry.field(
        description="Where the member stands when the measure is money (`spend`)."
    )
    required_amount: Money | None = strawberry.field(
        description="What the next tier needs when the measure is money (`spend`)."
    )

    @classmethod
    def of(
        cls, next_tier: TierDefinition | None, info: ProgressInfo | None, currency: str
    ) -> TierProgress:
        money = info is not None and info.measure in MONEY_MEASURES
        return cls(
            next_tier=Tier.from_model(next_tier) if next_tier else None,
            measure=info.measure if info else None,
            current=info.current if info and not money else None,
            required=info.required if info and not money else None,
            current_amount=Money.of(info.current, currency) if info and money else None,
            required_amount=Money.of(info.required, currency) if info and money else None,
        )
