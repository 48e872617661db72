"""Joins and behaviour events earn through the outbox and the
``reward_activity`` job (planned by ``tessera.uow.FOLLOW_UPS``)."""

from __future__ import annotations

from loyalty_programme import JOINED, REGISTRATION, T0, enable, member, order, standard_programme

from tessera import uow
from tessera.assets.models import LedgerEntry
from tessera.assets.service import balances
from tessera.behaviour.service import EventInput, record_event
from tessera.members.scheme import JoinRule, update_settings
from tessera.members.service import activate_member, create_member
from tessera.orders.inputs import MemberRef
from tessera.pipeline.orders import record_order
from tessera.rewards.triggers import reward_activity_job
from tessera.scope import BrandScope


def test_the_rewards_follow_ups_are_registered():
    assert "tessera.rewards.triggers:follow_ups" in uow.FOLLOW_UPS


async def test_registering_earns_the_registration_bonus_once(brand_a, drain_outbox):
    await standard_programme(brand_a)
    scope = BrandScope(brand_a)
    # Registered directly, now: nothing but create_member's own unit of work,
    # whose follow-up work waits in the outbox until it is relayed.
    m = await create_member(scope, {"name": "Direct"}, identities=[("app_user_id", "t0")])
    assert (await balances(scope, [m.id]))[m.id].points == 0
    await drain_outbox()
    assert (await balances(scope, [m.id]))[m.id].points == REGISTRATION
    # The job retried (as arq may) and joining again earn nothing more.
    await reward_activity_job({}, brand_a.id, m.id, "joined", f"joined:{m.id}")
    await activate_member(scope, m.id)
    history = await scope.query(LedgerEntry).filter(member_id=m.id, kind="points")
    assert [(e.reason, e.amount) for e in history] == [
        ("points.activity: registration bonus", REGISTRATION)
    ]
    assert (await balances(scope, [m.id]))[m.id].points == REGISTRATION


async def test_an_imported_member_gets_no_registration_bonus(brand_a, drain_outbox):
    await standard_programme(brand_a)
    scope = BrandScope(brand_a)
    m = await create_member(
        scope,
        {"name": "Old CRM"},
        identities=[("app_user_id", "old-1")],
        joined_at=JOINED,
        imported=True,
    )
    fresh = await create_member(scope, {"name": "New"}, identities=[("app_user_id", "new-1")])
    await drain_outbox()
    assert (await balances(scope, [m.id]))[m.id].points == 0
    assert (await balances(scope, [fresh.id]))[fresh.id].points == REGISTRATION


async def test_the_bonus_is_dated_when_the_member_joined(brand_a):
    await standard_programme(brand_a)
    scope = BrandScope(brand_a)
    m = await member(brand_a, "t1")  # joined at JOINED, registered now
    entry = await scope.query(LedgerEntry).get(member_id=m.id, kind="points")
    assert (entry.amount, entry.occurred_at) == (REGISTRATION, JOINED)


async def test_a_join_by_first_purchase_is_not_rewarded_twice(brand_a):
    await standard_programme(brand_a)
    scope = BrandScope(brand_a)
    await update_settings(scope, join_rule=JoinRule.FIRST_PURCHASE)
    m = await member(brand_a, "t2")
    await record_order(scope, order("o-1", m.id, T0), now=T0)
    # 100 for joining (in the order's transaction, then replayed by the job) + 100 bought.
    assert (await balances(scope, [m.id]))[m.id].points == REGISTRATION + 100


async def test_a_task_event_earns_its_points(brand_a, drain_outbox):
    await standard_programme(brand_a)
    await enable(brand_a, "points.activity", {"registration": 0, "events": {"share": 15}})
    scope = BrandScope(brand_a)
    m = await member(brand_a, "t3")
    for event_id in ("e-1", "e-2", "e-2"):
        await record_event(
            scope, EventInput(event_id, MemberRef(member_id=m.id), "share", T0), now=T0
        )
    await record_event(scope, EventInput("e-3", MemberRef(member_id=m.id), "view", T0), now=T0)
    await drain_outbox()
    assert (await balances(scope, [m.id]))[m.id].points == 30
    # Dated when the events happened, not when the job ran.
    earned = await scope.query(LedgerEntry).filter(member_id=m.id, kind="points")
    assert {e.occurred_at for e in earned} == {T0}
