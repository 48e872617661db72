"""The daily sales rollup: a report read through it equals the same report
over the raw orders, whatever days are dirty (hypothesis: random histories
with refunds and late-arriving orders on a non-UTC brand); the order and
refund write paths mark the order's local day dirty; the job and the CLI
build it; a brand whose timezone changed reads its orders again."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from reports_data import Buy, M, load, report_brand, utc, values
from tortoise.expressions import F

from tessera.orders.inputs import LineInput, MemberRef, OrderInput, RefundInput
from tessera.orders.models import Order
from tessera.orders.money import MoneyAmount
from tessera.orders.refunds import record_refund
from tessera.pipeline.orders import record_order
from tessera.reports.api import local_day
from tessera.reports.models import DirtyDay, RollupState, SalesDay
from tessera.reports.rollup import (
    build,
    mark_dirty,
    mark_orders_dirty,
    rebuild_day,
    rollup_tick,
    rollups_ready,
)
from tessera.reports.service import run_report
from tessera.scope import BrandScope
from tessera.uow import unit_of_work

T0 = utc(2025, 3, 1)
TZ = "Asia/Shanghai"

orders = st.lists(
    st.tuples(
        st.integers(0, 4),  # member
        st.integers(0, 40 * 24 - 1),  # hour after T0 (local days cross UTC midnight)
        st.integers(1, 50_000),  # paid
        st.integers(1, 5),  # units
        st.integers(0, 100),  # refunded share, percent
        st.sampled_from([None, "S1", "S2"]),
        st.sampled_from([None, "app", "pos"]),
    ),
    max_size=20,
)


def buys(history: list[tuple[int, int, int, int, int, str | None, str | None]]) -> list[Buy]:
    return [
        Buy(
            member,
            T0 + timedelta(hours=hour),
            paid,
            units=units,
            retail=paid + 100,
            refunded=paid * refund // 100,
            refunded_units=units * refund // 100,
            store=store,
            channel=channel,
        )
        for member, hour, paid, units, refund, store, channel in history
    ]


late_numbers = itertools.count()


async def late(scope: BrandScope, member_ids: list[int], rows: list[Buy]) -> None:
    """Orders arriving after the rollup was built, as the order path stores
    them: inserted and their days marked in one transaction."""
    async with unit_of_work(scope) as uow:
        for o in rows:
            await scope.create(
                Order,
                using_db=uow.connection,
                member_id=member_ids[o.member],
                external_id=f"late-{next(late_numbers)}",
                store_code=o.store,
                channel=o.channel,
                occurred_at=o.at,
                amount_paid=o.paid,
                retail_amount=o.paid if o.retail is None else o.retail,
                discount=0,
                units=o.units,
                fingerprint="test",
            )
        await mark_orders_dirty(scope, uow.connection, [(member_ids[o.member], o.at) for o in rows])


async def refund_some(scope: BrandScope, every: int) -> None:
    """A refund of 1 on every ``every``-th order that has money left, as the
    refund path changes the order: the order and its day's mark together."""
    async with unit_of_work(scope) as uow:
        picked = [
            o
            for i, o in enumerate(await scope.query(Order).using_db(uow.connection).order_by("id"))
            if i % every == 0 and o.amount_paid > o.refunded_amount
        ]
        for o in picked:
            await (
                scope.query(Order)
                .using_db(uow.connection)
                .filter(id=o.id)
                .update(refunded_amount=F("refunded_amount") + 1)
            )
        await mark_dirty(scope, uow.connection, [o.occurred_at for o in picked])


@settings(settings.get_profile("database-examples"), max_examples=30)
@given(
    history=orders,
    later=orders,
    every=st.integers(1, 4),
    rebuilt=st.sets(st.integers(0, 40), max_size=10),
    granularity=st.sampled_from(["day", "week", "month"]),
    # Arbitrary, a calendar month, a Monday week (the last two read the
    # buyer counts of whole periods), and from a month's first day over two
    # months (the retention cohorts' rollup).
    period=st.sampled_from(
        [
            ("2025-03-02", "2025-04-05"),
            ("2025-03-01", "2025-03-31"),
            ("2025-03-03", "2025-03-09"),
            ("2025-03-01", "2025-04-10"),
        ]
    ),
    filters=st.sampled_from(
        [{}, {"store": "S1"}, {"channel": "app"}, {"buyer": "member"}, {"buyer": "non_member"}]
    ),
)
def test_rollup_equals_raw_orders(
    session_loop, tessera_db, history, later, every, rebuilt, granularity, period, filters
):
    async def check() -> None:
        brand = await report_brand(timezone=TZ)
        scope = BrandScope(brand)
        ids = await load(
            brand, [M(T0 - timedelta(days=30), card=i % 2 == 0) for i in range(5)], buys(history)
        )
        await build(scope)
        assert await rollups_ready(scope)
        await late(scope, ids, buys(later))
        await refund_some(scope, every)
        # Some dirty days rebuilt by the job, others not yet.
        for offset in sorted(rebuilt):
            await rebuild_day(scope, date(2025, 3, 1) + timedelta(days=offset))
        params = {
            "start": period[0],
            "end": period[1],
            "granularity": granularity,
            **filters,
        }
        # Retention takes the member filters only.
        retention = {k: v for k, v in params.items() if k not in ("store", "channel")}
        raws = {}
        for key, p in (("reports.sales", params), ("reports.retention", retention)):
            through = await run_report(scope, key, p, use_cache=False)
            raws[key] = await run_report(scope, key, p, use_cache=False, rollups=False)
            assert values(through.result) == values(raws[key].result), key
        # And once every day is clean.
        await rollup_tick({}, brand.id)
        assert not await scope.query(DirtyDay).exists()
        for key, p in (("reports.sales", params), ("reports.retention", retention)):
            clean = await run_report(scope, key, p, use_cache=False)
            assert values(clean.result) == values(raws[key].result), key

    session_loop.run_until_complete(check())


