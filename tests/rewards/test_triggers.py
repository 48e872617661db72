"""Joins and behaviour events earn through the after-commit reaction and the
``reward_activity`` job (registered in ``tessera.uow.AFTER_COMMIT``)."""

from __future__ import annotations

import pytest
from loyalty_programme import T0, enable, member, order, standard_programme

from tessera import uow
from tessera.assets.models import LedgerEntry
from tessera.assets.service import balances
from tessera.behaviour.service import EventInput, record_event
from tessera.members.scheme import JoinRule, update_settings
from tessera.orders.inputs import MemberRef
from tessera.orders.service import record_order
from tessera.scope import BrandScope

REACTION = "tessera.rewards.triggers:after_commit"


@pytest.fixture
def rewards_reaction(monkeypatch):
    if REACTION not in uow.AFTER_COMMIT:
        monkeypatch.setattr(uow, "AFTER_COMMIT", [*uow.AFTER_COMMIT, REACTION])


async def test_registering_earns_the_registration_bonus_once(brand_a, rewards_reaction):
    await standard_programme(brand_a)
    scope = BrandScope(brand_a)
    m = await member(brand_a, "t1")
    assert (await balances(scope, [m.id]))[m.id].points == 100
    history = await scope.query(LedgerEntry).filter(member_id=m.id, kind="points")
    assert [e.reason for e in history] == ["points.activity: registration bonus"]


async def test_a_join_by_first_purchase_is_not_rewarded_twice(brand_a, rewards_reaction):
    await standard_programme(brand_a)
    scope = BrandScope(brand_a)
    await update_settings(scope, join_rule=JoinRule.FIRST_PURCHASE)
    m = await member(brand_a, "t2")
    await record_order(scope, order("o-1", m.id, T0), now=T0)
    # 100 for joining (in the order's transaction, then replayed by the job) + 100 bought.
    assert (await balances(scope, [m.id]))[m.id].points == 200


async def test_a_task_event_earns_its_points(brand_a, rewards_reaction):
    await standard_programme(brand_a)
    await enable(brand_a, "points.activity", {"registration": 0, "events": {"share": 15}})
    scope = BrandScope(brand_a)
    m = await member(brand_a, "t3")
    for event_id in ("e-1", "e-2", "e-2"):
        await record_event(
            scope, EventInput(event_id, MemberRef(member_id=m.id), "share", T0), now=T0
        )
    await record_event(scope, EventInput("e-3", MemberRef(member_id=m.id), "view", T0), now=T0)
    assert (await balances(scope, [m.id]))[m.id].points == 30
