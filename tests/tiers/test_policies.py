"""The built-in tier policies and points rules as pure functions of their
config and the facts (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tessera import (
    BrandInfo,
    MemberFacts,
    OrderFacts,
    OrderLineFacts,
    PointsFact,
    RuleAward,
    TierGrant,
    TierInfo,
    TierStanding,
)
from tessera.plugins.points import MultiplierCampaign, PurchasePoints
from tessera.plugins.tiers import (
    CumulativeSpendPolicy,
    PaidMembershipPolicy,
    SingleOrderPolicy,
)

NOW = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
BRAND = BrandInfo(1, "b", "B", "CNY", "Asia/Shanghai")
TIERS = [
    TierInfo("silver", "Silver", 1, None),
    TierInfo("gold", "Gold", 2, 12),
    TierInfo("platinum", "Platinum", 3, 12),
]


def member(tier: str | None = None, lapsed: str | None = None, tags=()) -> MemberFacts:
    held = next((t for t in TIERS if t.code == tier), None)
    return MemberFacts(
        1,
        NOW - timedelta(days=400),
        None,
        frozenset(tags),
        held,
        tier_expires_at=NOW if held else None,
        lapsed_tier=lapsed,
    )


def an_order(amount: int, lines=()) -> OrderFacts:
    return OrderFacts("o", NOW, amount, tuple(lines))


def fact(m: MemberFacts, order: OrderFacts | None = None, so_far=()) -> PointsFact:
    return PointsFact(
        "order" if order else "check_in", BRAND, m, NOW, 2, order, so_far=tuple(so_far)
    )


def standing(m: MemberFacts, spent: int = 0, order: OrderFacts | None = None) -> TierStanding:
    async def spent_between(since, until):
        return spent

    async def grown_between(since, until):
        return 0

    return TierStanding(
        m, BRAND, NOW, 0, fact(m, order) if order else None, spent_between, grown_between, 2
    )


async def test_cumulative_spend_picks_the_highest_tier_reached():
    policy = CumulativeSpendPolicy(
        CumulativeSpendPolicy.Config(thresholds={"silver": "0", "gold": "1000"})
    )
    assert await policy.evaluate(standing(member(), spent=99_999), TIERS) == TierGrant("silver")
    assert await policy.evaluate(standing(member(), spent=100_000), TIERS) == TierGrant("gold")


async def test_the_retention_rule_keeps_or_drops_at_review():
    config = CumulativeSpendPolicy.Config(
        thresholds={"silver": "0", "gold": "1000", "platinum": "5000"},
        retention={"renewal_spend": "300", "on_failure": "to_base"},
    )
    policy = CumulativeSpendPolicy(config)
    kept = await policy.review(standing(member("platinum"), spent=30_000), TIERS)
    assert kept == TierGrant("platinum")
    dropped = await policy.review(standing(member("platinum"), spent=29_999), TIERS)
    assert dropped == TierGrant("silver")
    one_down = CumulativeSpendPolicy(
        CumulativeSpendPolicy.Config(thresholds={"silver": "0", "gold": "1000", "platinum": "5000"})
    )
    assert await one_down.review(standing(member("platinum"), spent=0), TIERS) == TierGrant("gold")


async def test_single_order_counts_only_the_order_at_hand():
    policy = SingleOrderPolicy(SingleOrderPolicy.Config(thresholds={"gold": "500"}))
    assert await policy.evaluate(standing(member(), order=an_order(50_000)), TIERS) == TierGrant(
        "gold"
    )
    assert await policy.evaluate(standing(member(), order=an_order(49_999)), TIERS) is None


async def test_paid_membership_buys_a_period_and_a_renewal_adds_to_it():
    policy = PaidMembershipPolicy(PaidMembershipPolicy.Config(offers={"VIP": "gold"}, months=12))
    line = OrderLineFacts("VIP", None, 1, 19_900)
    grant = await policy.evaluate(standing(member(), order=an_order(19_900, [line])), TIERS)
    assert grant == TierGrant("gold", datetime(2027, 3, 1, 4, 0, tzinfo=UTC))
    renewing = MemberFacts(
        1, NOW, None, frozenset(), TIERS[1], tier_expires_at=NOW + timedelta(days=30)
    )
    again = await policy.evaluate(standing(renewing, order=an_order(19_900, [line])), TIERS)
    assert again == TierGrant("gold", datetime(2027, 3, 31, 4, 0, tzinfo=UTC))


async def test_a_purchase_reactivates_the_tier_a_review_took():
    policy = CumulativeSpendPolicy(
        CumulativeSpendPolicy.Config(
            thresholds={"silver": "0", "gold": "1000"},
            retention={"reactivate_on_purchase": True},
        )
    )
    lapsed = member("silver", lapsed="gold")
    assert await policy.evaluate(standing(lapsed, order=an_order(100)), TIERS) == TierGrant("gold")
    assert await policy.evaluate(standing(lapsed), TIERS) == TierGrant("silver")


async def test_purchase_points_round_exclude_and_multiply():
    rule = PurchasePoints(
        PurchasePoints.Config(
            points_per_unit=Decimal("1"),
            rounding="half_up",
            excluded_categories=["gift-card"],
            tier_multipliers={"gold": Decimal("1.5")},
        )
    )
    lines = [OrderLineFacts("A", "shoes", 1, 10_050), OrderLineFacts("G", "gift-card", 1, 5_000)]
    assert await rule.points_for(fact(member(), an_order(15_050, lines))) == 101
    assert await rule.points_for(fact(member("gold"), an_order(15_050, lines))) == 151


async def test_a_campaign_multiplies_the_base_points_of_matching_members_only():
    campaign = MultiplierCampaign(
        MultiplierCampaign.Config(
            multiplier=Decimal(3),
            starts_at=NOW - timedelta(days=1),
            ends_at=NOW + timedelta(days=1),
            tags=["vip"],
            categories=["shoes"],
        )
    )
    lines = [OrderLineFacts("A", "shoes", 1, 6_000), OrderLineFacts("B", "bags", 1, 4_000)]
    base = [RuleAward("points.purchase", 100, "purchase", 1)]
    vip = member(tags=["vip"])
    awards = await campaign.points_for(fact(vip, an_order(10_000, lines), base))
    assert [(a.points, a.reason) for a in awards] == [(120, "x3 campaign")]
    assert await campaign.points_for(fact(member(), an_order(10_000, lines), base)) == []