def money(amount: str) -> MoneyAmount:
    return MoneyAmount(Decimal(amount), "CNY")


async def test_orders_and_refunds_mark_their_local_day(tessera_db):
    brand = await report_brand(timezone=TZ)
    scope = BrandScope(brand)
    [member_id] = await load(brand, [M(T0)], [])
    await build(scope)
    # 20:30 UTC on 9 March is 04:30 on 10 March in Shanghai.
    at = utc(2025, 3, 9, 20, 30)
    await record_order(
        scope,
        OrderInput(
            external_id="o-1",
            member=MemberRef(member_id=member_id),
            occurred_at=at,
            amount_paid=money("100.00"),
            lines=[LineInput(sku="A", quantity=2, unit_price=money("50.00"))],
        ),
    )
    marks = await scope.query(DirtyDay).order_by("day")
    # And the member's join day: it is their first order (member growth).
    assert [(m.day, m.version) for m in marks] == [(date(2025, 3, 1), 0), (date(2025, 3, 10), 0)]
    params = {"start": "2025-03-10", "end": "2025-03-10"}
    report = await run_report(scope, "reports.sales", params, use_cache=False)
    assert report.result.figure("sales").value == 10000

    assert await rollup_tick({}, brand.id) == 2
    assert not await scope.query(DirtyDay).exists()
    rows = await scope.query(SalesDay).all()
    assert [(r.day, r.orders, r.sales, r.units) for r in rows] == [(date(2025, 3, 10), 1, 10000, 2)]

    await record_refund(scope, RefundInput("r-1", at, order_external_id="o-1", amount=money("30")))
    assert [m.day for m in await scope.query(DirtyDay).all()] == [date(2025, 3, 10)]
    report = await run_report(scope, "reports.sales", params, use_cache=False)
    assert report.result.figure("sales").value == 7000
    await rollup_tick({}, brand.id)
    assert [r.sales for r in await scope.query(SalesDay).all()] == [7000]


async def test_a_mark_made_during_a_rebuild_stays(tessera_db):
    """A rebuild removes the mark it read, not one an order placed after
    (the version moved on): that day is read from the orders until rebuilt."""
    brand = await report_brand()
    scope = BrandScope(brand)
    ids = await load(brand, [M(T0)], [Buy(0, utc(2025, 3, 2, 10), 100)])
    await build(scope)
    await late(scope, ids, [Buy(0, utc(2025, 3, 2, 11), 50)])
    mark = await scope.query(DirtyDay).get(day=date(2025, 3, 2))
    await late(scope, ids, [Buy(0, utc(2025, 3, 2, 12), 25)])
    # The version read by a rebuild that started before the second order:
    deleted = await scope.query(DirtyDay).filter(id=mark.id, version=mark.version).delete()
    assert deleted == 0
    assert (await scope.query(DirtyDay).get(id=mark.id)).version == mark.version + 1


async def test_a_timezone_change_reads_the_orders_until_rebuilt(tessera_db):
    brand = await report_brand(timezone=TZ)
    scope = BrandScope(brand)
    await load(brand, [M(T0)], [Buy(0, utc(2025, 3, 2, 20), 100)])
    await build(scope)
    assert await rollups_ready(scope)
    brand.timezone = "UTC"
    await brand.save()
    scope = BrandScope(brand)
    assert not await rollups_ready(scope)
    params = {"start": "2025-03-02", "end": "2025-03-02"}
    report = await run_report(scope, "reports.sales", params, use_cache=False)
    assert report.result.figure("sales").value == 100
    await build(scope)
    assert [s.timezone for s in await scope.query(RollupState).all()] == ["UTC"]
    assert [r.day for r in await scope.query(SalesDay).all()] == [date(2025, 3, 2)]


