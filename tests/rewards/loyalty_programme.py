"""A brand's loyalty programme for tests: three tiers and the built-in
components switched on through the features service (as setFeature does)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tessera.features.service import set_feature
from tessera.members.models import Member
from tessera.members.service import create_member
from tessera.orders.inputs import LineInput, MemberRef, OrderInput
from tessera.orders.money import MoneyAmount
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand
from tessera.testing import drain_outbox
from tessera.tiers.definitions import create_tier
from tessera.tiers.models import TierDefinition

T0 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai
# When :func:`member` registers people: the day before the tests' facts, so
# joining comes first in their history, as it does in life.
JOINED = T0 - timedelta(days=1)
# The standard programme's registration bonus: every member made by
# :func:`member` earns it on joining (the reward_activity job), and the
# silver threshold of 0 gives them silver on joining too.
REGISTRATION = 100


def money(amount: str, currency: str = "CNY") -> MoneyAmount:
    return MoneyAmount(Decimal(amount), currency)


def order(
    external_id: str,
    member_id: int,
    at: datetime,
    lines: list[tuple[str, int, str, str | None]] | None = None,
    paid: str | None = None,
) -> OrderInput:
    """An order of ``lines`` (sku, quantity, unit price, category); paid is
    their sum unless given."""
    lines = lines if lines is not None else [("SKU-1", 1, "100.00", "shoes")]
    total = sum(Decimal(price) * q for _, q, price, _ in lines)
    return OrderInput(
        external_id=external_id,
        member=MemberRef(member_id=member_id),
        occurred_at=at,
        amount_paid=money(paid or str(total)),
        lines=[
            LineInput(sku=sku, quantity=q, unit_price=money(price), category=category)
            for sku, q, price, category in lines
        ],
    )


async def make_tiers(brand: Brand, **gift: Any) -> dict[str, TierDefinition]:
    scope = BrandScope(brand)
    silver = await create_tier(
        scope, {"code": "silver", "name": "Silver", "rank": 1, "validity_months": None}
    )
    gold = await create_tier(
        scope,
        {
            "code": "gold",
            "name": "Gold",
            "rank": 2,
            "validity_months": gift.get("gold_months", 12),
            "gift_points": gift.get("gift_points", 500),
            "gift_coupon_template_ids": gift.get("coupons", []),
            "benefits": [{"kind": "member_price", "percent_off": 5}, {"kind": "free_shipping"}],
        },
    )
    platinum = await create_tier(
        scope, {"code": "platinum", "name": "Platinum", "rank": 3, "validity_months": 12}
    )
    return {"silver": silver, "gold": gold, "platinum": platinum}


async def enable(brand: Brand, key: str, config: dict[str, Any] | None = None) -> None:
    await set_feature(BrandScope(brand), key, enabled=True, config=config or {})


SPEND_POLICY = {
    "thresholds": {"silver": "0", "gold": "1000", "platinum": "5000"},
    "window_months": 12,
}


async def standard_programme(brand: Brand, **gift: Any) -> dict[str, TierDefinition]:
    """Tiers by cumulative spend (gold from 1000, platinum from 5000), 1 point
    per unit spent (gold x1.5), registration 100, check-in 5 (+20 every 3rd
    day), points as cash at 100 points per unit up to half an order."""
    tiers = await make_tiers(brand, **gift)
    await enable(brand, "tiers.cumulative_spend", SPEND_POLICY)
    await enable(
        brand,
        "points.purchase",
        {
            "points_per_unit": "1",
            "tier_multipliers": {"gold": "1.5"},
            "excluded_categories": ["gift-card"],
        },
    )
    await enable(
        brand,
        "points.activity",
        {"registration": REGISTRATION, "check_in": 5, "streak_days": 3, "streak_bonus": 20},
    )
    await enable(
        brand,
        "points.redemption",
        {"points_per_unit": 100, "max_share_percent": 50, "min_points": 100},
    )
    return tiers


async def member(brand: Brand, uid: str, **profile: Any) -> Member:
    """A member who registered directly (the brand's join rule permitting) at
    :data:`JOINED`, with the follow-up work of joining done (the registration
    bonus, their lifecycle)."""
    created = await create_member(
        BrandScope(brand),
        {"name": f"Member {uid}", **profile},
        identities=[("app_user_id", uid)],
        joined_at=JOINED,
    )
    await drain_outbox()
    return created
