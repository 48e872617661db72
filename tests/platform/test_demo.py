"""`tessera demo` (behind `make run`): a brand that shows the loyalty programme."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from tessera.assets.service import balances
from tessera.demo import DEMO_FEATURES, ensure_demo
from tessera.features.service import list_features
from tessera.members.service import create_member
from tessera.orders.inputs import LineInput, MemberRef, OrderInput
from tessera.orders.money import MoneyAmount
from tessera.pipeline.orders import record_order
from tessera.scope import BrandScope
from tessera.tiers.models import MemberTierState, TierDefinition


async def test_the_demo_brand_runs_a_loyalty_programme(tessera_db, tmp_path, drain_outbox):
    setup = await ensure_demo(tmp_path)
    scope = BrandScope(setup.brand)
    tiers = await scope.query(TierDefinition).order_by("rank").values_list("code", flat=True)
    assert list(tiers) == ["silver", "gold", "platinum"]
    enabled = {v.feature.component_key for v in await list_features(scope) if v.feature.enabled}
    assert enabled == {key for key, _ in DEMO_FEATURES}

    member = await create_member(scope, {"name": "演示"}, identities=[("app_user_id", "demo-1")])
    price = MoneyAmount(Decimal("3200.00"), "CNY")
    await record_order(
        scope,
        OrderInput(
            external_id="demo-order-1",
            member=MemberRef(member_id=member.id),
            occurred_at=datetime.now(UTC),
            amount_paid=price,
            lines=[LineInput(sku="SKU-1", quantity=1, unit_price=price)],
        ),
    )
    state = await scope.query(MemberTierState).select_related("tier").get(member_id=member.id)
    assert state.tier.code == "gold"  # 3,200 spent crosses the 3,000 threshold
    await drain_outbox()  # the registration bonus is follow-up work of joining
    held = await balances(scope, [member.id])
    # registration 100, purchase 3,200 (pending for the return window or not), gold gift 500
    assert held[member.id].points + held[member.id].pending_points == 100 + 3200 + 500


async def test_running_the_demo_again_changes_nothing(tessera_db, tmp_path):
    first = await ensure_demo(tmp_path)
    again = await ensure_demo(tmp_path)
    assert (again.token, again.key_created) == (first.token, False)
    assert await BrandScope(again.brand).query(TierDefinition).count() == 3