async def test_a_member_merge_and_its_undo_mark_the_moved_orders_days(tessera_db):
    """Buyers are counted by member: after a merge the two are one buyer,
    after its undo two again, whether the days are read from the rollup or
    from the orders."""
    from tessera.members.merge import merge_members, undo_merge

    brand = await report_brand()
    scope = BrandScope(brand)
    ids = await load(
        brand,
        [M(T0), M(T0)],
        [Buy(0, utc(2025, 3, 2, 10), 100), Buy(1, utc(2025, 3, 3, 10), 50)],
    )
    await build(scope)
    params = {"start": "2025-03-01", "end": "2025-03-31"}

    async def buyers() -> int:
        report = await run_report(scope, "reports.sales", params, use_cache=False)
        return int(report.result.figure("buyers").value)

    assert await buyers() == 2
    done = await merge_members(scope, ids[0], ids[1], idempotency_key="m")
    # And both members' join day (member growth).
    days = [m.day for m in await scope.query(DirtyDay).order_by("day")]
    assert days == [date(2025, 3, 1), date(2025, 3, 3)]
    assert await buyers() == 1
    await rollup_tick({}, brand.id)
    assert await buyers() == 1
    await undo_merge(scope, done.merge.id)
    days = [m.day for m in await scope.query(DirtyDay).order_by("day")]
    assert days == [date(2025, 3, 1), date(2025, 3, 3)]
    await rollup_tick({}, brand.id)
    assert await buyers() == 2


async def test_whole_periods_read_buyer_counts_and_a_join_moves_the_sales(tessera_db):
    """A month's buyers come from its count row once built; a prospect who
    joins marks their orders' days, so the member filter moves their sales
    and the stale counts are dropped, then counted again by the job."""
    from tessera.members.service import activate_member
    from tessera.reports.models import BuyerCount

    brand = await report_brand(timezone=TZ)
    scope = BrandScope(brand)
    ids = await load(
        brand,
        [M(T0), M(T0, card=False)],
        [Buy(0, utc(2025, 3, 2, 10), 100, store="S1"), Buy(1, utc(2025, 3, 5, 10), 50)],
    )
    await build(scope)
    march = await scope.query(BuyerCount).filter(kind="month", first_day=date(2025, 3, 1))
    # dims 0 (everyone), per store, channel, card and their combinations.
    assert {(c.dims, c.store_code, c.carded, c.buyers) for c in march if c.dims in (0, 1, 4)} == {
        (0, "", 0, 2),
        (1, "S1", 0, 1),
        (1, "", 0, 1),
        (4, "", 1, 1),
        (4, "", 0, 1),
    }
    params = {"start": "2025-03-01", "end": "2025-03-31", "buyer": "member"}

    async def both() -> tuple[tuple[int, int], tuple[int, int]]:
        through = await run_report(scope, "reports.sales", params, use_cache=False)
        raw = await run_report(scope, "reports.sales", params, use_cache=False, rollups=False)
        return tuple(  # type: ignore[return-value]
            (r.result.figure("sales").value, r.result.figure("buyers").value)
            for r in (through, raw)
        )

    assert await both() == ((100, 1), (100, 1))
    before = local_day(datetime.now(UTC), TZ)
    await activate_member(scope, ids[1])
    after = local_day(datetime.now(UTC), TZ)
    # Its order's day, and for member growth the join day it leaves and
    # today's, which it joins on.
    days = {m.day for m in await scope.query(DirtyDay).all()}
    assert days - {before, after} == {date(2025, 3, 1), date(2025, 3, 5)}
    assert days & {before, after}
    assert await both() == ((150, 2), (150, 2))
    await rollup_tick({}, brand.id)
    assert not await scope.query(DirtyDay).exists()
    counted = await scope.query(BuyerCount).get(
        kind="month", first_day=date(2025, 3, 1), dims=4, carded=1
    )
    assert counted.buyers == 2
    assert await both() == ((150, 2), (150, 2))


async def test_a_late_order_in_a_later_month_counts_in_its_cohort(tessera_db):
    """A member of the March cohort buys in April on a day still dirty: the
    cohort's April cell reads that day from the orders, as its first day of
    April (the member bought before, in March)."""
    brand = await report_brand(timezone=TZ)
    scope = BrandScope(brand)
    ids = await load(brand, [M(T0 - timedelta(days=30))], [Buy(0, utc(2025, 3, 5, 10), 100)])
    await build(scope)
    await late(scope, ids, [Buy(0, utc(2025, 4, 8, 10), 50), Buy(0, utc(2025, 4, 9, 10), 50)])
    params = {"start": "2025-03-01", "end": "2025-04-30"}
    through = await run_report(scope, "reports.retention", params, use_cache=False)
    raw = await run_report(scope, "reports.retention", params, use_cache=False, rollups=False)
    assert through.result.tables[0].rows == [["2025-03", 1, 1]]
    assert values(through.result) == values(raw.result)
