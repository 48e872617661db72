"""recordOrder -> compute -> apply, in the order's transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from loyalty_programme import REGISTRATION, T0, enable, member, order, standard_programme

from tessera import PointsRule, hookimpl
from tessera.assets.models import LedgerEntry
from tessera.assets.service import balances
from tessera.errors import DomainError
from tessera.orders.inputs import clean_order
from tessera.orders.models import Order
from tessera.pipeline.orders import record_order
from tessera.rewards.facts import order_facts
from tessera.rewards.pipeline import compute_order_rewards
from tessera.scope import BrandScope
from tessera.tiers.models import MemberTierState, TierHistory


async def test_an_order_earns_points_growth_and_an_upgrade_in_one_go(brand_a):
    tiers = await standard_programme(brand_a)
    scope = BrandScope(brand_a)
    m = await member(brand_a, "u1")
    # Joining already made the member silver (threshold 0) with the bonus.
    state = await scope.query(MemberTierState).get(member_id=m.id)
    assert state.tier_id == tiers["silver"].id
    assert (await balances(scope, [m.id]))[m.id].points == REGISTRATION

    await record_order(scope, order("o-1", m.id, T0, [("SKU-1", 2, "300.00", "shoes")]), now=T0)
    state = await scope.query(MemberTierState).get(member_id=m.id)
    assert state.tier_id == tiers["silver"].id
    assert (await balances(scope, [m.id]))[m.id].points == REGISTRATION + 600

    later = T0 + timedelta(days=1)
    second = await record_order(
        scope, order("o-2", m.id, later, [("SKU-2", 1, "500.00", None)]), now=later
    )
    state = await scope.query(MemberTierState).get(member_id=m.id)
    assert state.tier_id == tiers["gold"].id
    history = await scope.query(TierHistory).filter(member_id=m.id).order_by("id")
    assert [(h.reason, h.to_tier_id, h.source) for h in history] == [
        ("upgrade", tiers["silver"].id, f"activity:joined:{m.id}"),
        ("upgrade", tiers["gold"].id, f"order:{second.order.id}"),
    ]
    # 500 for the order (silver when it was placed) + the gold gift of 500.
    assert (await balances(scope, [m.id]))[m.id].points == REGISTRATION + 600 + 500 + 500
    gift = await scope.query(LedgerEntry).get(source_type="tier_gift")
    assert gift.source_ref == str(history[1].id) and gift.amount == 500


async def test_a_rule_that_raises_rolls_the_order_back(brand_a, register_plugin):
    class Broken(PointsRule):
        key = "test.broken_rule"
        title = "Broken"

        async def points_for(self, fact):
            raise RuntimeError("boom")

    class Plugin:
        @hookimpl
        def tessera_register_points_rules(self):
            return [Broken]

    await standard_programme(brand_a)
    register_plugin(Plugin(), "broken")

    await enable(brand_a, "test.broken_rule")
    scope = BrandScope(brand_a)
    m = await member(brand_a, "u2")

    with pytest.raises(DomainError) as raised:
        await record_order(scope, order("o-x", m.id, T0), now=T0)
    assert raised.value.code == "REWARD_RULE_FAILED"
    assert "test.broken_rule" in raised.value.message
    assert not await scope.query(Order).exists()
    assert not await scope.query(LedgerEntry).filter(member_id=m.id, source_type="order").exists()


async def test_the_preview_matches_what_recording_does(brand_a):
    await standard_programme(brand_a)
    scope = BrandScope(brand_a)
    m = await member(brand_a, "u3")
    incoming = order(
        "o-p", m.id, T0, [("SKU-1", 3, "400.00", "shoes"), ("GC", 1, "100.00", "gift-card")]
    )
    plan = await compute_order_rewards(
        scope, m, order_facts(clean_order(incoming, "CNY", T0, [])), T0
    )
    assert [(p.rule, p.points) for p in plan.points] == [("points.purchase", 1200)]
    assert plan.tier_to is not None and plan.tier_to.code == "gold"

    stored = (await record_order(scope, incoming, now=T0)).order
    earned = await scope.query(LedgerEntry).filter(source_type="order", source_ref=str(stored.id))
    assert sorted(e.amount for e in earned) == [p.points for p in plan.points]
    state = await scope.query(MemberTierState).get(member_id=m.id).select_related("tier")
    assert state.tier.code == plan.tier_to.code
