"""Refunds reverse what an order earned; downgrades happen only at review."""

from __future__ import annotations

from datetime import timedelta

from loyalty_programme import REGISTRATION, T0, enable, member, money, order, standard_programme

from tessera import Award, PointsRule, hookimpl
from tessera.assets.models import LedgerEntry, PointsLot
from tessera.assets.policy import set_policy
from tessera.assets.service import balances
from tessera.orders.inputs import RefundInput
from tessera.orders.refunds import record_refund
from tessera.pipeline.orders import record_order
from tessera.rewards.jobs import tier_review
from tessera.rewards.orders import share
from tessera.rewards.reviews import review_due
from tessera.scope import BrandScope
from tessera.tiers.models import MemberTierState, TierHistory


def test_partial_refunds_add_up_to_what_was_earned():
    parts = [share(333, 1000, before, before + 300) for before in (0, 300, 600)]
    parts.append(share(333, 1000, 900, 1000))
    assert sum(parts) == 333 and parts == [99, 100, 100, 34]


async def test_a_partial_refund_reverses_points_and_growth_in_proportion(brand_a):
    await standard_programme(brand_a)
    await enable(brand_a, "tiers.growth", {"thresholds": {"silver": 0, "gold": 100000}})
    scope = BrandScope(brand_a)
    m = await member(brand_a, "r1")
    stored = (
        await record_order(scope, order("o-1", m.id, T0, [("A", 1, "400.00", None)]), now=T0)
    ).order
    assert (await balances(scope, [m.id]))[m.id].points == REGISTRATION + 400
    assert (await balances(scope, [m.id]))[m.id].growth == 400

    refund = await record_refund(
        scope,
        RefundInput(
            external_id="rf-1",
            occurred_at=T0 + timedelta(hours=1),
            order_id=stored.id,
            amount=money("100.00"),
        ),
        now=T0 + timedelta(hours=1),
    )
    after = (await balances(scope, [m.id]))[m.id]
    # A quarter of what the order earned goes back; the registration bonus stays.
    assert (after.points, after.growth) == (REGISTRATION + 300, 300)
    reversed_ = await scope.query(LedgerEntry).get(
        idempotency_key=f"refund:{refund.refund.id}:points"
    )
    assert (reversed_.entry_type, reversed_.amount, reversed_.source_ref) == (
        "reverse",
        -100,
        str(stored.id),
    )


async def test_a_refund_inside_the_return_window_cancels_pending_points(brand_a):
    await standard_programme(brand_a)
    scope = BrandScope(brand_a)
    await set_policy(scope, pending_days=7)
    m = await member(brand_a, "r2")
    stored = (await record_order(scope, order("o-1", m.id, T0), now=T0)).order
    held = (await balances(scope, [m.id]))[m.id]
    # The order's points wait out the window; the registration bonus does not.
    assert (held.points, held.pending_points) == (REGISTRATION, 100)
    await record_refund(
        scope,
        RefundInput(external_id="rf-1", occurred_at=T0 + timedelta(days=1), order_id=stored.id),
        now=T0 + timedelta(days=1),
    )
    after = (await balances(scope, [m.id]))[m.id]
    assert (after.points, after.pending_points) == (REGISTRATION, 0)
    lots = await scope.query(PointsLot).filter(account__member_id=m.id).select_related("entry")
    assert sorted((lot.entry.source_type, lot.status) for lot in lots) == [
        ("activity", "available"),
        ("order", "cancelled"),
    ]


