"""The store and channel buyer rollup (``report_buyer_dim_day``): for any
range, its whole months through it and its first days before them from
the member rows, the distinct buyers by store and by channel (and of one
store or one channel, with the monthly or daily series of a range
starting on a month's first day) equal those counted from the orders,
whatever days are dirty (hypothesis: random histories over several months
with refunds, late-arriving orders and partly rebuilt days on a non-UTC
brand); a previous purchase older than the clip month still counts as
before the range; a range whose whole months start on or before the clip
month is not answered by it, nor are other filters or weekly series."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from reports_data import Buy, M, load, report_brand, utc, values
from test_rollups import buys, late, refund_some
from tortoise import connections

from tessera.orders.models import Order
from tessera.reports.api import ReportParams, buckets, local_day
from tessera.reports.models import BuyerDimDay, DirtyDay
from tessera.reports.retention import clip_month
from tessera.reports.rollup import build, rebuild_day, rollup_tick
from tessera.reports.service import _context, run_report
from tessera.scope import BrandScope

T0 = utc(2025, 1, 10)
TZ = "Asia/Shanghai"
DAYS = 110

order = st.tuples(
    st.integers(0, 3),  # member
    st.integers(0, DAYS * 24 - 1),  # hour after T0 (local days cross UTC midnight)
    st.integers(1, 50_000),  # paid
    st.integers(1, 5),  # units
    st.integers(0, 100),  # refunded share, percent
    st.sampled_from([None, "S1", "S1", "S2"]),
    st.sampled_from([None, "app", "pos"]),
)
# Enough orders that members come back to a store across months.
orders = st.lists(order, min_size=10, max_size=30)


async def counted(
    scope: BrandScope,
    first: date,
    last: date,
    by: str,
    wanted: str | None,
    orders: list[Order] | None = None,
) -> dict[str, int]:
    """Distinct buyers by store or channel (only ``wanted`` if set) of the
    orders in ``[first, last]`` (local days), counted here from the orders
    themselves (``orders``, or all the brand's)."""
    members: dict[str, set[int]] = {}
    for o in orders if orders is not None else await scope.query(Order).all():
        key = getattr(o, by) or ""
        day = local_day(o.occurred_at, scope.brand.timezone)
        if first <= day <= last and (wanted is None or key == wanted):
            members.setdefault(key, set()).add(o.member_id)
    return {k: len(v) for k, v in members.items()}


async def through_rollup(
    scope: BrandScope, params: ReportParams, by: str, series: bool = False
) -> list[dict[str, int]] | dict[str, int] | None:
    """The rollup's answer: the period's dict, or the list of the buckets'."""
    context = _context(scope, connections.get("default"), None, True)
    found = await context.store_channel_buyers(params, by, series=series)
    return found if series or found is None else found[0]


# Months' first days, and days after one (their first days read the
# member rows).
STARTS = [
    date(2025, 2, 1),
    date(2025, 3, 1),
    date(2025, 4, 1),
    date(2025, 2, 15),
    date(2025, 3, 31),
]


async def check_ranges(
    scope: BrandScope, length: int, granularity: str, filters: dict[str, str]
) -> None:
    """The rollup's buyers by store and channel of ranges of ``length``
    days and of a few (within their month), and of their buckets, against
    the orders': from each of ``STARTS``, and from each order's day, the
    day after and its month's first day."""
    orders = await scope.query(Order).all()
    starts = set(STARTS)
    for o in orders:
        day = local_day(o.occurred_at, TZ)
        starts |= {day, day + timedelta(days=1), day.replace(day=1)}
    for first, last in [
        (a, a + timedelta(days=n)) for a in sorted(starts) for n in {length, length % 7}
    ]:
        params = ReportParams(start=first, end=last, granularity=granularity, **filters)
        cut = [(b.first, b.after - timedelta(days=1)) for b in buckets(params, TZ)]
        for by, wanted in (("store_code", params.store), ("channel", params.channel)):
            other = params.channel if by == "store_code" else params.store
            got = await through_rollup(scope, params, by)
            each = await through_rollup(scope, params, by, series=True)
            # A range inside one month reads its member rows.
            inside = first.day != 1 and (first.year, first.month) == (last.year, last.month)
            if other is not None or inside:
                assert got is None and each is None
                continue
            want = [
                await counted(scope, a, b, by, wanted, orders) for a, b in [(first, last), *cut]
            ]
            assert got == want[0], (first, by)
            # Weekly buckets do not start on a month's first day.
            monthly = first.day == 1 and granularity != "week"
            assert each == (want[1:] if monthly else None), (first, by)


@settings(settings.get_profile("database-examples"), max_examples=40)
@given(
    history=orders,
    later=st.lists(order, max_size=10),
    every=st.integers(1, 4),
    rebuilt=st.sets(st.integers(0, DAYS), max_size=20),
    month=st.sampled_from(STARTS),
    length=st.integers(0, 100),
    granularity=st.sampled_from(["day", "week", "month"]),
    filters=st.sampled_from(
        [{}, {"store": "S1"}, {"channel": "app"}, {"channel": "pos"}, {"store": "S2"}]
    ),
)
def test_store_channel_buyers_equal_the_orders(
    session_loop, tessera_db, history, later, every, rebuilt, month, length, granularity, filters
):
    async def check() -> None:
        brand = await report_brand(timezone=TZ)
        scope = BrandScope(brand)
        ids = await load(
            brand, [M(T0 - timedelta(days=30), card=i % 2 == 0) for i in range(4)], buys(history)
        )
        await build(scope)
        await late(scope, ids, buys(later))
        await refund_some(scope, every)
        # Some dirty days rebuilt by the job, others not yet (a day rebuilt
        # while an earlier one is dirty stays dirty).
        for offset in sorted(rebuilt):
            await rebuild_day(scope, local_day(T0, TZ) + timedelta(days=offset))
        await check_ranges(scope, length, granularity, filters)
        first, last = month, month + timedelta(days=length)
        report = {
            "start": first.isoformat(),
            "end": last.isoformat(),
            "granularity": granularity,
            **filters,
        }
        raw = await run_report(scope, "reports.sales", report, use_cache=False, rollups=False)
        through = await run_report(scope, "reports.sales", report, use_cache=False)
        assert values(through.result) == values(raw.result)
        # And once every day is clean.
        await rollup_tick({}, brand.id)
        assert not await scope.query(DirtyDay).exists()
        await check_ranges(scope, length, granularity, filters)
        clean = await run_report(scope, "reports.sales", report, use_cache=False)
        assert values(clean.result) == values(raw.result)

    session_loop.run_until_complete(check())


async def test_a_purchase_before_the_clip_month_counts_as_before_the_range(tessera_db):
    brand = await report_brand(timezone=TZ)
    scope = BrandScope(brand)
    await load(
        brand,
        [M(utc(2022, 1, 1))],
        [
            Buy(0, utc(2023, 1, 10, 4), 100, store="S1", channel="app"),
            Buy(0, utc(2025, 3, 5, 4), 100, store="S1", channel="pos"),
            Buy(0, utc(2025, 3, 20, 4), 100, store="S1", channel="app"),
        ],
    )
    await build(scope)
    rows = await scope.query(BuyerDimDay).filter(day=date(2025, 3, 5), dim=1)
    assert clip_month(date(2025, 3, 5)) == date(2023, 2, 1)
    assert [(r.dim_key, r.prev_month, r.buyers) for r in rows] == [("S1", date(2023, 2, 1), 1)]
    rows = await scope.query(BuyerDimDay).filter(day=date(2025, 3, 20), dim=2)
    assert [(r.dim_key, r.prev_month, r.buyers) for r in rows] == [("app", date(2023, 2, 1), 1)]
    # 731 days, the sales overview's longest: the member bought there
    # before it, so once, at S1 and in each channel.
    longest = ReportParams(start=date(2023, 4, 1), end=date(2025, 3, 31))
    assert await through_rollup(scope, longest, "store_code") == {"S1": 1}
    assert await through_rollup(scope, longest, "channel") == {"app": 1, "pos": 1}
    report = {"start": "2023-04-01", "end": "2025-03-31", "granularity": "month"}
    raw = await run_report(scope, "reports.sales", report, use_cache=False, rollups=False)
    through = await run_report(scope, "reports.sales", report, use_cache=False)
    assert values(through.result) == values(raw.result)
    # A range starting on or before the end's clip month is not told apart.
    longer = ReportParams(start=date(2023, 2, 1), end=date(2025, 3, 31))
    assert await through_rollup(scope, longer, "store_code") is None


async def test_other_filters_and_weekly_series_read_the_member_rows(tessera_db):
    brand = await report_brand()
    scope = BrandScope(brand)
    await load(brand, [M(utc(2025, 1, 1))], [Buy(0, utc(2025, 3, 5), 100, store="S1")])
    await build(scope)

    async def answers(**given: object) -> bool:
        params = ReportParams(**{"start": date(2025, 3, 1), "end": date(2025, 3, 20), **given})
        return await through_rollup(scope, params, "store_code") is not None

    assert await answers()
    assert await answers(store="S1")
    assert await answers(start=date(2025, 2, 2))
    # Inside one month: no more than its member rows.
    assert not await answers(start=date(2025, 3, 2))
    assert not await answers(channel="app")
    assert not await answers(buyer="member")
    assert not await answers(tier="gold")
    context = _context(scope, connections.get("default"), None, True)
    weekly = ReportParams(start=date(2025, 3, 1), end=date(2025, 3, 20), granularity="week")
    assert await context.store_channel_buyers(weekly, "store_code") is not None
    assert await context.store_channel_buyers(weekly, "store_code", series=True) is None


async def test_a_buyer_of_the_first_days_and_of_a_dirty_day_after_counts_once(tessera_db):
    """From the 15th: a member who bought at S1 on the 20th and again on a
    still dirty day of the next month is one buyer at S1; one who bought at
    S2 on the 20th and at S1 and S2 on dirty days after is one at each; one
    who bought at S1 on the 21st only is one there."""
    brand = await report_brand(timezone=TZ)
    scope = BrandScope(brand)
    ids = await load(
        brand,
        [M(utc(2025, 1, 1)) for _ in range(3)],
        [
            Buy(0, utc(2025, 2, 20, 5), 100, store="S1"),
            Buy(1, utc(2025, 2, 20, 5), 100, store="S2"),
            Buy(2, utc(2025, 2, 21, 5), 100, store="S1"),
        ],
    )
    await build(scope)
    await late(
        scope,
        ids,
        [
            Buy(0, utc(2025, 3, 5, 5), 100, store="S1"),
            Buy(1, utc(2025, 3, 5, 5), 100, store="S1"),
            Buy(1, utc(2025, 3, 6, 5), 100, store="S2"),
        ],
    )
    assert await scope.query(DirtyDay).filter(day__gte=date(2025, 3, 1)).exists()
    params = ReportParams(start=date(2025, 2, 15), end=date(2025, 3, 20))
    want = {"S1": 3, "S2": 1}
    assert await counted(scope, params.start, params.end, "store_code", None) == want
    assert await through_rollup(scope, params, "store_code") == want
    await rollup_tick({}, brand.id)
    assert await through_rollup(scope, params, "store_code") == want
