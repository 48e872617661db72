"""Done-when of the loyalty engine (issue 5): one member, with the brand's
clock advanced, through join, orders, an upgrade, a double-points campaign, a
check-in streak, a partial refund, a redemption against an order, lot expiry
and a downgrade at validity end. At every step the balances are checked
against the ledger (``tessera ledger verify``'s check) and the tier history.

The programme: tiers by growth value counted over the last 6 months (silver
from 0, gold from 1500, gold valid 6 months, gift 500 points and a coupon);
1 point per unit paid (gold x1.5), growth 1 per unit and per check-in;
registration 100 points; check-in 5 points, +20 every 3rd day in a row;
points as cash at 100 points per unit; points expire after 3 months.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "rewards"))

from loyalty_programme import enable, make_tiers, money, order

from tessera.assets.expiry import expire_due_lots
from tessera.assets.models import LedgerEntry
from tessera.assets.policy import set_policy
from tessera.assets.service import balances
from tessera.assets.verify import verify_brand
from tessera.coupons.models import Coupon
from tessera.coupons.templates import create_template
from tessera.members.models import Member
from tessera.members.profile import MemberStatus
from tessera.members.scheme import JoinRule, update_settings
from tessera.members.service import create_member
from tessera.orders.inputs import RefundInput
from tessera.orders.refunds import record_refund
from tessera.pipeline.orders import record_order
from tessera.rewards.activities import check_in
from tessera.rewards.redemption import redeem_for_order
from tessera.rewards.reviews import review_due
from tessera.scope import BrandScope
from tessera.tiers.models import MemberTierState, TierHistory

T0 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


async def test_one_member_through_a_year_of_the_programme(brand_a):
    scope = BrandScope(brand_a)
    await update_settings(scope, join_rule=JoinRule.FIRST_PURCHASE)
    await set_policy(scope, expiry_mode="rolling_months", expiry_months=3)
    welcome = await create_template(
        scope,
        {
            "kind": "amount_off",
            "title": "Gold welcome",
            "amount_off": money("20.00"),
            "valid_days": 365,
        },
    )
    tiers = await make_tiers(brand_a, gift_points=500, coupons=[welcome.id], gold_months=6)
    await enable(
        brand_a,
        "tiers.growth",
        {
            "thresholds": {"silver": 0, "gold": 1500, "platinum": 100000},
            "window_months": 6,
            "growth": {"per_currency_unit": "1", "check_in": 1},
        },
    )
    await enable(brand_a, "points.purchase", {"tier_multipliers": {"gold": "1.5"}})
    await enable(
        brand_a,
        "points.activity",
        {"registration": 100, "check_in": 5, "streak_days": 3, "streak_bonus": 20},
    )
    await enable(brand_a, "points.redemption", {"points_per_unit": 100, "max_share_percent": 50})
    await enable(
        brand_a,
        "points.campaign",
        {"multiplier": "2", "starts_at": day(20).isoformat(), "ends_at": day(30).isoformat()},
    )
    person = await create_member(scope, {"name": "Mei"}, identities=[("app_user_id", "mei")])
    assert person.status == MemberStatus.PROSPECT.value
    mid = person.id

    async def check(points: int, growth: int, tier: str | None, history: list[tuple]) -> None:
        found = (await balances(scope, [mid]))[mid]
        assert (found.points, found.growth) == (points, growth)
        assert [str(p) async for p in verify_brand(scope)] == []
        entries = await scope.query(LedgerEntry).filter(member_id=mid, kind="points")
        assert sum(e.amount for e in entries if e.entry_type not in ("pending", "cancel")) == points
        state = await scope.query(MemberTierState).get_or_none(member_id=mid)
        held = None
        if state is not None and state.tier_id:
            held = next(code for code, t in tiers.items() if t.id == state.tier_id)
        assert held == tier
        rows = await scope.query(TierHistory).filter(member_id=mid).order_by("id")
        names = {t.id: code for code, t in tiers.items()}
        assert [(names.get(r.from_tier_id), names.get(r.to_tier_id), r.reason) for r in rows] == (
            history
        )

    # 1. The first purchase makes her a member: registration bonus, points, growth, silver.
    first = await record_order(
        scope, order("o-1", mid, day(0), [("A", 1, "600.00", None)]), now=day(0)
    )
    assert (await scope.get(Member, mid)).status == MemberStatus.ACTIVE.value  # type: ignore[union-attr]
    up_silver = [(None, "silver", "upgrade")]
    await check(700, 600, "silver", up_silver)

    # 2. Growth reaches 1500: gold at once, with its gift of 500 points and a coupon, once.
    incoming = order("o-2", mid, day(10), [("B", 2, "500.00", None)])
    await record_order(scope, incoming, now=day(10))
    assert (await record_order(scope, incoming, now=day(10))).replayed
    up_gold = [*up_silver, ("silver", "gold", "upgrade")]
    await check(700 + 1000 + 500, 1600, "gold", up_gold)
    assert await scope.query(Coupon).filter(member_id=mid, template_id=welcome.id).count() == 1
    gold_until = (await scope.query(MemberTierState).get(member_id=mid)).expires_at
    assert gold_until == datetime(2026, 7, 15, 16, 0, tzinfo=UTC)  # end of 15 July, Shanghai

    # 3. In the double-points window: 200 x 1.5 (gold) = 300, doubled by the campaign.
    third = await record_order(
        scope, order("o-3", mid, day(25), [("C", 1, "200.00", None)]), now=day(25)
    )
    rules = sorted(
        (e.reason.split(":")[0], e.amount)
        for e in await scope.query(LedgerEntry).filter(
            source_ref=str(third.order.id), kind="points"
        )
    )
    assert rules == [("points.campaign", 300), ("points.purchase", 300)]
    await check(2800, 1800, "gold", up_gold)

    # 4. Three days of check-ins: 5, 5, then 5 + 20 for the streak.
    streaks = [(await check_in(scope, mid, now=day(40 + i))).check_in.streak for i in range(3)]
    assert streaks == [1, 2, 3]
    await check(2835, 1803, "gold", up_gold)

    # 5. Half of order 3 refunded: half of its 600 points and of its 200 growth go back.
    await record_refund(
        scope,
        RefundInput(
            external_id="rf-1", occurred_at=day(45), order_id=third.order.id, amount=money("100.00")
        ),
        now=day(45),
    )
    await check(2535, 1703, "gold", up_gold)

    # 6. A big order, then 500 points pay 5.00 of it.
    fourth = await record_order(
        scope, order("o-4", mid, day(50), [("D", 1, "1000.00", None)]), now=day(50)
    )
    await check(4035, 2703, "gold", up_gold)
    paid = await redeem_for_order(
        scope,
        member_id=mid,
        points=500,
        idempotency_key="pay-o-4",
        order_id=fourth.order.id,
        now=day(50),
    )
    assert paid.discount == 500  # minor units: 5.00 CNY
    await check(3535, 2703, "gold", up_gold)

    # 7. Three months after the first day, what is left of its lots lapses: the
    # redemption took the soonest-expiring points first (100 + 400 of o-1's 600).
    lapsed = await expire_due_lots(scope, now=datetime(2026, 4, 5, 16, 1, tzinfo=UTC))
    assert lapsed == 200
    assert first.order.id
    await check(3335, 2703, "gold", up_gold)

    # 8. Validity ends on 15 July. Growth of the last 6 months (o-3 net 100, the
    # check-ins, o-4) is 1103 < 1500: down one tier, at the evaluation point.
    assert (await review_due(scope, now=gold_until - timedelta(minutes=1))).reviewed == 0
    report = await review_due(scope, now=gold_until + timedelta(hours=2))
    assert (report.reviewed, report.downgraded) == (1, 1)
    await check(3335, 2703, "silver", [*up_gold, ("gold", "silver", "downgrade")])
    last = await scope.query(TierHistory).filter(member_id=mid).order_by("-id").first()
    assert (last.at, last.policy_key) == (gold_until, "tiers.growth")
    assert Decimal("5.00") == Decimal(paid.discount) / 100