async def test_downgrades_wait_for_validity_end_then_follow_the_retention_rule(brand_a):
    tiers = await standard_programme(brand_a)
    await enable(
        brand_a,
        "tiers.cumulative_spend",
        {
            "thresholds": {"silver": "0", "gold": "1000", "platinum": "5000"},
            "retention": {"renewal_spend": "500", "renewal_months": 3},
        },
    )
    scope = BrandScope(brand_a)
    m = await member(brand_a, "r3")
    stored = (
        await record_order(scope, order("o-1", m.id, T0, [("A", 1, "1200.00", None)]), now=T0)
    ).order
    state = await scope.query(MemberTierState).get(member_id=m.id)
    assert state.tier_id == tiers["gold"].id
    # A full refund does not downgrade: that waits for the evaluation point.
    await record_refund(
        scope,
        RefundInput(external_id="rf-1", occurred_at=T0 + timedelta(days=1), order_id=stored.id),
        now=T0 + timedelta(days=1),
    )
    assert (await scope.query(MemberTierState).get(member_id=m.id)).tier_id == tiers["gold"].id
    report = await review_due(scope, now=T0 + timedelta(days=300))
    assert report.reviewed == 0

    end = state.expires_at
    report = await review_due(scope, now=end + timedelta(hours=1))
    assert (report.reviewed, report.downgraded) == (1, 1)
    state = await scope.query(MemberTierState).get(member_id=m.id)
    assert (state.tier_id, state.lapsed_tier_id) == (tiers["silver"].id, tiers["gold"].id)
    last = await scope.query(TierHistory).filter(member_id=m.id).order_by("-id").first()
    assert (last.reason, last.at, last.policy_key) == ("downgrade", end, "tiers.cumulative_spend")
    # Running the job again changes nothing.
    assert (await tier_review({}, brand_a.id))["reviewed"] == 0
    history = await scope.query(TierHistory).filter(member_id=m.id).order_by("id")
    assert [(h.reason, h.source) for h in history] == [
        ("upgrade", f"activity:joined:{m.id}"),  # silver on joining
        ("upgrade", f"order:{stored.id}"),
        ("downgrade", f"review:{end.isoformat()}"),
    ]


async def test_spending_enough_before_validity_end_renews_the_tier(brand_a):
    tiers = await standard_programme(brand_a)
    await enable(
        brand_a,
        "tiers.cumulative_spend",
        {
            "thresholds": {"silver": "0", "gold": "1000"},
            "window_months": 1,
            "retention": {"renewal_spend": "500", "renewal_months": 3},
        },
    )
    scope = BrandScope(brand_a)
    m = await member(brand_a, "r4")
    await record_order(scope, order("o-1", m.id, T0, [("A", 1, "1200.00", None)]), now=T0)
    end = (await scope.query(MemberTierState).get(member_id=m.id)).expires_at
    late = end - timedelta(days=20)
    await record_order(scope, order("o-2", m.id, late, [("A", 1, "600.00", None)]), now=late)
    await review_due(scope, now=end + timedelta(minutes=1))
    state = await scope.query(MemberTierState).get(member_id=m.id)
    assert state.tier_id == tiers["gold"].id and state.expires_at > end
    last = await scope.query(TierHistory).filter(member_id=m.id).order_by("-id").first()
    assert last.reason == "renewed"
    # No second upgrade gift for a renewal.
    gifts = await scope.query(LedgerEntry).filter(member_id=m.id, source_type="tier_gift").count()
    assert gifts == 1


async def test_a_refund_reverses_the_buyers_points_when_the_order_also_rewarded_another_member(
    brand_a, register_plugin
):
    class Sponsor(PointsRule):
        """Runs before the purchase rule and gives a sponsor points on each order."""

        key = "test.sponsor"
        title = "Sponsor"
        stage = 50
        sponsor_id = 0

        async def points_for(self, fact):
            if fact.kind != "order":
                return []
            return [Award(7, "sponsored a purchase", member_id=Sponsor.sponsor_id)]

    class Plugin:
        @hookimpl
        def tessera_register_points_rules(self):
            return [Sponsor]

    await standard_programme(brand_a)
    register_plugin(Plugin(), "sponsor")
    await enable(brand_a, "test.sponsor")
    scope = BrandScope(brand_a)
    sponsor = await member(brand_a, "sp")
    buyer = await member(brand_a, "by")
    Sponsor.sponsor_id = sponsor.id
    before = await balances(scope, [sponsor.id, buyer.id])
    stored = (await record_order(scope, order("o-s", buyer.id, T0), now=T0)).order
    earned = await balances(scope, [sponsor.id, buyer.id])
    assert earned[sponsor.id].points == before[sponsor.id].points + 7
    assert earned[buyer.id].points == before[buyer.id].points + 100

    await record_refund(
        scope,
        RefundInput(external_id="rf-s", occurred_at=T0 + timedelta(hours=1), order_id=stored.id),
        now=T0 + timedelta(hours=1),
    )

    after = await balances(scope, [sponsor.id, buyer.id])
    # The buyer's 100 go back from the buyer; the sponsor's points are not theirs to lose.
    assert (after[buyer.id].points, after[sponsor.id].points) == (
        before[buyer.id].points,
        earned[sponsor.id].points,
    )
