"""Stored results of closed campaigns (tessera.campaigns.stored): read only
while no change reaches their window, so the answer always equals the live
statement's, after new orders, refunds, a merge and an erasure in a window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

from attribution_data import LATER, LAUNCH, R, campaign, members, scenario, utc

from tessera.campaigns import attribution
from tessera.campaigns.models import Campaign, StoredResults
from tessera.campaigns.stored import SLACK, campaign_results_tick, refresh, stored_rows
from tessera.channels.models import Message, MessageStatus
from tessera.members.merge import merge_members
from tessera.members.models import Member, MemberMerge
from tessera.orders.inputs import MemberRef, OrderInput, RefundInput
from tessera.orders.money import MoneyAmount
from tessera.orders.refunds import record_refund
from tessera.pipeline.orders import record_order
from tessera.privacy.erasure import ErasureReason, erase_member
from tessera.privacy.models import PrivacySettings
from tessera.reports.api import scope_query
from tessera.scope import BrandScope


async def live(scope: BrandScope, c: Campaign) -> attribution.CampaignResults:
    """What the statement gives now, whatever is stored."""
    q = scope_query(scope)
    rows = await q.rows(attribution._statement(q, scope.brand_id, f"c.id IN ({q(c.id)})", None))
    return attribution._results(c, rows, c.attribution_days, Fraction(1), 100)


async def answer(scope: BrandScope, c: Campaign) -> tuple[bool, attribution.CampaignResults]:
    """(whether the stored rows were read, what the attribution answers)."""
    stored = c.id in await stored_rows(scope, [c], None)
    (got,) = await attribution.results_of(scope, [c], margin=Fraction(1))
    return stored, got


def an_hour_on() -> datetime:
    """A tick an hour on, the slack of every change here passed."""
    return datetime.now(UTC) + SLACK + timedelta(minutes=1)


def an_hour_ago() -> datetime:
    """Before the slack of a result computed now."""
    return datetime.now(UTC) - SLACK - timedelta(minutes=1)


async def buy(scope: BrandScope, member_id: int, at: datetime, paid: str, key: str) -> None:
    await record_order(
        scope,
        OrderInput(
            external_id=key,
            member=MemberRef(member_id=member_id),
            occurred_at=at,
            amount_paid=MoneyAmount(paid, scope.brand.currency),
        ),
        now=LATER,
    )


async def test_stored_results_equal_the_live_ones_through_every_change(brand_a, brand_b):
    scope = BrandScope(brand_a)
    spring, ids = await scenario(brand_a)
    ids.update(await members(brand_a, ["s1"]))
    first = await live(scope, spring)
    assert await answer(scope, spring) == (False, first)

    assert await refresh(scope) == 1
    assert await answer(scope, spring) == (True, first)
    # Nothing changed: the next tick stores nothing again (the other brand has none).
    assert await campaign_results_tick({}) == 0

    # An order far after the window leaves the stored rows valid.
    await buy(scope, ids["t1"], utc(2025, 6, 1, 12), "500.00", "late")
    assert await answer(scope, spring) == (True, first)
    # Another brand's order in the same days neither.
    other = await members(brand_b, ["t1"])
    await buy(BrandScope(brand_b), other["t1"], utc(2025, 3, 2, 12), "9.00", "b-t1")
    assert await answer(scope, spring) == (True, first)

    # A new order inside a window: read live until stored again.
    await buy(scope, ids["t4"], utc(2025, 3, 4, 12), "25.00", "t4-new")
    now = await live(scope, spring)
    assert now.treated.converters == first.treated.converters + 1
    assert await answer(scope, spring) == (False, now)
    assert await refresh(scope) == 1
    assert await answer(scope, spring) == (True, now)

    # A refund of an order inside a window.
    await record_refund(
        scope,
        RefundInput(
            external_id="t4-new-r",
            occurred_at=utc(2025, 7, 1),
            order_external_id="t4-new",
            amount=MoneyAmount("5.00", brand_a.currency),
        ),
        now=LATER,
    )
    now = await live(scope, spring)
    assert now.treated.revenue == first.treated.revenue + 2000
    assert await answer(scope, spring) == (False, now)
    assert await refresh(scope) == 1
    assert await answer(scope, spring) == (True, now)

    # A merge moving a recipient (t2, treated) to a member of its own whose
    # order in the window was never moved: that order now counts.
    await buy(scope, ids["s1"], utc(2025, 3, 6, 12), "11.00", "s1-own")
    # (any order in a window's days makes it stale: the versions are per day)
    assert await refresh(scope) == 1
    assert (await answer(scope, spring))[0]
    await merge_members(scope, ids["s1"], ids["t2"], idempotency_key="m1")
    now = await live(scope, spring)
    assert now.treated.orders == first.treated.orders + 2
    assert await answer(scope, spring) == (False, now)
    # A merge counts as after any result computed within SLACK after it
    # (its stamp precedes its commit): stored rows are read past that.
    assert await refresh(scope) == 1
    assert await answer(scope, spring) == (False, now)
    # (an hour on, the rows stored meanwhile are read)
    await scope.query(MemberMerge).update(merged_at=an_hour_ago())
    assert await refresh(scope) == 0
    assert await answer(scope, spring) == (True, now)

    # An erasure deletes a holdout member's recipient row (no order of theirs).
    await erase_member(scope, ids["h2"], ErasureReason.MEMBER_REQUEST)
    now = await live(scope, spring)
    assert now.holdout.members == first.holdout.members - 1
    assert await answer(scope, spring) == (False, now)
    assert await refresh(scope) == 1
    assert await answer(scope, spring) == (False, now)
    await scope.query(Member).filter(id=ids["h2"]).update(updated_at=an_hour_ago())
    assert await refresh(scope) == 0
    assert await answer(scope, spring) == (True, now)

    # Another window (days) is read live; the stored one stays.
    (nine,) = await attribution.results_of(scope, [spring], days=9, margin=Fraction(1))
    assert nine.days == 9
    assert await answer(scope, spring) == (True, now)

    # The message log retention may delete the messages of a campaign
    # launched longer ago than its days: read live, and not stored again.
    await scope.query(PrivacySettings).delete()
    await scope.create(PrivacySettings, message_log_days=30)
    assert await answer(scope, spring) == (False, now)
    assert await refresh(scope, now=an_hour_on()) == 0


async def test_open_campaigns_are_not_stored(brand_a):
    scope = BrandScope(brand_a)
    ids = await members(brand_a, ["a", "b"])
    recent = datetime.now(UTC) - timedelta(days=2)
    await campaign(
        brand_a, "running", recent, [R("a", sent_at=recent), R("b", holdout=True)], ids=ids
    )
    await campaign(brand_a, "draft", None, [], ids=ids)
    spring = await campaign(brand_a, "spring", LAUNCH, [R("a", sent_at=LAUNCH)], ids=ids)
    # Completed, but a message deferred by quiet hours may still be sent,
    # moving its member from unreached to treated.
    waiting = await campaign(brand_a, "waiting", LAUNCH, [R("a"), R("b")], ids=ids)
    await (
        scope.query(Message)
        .filter(idempotency_key=f"campaign:{waiting.id}")
        .update(status=MessageStatus.DEFERRED)
    )
    assert await refresh(scope) == 1
    assert await scope.query(StoredResults).values_list("campaign_id", flat=True) == [spring.id]
    # A window that ends only after the last send's: stored once it has.
    late = LAUNCH + timedelta(days=400)
    assert await refresh(scope, now=late) == 0
