"""The seeds' identities hold exactly on generated histories (hypothesis):
sales = spend per buyer × buyers, ASPT = ASPU × UPT, discount depth with and
without retail prices, and a comparison figure is what the same report says
over the comparison period. Also: no report of one brand sees another's facts."""

from __future__ import annotations

import itertools
from datetime import timedelta
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st
from reports_data import ALL_REPORTS, Buy, M, load, report_brand, utc

from tessera.reports.service import run_report
from tessera.scope import BrandScope

T0 = utc(2025, 1, 1)

orders = st.lists(
    st.tuples(
        st.integers(0, 5),  # member
        st.integers(0, 400),  # day after T0
        st.integers(1, 100_000),  # paid
        st.integers(1, 6),  # units
        st.one_of(st.none(), st.integers(0, 50_000)),  # retail above paid, or no retail price
        st.integers(0, 100),  # refunded share, percent
        st.sampled_from([None, "S1", "S2"]),
    ),
    max_size=25,
)


examples = itertools.count()


def figures(result):
    return {f.key: f for f in result.figures}


@settings(settings.get_profile("database-examples"), max_examples=25)
@given(history=orders, comparison=st.sampled_from(["yoy", "mom", "previous_period"]))
def test_identities_hold_exactly(session_loop, tessera_db, history, comparison):
    async def check() -> None:
        brand = await report_brand()
        rows = [
            Buy(
                member,
                T0 + timedelta(days=day, hours=3),
                paid,
                units=units,
                retail=None if extra is None else paid + extra,
                refunded=paid * refund // 100,
                refunded_units=units * refund // 100,
                store=store,
            )
            for member, day, paid, units, extra, refund, store in history
        ]
        await load(brand, [M(T0 - timedelta(days=30), card=i % 2 == 0) for i in range(6)], rows)
        scope = BrandScope(brand)
        params = {"start": "2026-01-01", "end": "2026-02-04", "comparison": comparison}
        run = await run_report(scope, "reports.sales", params)
        f = figures(run.result)
        value = {k: v.value for k, v in f.items()}
        if value["buyers"]:
            assert value["spend_per_buyer"] * value["buyers"] == value["sales"]
        else:
            assert value["sales"] == 0 and value["spend_per_buyer"] is None
        if value["units"] and value["orders"]:
            assert value["aspu"] * value["upt"] == value["aspt"]
            assert value["aspt"] * value["orders"] == value["sales"]

        inside = [o for o in rows if utc(2026, 1, 1) <= o.at < utc(2026, 2, 5)]
        paid = sum(o.paid for o in inside)
        retail = sum(o.paid if o.retail is None else o.retail for o in inside)
        if inside:
            assert value["discount_depth"] == 1 - Fraction(paid, retail)
            if all(o.retail is None for o in inside):
                assert value["discount_depth"] == 0
        else:
            assert value["discount_depth"] is None

        earlier = run.params.shifted(run.params.comparison)
        assert earlier is not None
        direct = await run_report(
            scope,
            "reports.sales",
            {"start": earlier.start.isoformat(), "end": earlier.end.isoformat()},
        )
        for key, figure in f.items():
            assert figure.previous == figures(direct.result)[key].value, key
        for series, alone in zip(run.result.series, direct.result.series, strict=True):
            assert list(series.previous) == list(alone.values)

        # The series add up to the figures.
        by_key = {s.key: s for s in run.result.series}
        assert sum(by_key["sales"].values) == value["sales"]
        assert sum(by_key["orders"].values) == value["orders"]

    session_loop.run_until_complete(check())


async def test_no_report_sees_another_brands_facts(tessera_db):
    mine, other = await report_brand(), await report_brand()
    await load(mine, [M(utc(2025, 1, 5))], [Buy(0, utc(2025, 3, 5), 100)])
    await load(
        other,
        [M(utc(2025, 1, 5), join_channel="x") for _ in range(3)],
        [Buy(i % 3, utc(2025, 2, 5 + i), 7777, store="S9", channel="app") for i in range(9)],
    )
    params = {"start": "2025-01-01", "end": "2025-12-31", "granularity": "month"}
    for key in ALL_REPORTS:
        result = (await run_report(BrandScope(mine), key, params)).result
        text = repr(result)
        assert "7777" not in text and "S9" not in text, key
    sales = figures((await run_report(BrandScope(mine), "reports.sales", params)).result)
    assert sales["sales"].value == 100
    growth = figures((await run_report(BrandScope(mine), "reports.member_growth", params)).result)
    assert growth["new_members"].value == 1 and growth["members"].value == 1
