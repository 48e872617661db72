"""Stored stage flows of closed months and years (tessera.reports.flows):
read only while no change reaches the period (an order, a member, the
lifecycle settings, the timezone), so the lifecycle report's flows always
equal the live statement's."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from reports_data import Buy, M, load, report_brand, utc

from tessera.orders.inputs import MemberRef, OrderInput
from tessera.orders.money import MoneyAmount
from tessera.pipeline.orders import record_order
from tessera.reports.api import scope_query
from tessera.reports.flows import (
    PER_TICK,
    Flows,
    ended_periods,
    refresh,
    stage_flows_tick,
    statement,
    stored_flows,
)
from tessera.reports.models import FlowPeriod, StageFlow
from tessera.reports.service import run_report
from tessera.scope import BrandScope
from tessera.segments.lifecycle import settings_of, update_settings
from tessera.tenancy.models import Brand

TZ = "Asia/Shanghai"
T0 = utc(2024, 1, 1)
# The jobs' clock: 2025 and its months have ended, January 2026 runs.
NOW = utc(2026, 1, 20)
YEAR = (date(2025, 1, 1), date(2025, 12, 31))
JUNE = (date(2025, 6, 1), date(2025, 6, 30))


async def live(scope: BrandScope, period: tuple[date, date]) -> Flows:
    """What the statement gives now, whatever is stored."""
    q = scope_query(scope)
    sql = statement(q, scope.brand_id, scope.brand.timezone, await settings_of(scope), *period)
    return sorted((str(r["s_from"]), str(r["s_to"]), int(r["n"])) for r in await q.rows(sql))


async def report(scope: BrandScope, period: tuple[date, date], **filters: str) -> Flows:
    params = {"start": period[0].isoformat(), "end": period[1].isoformat(), **filters}
    run = await run_report(scope, "reports.lifecycle", params, use_cache=False)
    [table] = [t for t in run.result.tables if t.key == "flows"]
    return sorted((a, b, n) for a, b, n in table.rows)


async def answer(scope: BrandScope, period: tuple[date, date]) -> tuple[bool, Flows]:
    """(whether valid stored rows exist, what the report answers)."""
    return await stored_flows(scope, *period) is not None, await report(scope, period)


async def buy(scope: BrandScope, member_id: int, at: datetime, key: str) -> None:
    """An order as the order pipeline records it (its day marked dirty)."""
    await record_order(
        scope,
        OrderInput(
            external_id=key,
            member=MemberRef(member_id=member_id),
            occurred_at=at,
            amount_paid=MoneyAmount(Decimal("10.00"), scope.brand.currency),
        ),
    )


async def history(brand: Brand) -> list[int]:
    """Four members over 2024 and 2025 with orders that move their stages."""
    return await load(
        brand,
        [M(T0), M(T0 + timedelta(days=100)), M(T0 + timedelta(days=400)), M(utc(2025, 6, 10))],
        [
            Buy(0, T0 + timedelta(days=2), 100),
            Buy(0, T0 + timedelta(days=380), 100),
            Buy(0, T0 + timedelta(days=520), 100),
            Buy(1, T0 + timedelta(days=120), 100),
            Buy(2, T0 + timedelta(days=450), 100),
            Buy(3, utc(2025, 6, 12), 100),
        ],
    )


@settings(settings.get_profile("database-examples"), max_examples=12)
@given(
    people=st.lists(st.integers(0, 700), min_size=1, max_size=6),  # joined, days after T0
    orders=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 700 * 24)), max_size=20),
    new_max_orders=st.integers(0, 2),
)
def test_stored_flows_equal_the_live_ones(session_loop, tessera_db, people, orders, new_max_orders):
    async def check() -> None:
        brand = await report_brand(timezone=TZ)
        scope = BrandScope(brand)
        await update_settings(scope, {"new_max_orders": new_max_orders})
        roster = [M(T0 + timedelta(days=d, hours=5)) for d in people]
        buys = [
            Buy(m % len(roster), T0 + timedelta(hours=h), 100)
            for m, h in orders
            if T0 + timedelta(hours=h) >= roster[m % len(roster)].joined_at
        ]
        await load(brand, roster, buys)
        stored = await refresh(scope, now=NOW)
        periods = await scope.query(FlowPeriod).values_list("first_day", "last_day")
        assert stored == len(periods) > 0
        for period in periods:
            want = await live(scope, period)  # type: ignore[arg-type]
            assert await stored_flows(scope, *period) == want  # type: ignore[arg-type]
            assert await report(scope, period) == want  # type: ignore[arg-type]

    session_loop.run_until_complete(check())


async def test_the_report_reads_the_stored_rows_of_a_whole_month_or_year(tessera_db):
    """Shown by rows altered in place: the report answers them (no filter,
    a whole year), not the live statement."""
    brand = await report_brand(timezone=TZ)
    scope = BrandScope(brand)
    await history(brand)
    want = await live(scope, YEAR)
    assert await answer(scope, YEAR) == (False, want)
    await refresh(scope, now=NOW)
    assert await answer(scope, YEAR) == (True, want)
    period = await scope.query(FlowPeriod).get(first_day=YEAR[0], last_day=YEAR[1])
    await scope.query(StageFlow).filter(period_id=period.id).update(members=1000)
    assert {n for _, _, n in await report(scope, YEAR)} == {1000}
    # Not a whole month: live.
    odd = (date(2025, 6, 1), date(2025, 6, 29))
    assert await report(scope, odd) == await live(scope, odd)


async def test_a_filter_reads_live(tessera_db):
    brand = await report_brand(timezone=TZ)
    scope = BrandScope(brand)
    await history(brand)
    await refresh(scope, now=NOW)
    for period in (YEAR, JUNE):
        stored = await scope.query(FlowPeriod).get(first_day=period[0], last_day=period[1])
        await scope.query(StageFlow).filter(period_id=stored.id).update(members=1000)
        want = await live(scope, period)
        assert await report(scope, period, buyer="member") == want
        assert await report(scope, period, buyer="non_member") == []
        assert await report(scope, period) != want


async def test_a_late_order_inside_or_before_the_period_invalidates(tessera_db):
    brand = await report_brand(timezone=TZ)
    scope = BrandScope(brand)
    ids = await history(brand)
    await refresh(scope, now=NOW)
    assert (await answer(scope, JUNE))[0] and (await answer(scope, YEAR))[0]

    # After both periods: they stay valid.
    await buy(scope, ids[1], utc(2026, 1, 2, 10), "after")
    assert await answer(scope, YEAR) == (True, await live(scope, YEAR))
    assert await answer(scope, JUNE) == (True, await live(scope, JUNE))

    # In the year, after June: the year is read live, June stays.
    before = await live(scope, YEAR)
    await buy(scope, ids[1], utc(2025, 9, 1, 10), "in-year")
    assert await live(scope, YEAR) != before
    assert await answer(scope, YEAR) == (False, await live(scope, YEAR))
    assert await answer(scope, JUNE) == (True, await live(scope, JUNE))

    # Before June (a day of 2024, on the brand's calendar): both live.
    before = await live(scope, JUNE)
    await buy(scope, ids[1], utc(2024, 12, 31, 20), "before")  # 1 January 2025 in Shanghai
    assert await live(scope, JUNE) != before
    assert await answer(scope, JUNE) == (False, await live(scope, JUNE))
    assert await answer(scope, YEAR) == (False, await live(scope, YEAR))

    # The job stores them again, most recent first.
    assert await refresh(scope, now=NOW) > 0
    assert await answer(scope, JUNE) == (True, await live(scope, JUNE))
    assert await answer(scope, YEAR) == (True, await live(scope, YEAR))


async def test_a_settings_change_invalidates(tessera_db):
    brand = await report_brand(timezone=TZ)
    scope = BrandScope(brand)
    await history(brand)
    await refresh(scope, now=NOW)
    before = await live(scope, YEAR)
    await update_settings(scope, {"about_to_churn_days": 300})
    assert await live(scope, YEAR) != before
    assert await answer(scope, YEAR) == (False, await live(scope, YEAR))
    # A setting the stages do not read leaves them valid.
    await refresh(scope, now=NOW)
    await update_settings(scope, {"rfm_window_days": 200})
    assert await answer(scope, YEAR) == (True, await live(scope, YEAR))


async def test_a_timezone_change_invalidates(tessera_db):
    brand = await report_brand(timezone=TZ)
    scope = BrandScope(brand)
    await history(brand)
    await refresh(scope, now=NOW)
    assert (await answer(scope, JUNE))[0]
    brand.timezone = "America/Los_Angeles"
    await brand.save()
    scope = BrandScope(brand)
    assert await answer(scope, JUNE) == (False, await live(scope, JUNE))
    await refresh(scope, now=NOW)
    assert await answer(scope, JUNE) == (True, await live(scope, JUNE))


async def test_the_job_stores_ended_periods_not_the_running_one(tessera_db):
    brand = await report_brand(timezone=TZ)
    scope = BrandScope(brand)
    await history(brand)
    # 1 March 2025, 07:00 in Shanghai: February has ended, March and 2025 run.
    now = utc(2025, 2, 28, 23)
    assert await refresh(scope, now=now, limit=PER_TICK) == PER_TICK
    # The most recent first: February, January, December (2024 next).
    got = sorted(await scope.query(FlowPeriod).values_list("first_day", "last_day"))
    assert got == [
        (date(2024, 12, 1), date(2024, 12, 31)),
        (date(2025, 1, 1), date(2025, 1, 31)),
        (date(2025, 2, 1), date(2025, 2, 28)),
    ]
    await refresh(scope, now=now)
    got = await scope.query(FlowPeriod).values_list("first_day", "last_day")
    assert sorted(got) == sorted(ended_periods(date(2024, 1, 1), date(2025, 3, 1)))
    assert len(got) == 15  # 14 months, January 2024 to February 2025, and 2024
    assert (date(2025, 3, 1), date(2025, 3, 31)) not in got
    assert (date(2025, 1, 1), date(2025, 12, 31)) not in got
    # All valid: nothing again.
    assert await refresh(scope, now=now) == 0


def test_ended_periods_end_before_today():
    got = ended_periods(date(2024, 11, 20), date(2025, 1, 1))
    assert got == [
        (date(2024, 12, 1), date(2024, 12, 31)),
        (date(2024, 1, 1), date(2024, 12, 31)),
        (date(2024, 11, 1), date(2024, 11, 30)),
    ]
    assert ended_periods(date(2024, 11, 20), date(2024, 11, 30)) == []


async def test_tenants_are_isolated(tessera_db):
    brand_a = await report_brand(timezone=TZ)
    brand_b = await report_brand(timezone=TZ)
    a, b = BrandScope(brand_a), BrandScope(brand_b)
    await history(brand_a)
    ids_b = await load(brand_b, [M(T0)], [Buy(0, T0 + timedelta(days=3), 100)])
    assert await stage_flows_tick({}, brand_a.id) == PER_TICK
    assert not await b.query(FlowPeriod).exists()
    await refresh(a, now=NOW)
    await refresh(b, now=NOW)
    assert await answer(a, YEAR) == (True, await live(a, YEAR))
    assert await answer(b, YEAR) == (True, await live(b, YEAR))
    assert await live(a, YEAR) != await live(b, YEAR)
    # Another brand's late order leaves this brand's rows valid.
    await buy(b, ids_b[0], utc(2025, 3, 1, 10), "b-late")
    assert await answer(a, YEAR) == (True, await live(a, YEAR))
    assert await answer(b, YEAR) == (False, await live(b, YEAR))


# Member changes reach the flows through the member's join day, which the
# member write paths mark dirty.
async def test_an_imported_member_who_joined_in_the_period_invalidates(tessera_db):
    from tessera.members.service import create_member

    brand = await report_brand(timezone=TZ)
    scope = BrandScope(brand)
    await history(brand)
    await refresh(scope, now=NOW)
    before = await live(scope, YEAR)
    await create_member(
        scope, {"external_id": "old-1"}, joined_at=utc(2025, 4, 2, 10), imported=True
    )
    assert await live(scope, YEAR) != before
    assert await answer(scope, YEAR) == (False, await live(scope, YEAR))


async def test_a_merge_and_its_undo_leave_the_answer_the_live_one(tessera_db):
    from tessera.members.merge import merge_members, undo_merge

    brand = await report_brand(timezone=TZ)
    scope = BrandScope(brand)
    ids = await history(brand)
    [idle] = await load(brand, [M(utc(2025, 5, 3, 10))], [])
    await refresh(scope, now=NOW)
    done = await merge_members(scope, ids[0], ids[2], idempotency_key="flows-merge")
    assert await answer(scope, YEAR) == (False, await live(scope, YEAR))
    await merge_members(scope, ids[1], idle, idempotency_key="flows-merge-idle")
    assert (await answer(scope, YEAR))[1] == await live(scope, YEAR)
    await refresh(scope, now=NOW)
    await undo_merge(scope, done.merge.id)
    assert await answer(scope, YEAR) == (False, await live(scope, YEAR))


async def test_an_erasure_leaves_the_answer_the_live_one(tessera_db):
    from tessera.privacy.erasure import ErasureReason, erase_member

    brand = await report_brand(timezone=TZ)
    scope = BrandScope(brand)
    ids = await history(brand)
    await refresh(scope, now=NOW)
    await erase_member(scope, ids[3], ErasureReason.MEMBER_REQUEST)
    assert (await answer(scope, YEAR))[1] == await live(scope, YEAR)
    assert (await answer(scope, JUNE))[1] == await live(scope, JUNE)
