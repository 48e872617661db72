"""The sales overview on a small known history: each figure by hand, the
brand's calendar, filters, comparisons and the cache's invalidation."""

from __future__ import annotations

from fractions import Fraction

import pytest
from reports_data import Buy, M, load, report_brand, utc

from tessera.errors import DomainError
from tessera.reports.service import run_report
from tessera.scope import BrandScope


async def sales(brand, **params):
    params.setdefault("start", "2025-03-01")
    params.setdefault("end", "2025-03-31")
    run = await run_report(BrandScope(brand), "reports.sales", params)
    return run.result


async def test_each_figure_by_hand(tessera_db):
    brand = await report_brand()
    await load(
        brand,
        [M(utc(2024, 1, 1)), M(utc(2024, 1, 1)), M(utc(2024, 1, 1), card=False)],
        [
            Buy(0, utc(2025, 3, 1, 10), 8000, units=2, retail=10000, store="S1", channel="pos"),
            Buy(0, utc(2025, 3, 5, 10), 3000, units=1, store="S2", channel="app"),
            Buy(
                1,
                utc(2025, 3, 9, 10),
                6000,
                units=3,
                retail=6000,
                refunded=1000,
                refunded_units=1,
                store="S1",
                channel="pos",
            ),
            Buy(2, utc(2025, 3, 31, 23, 59), 1000, units=1, channel="app"),
            Buy(2, utc(2025, 4, 1), 99999, units=9),  # after the period
        ],
    )
    result = await sales(brand)
    f = {fig.key: fig.value for fig in result.figures}
    assert f["sales"] == 8000 + 3000 + 5000 + 1000
    assert f["orders"] == 4
    assert f["buyers"] == 3
    assert f["units"] == 2 + 1 + 2 + 1
    assert f["spend_per_buyer"] == Fraction(17000, 3)
    assert f["aspt"] == Fraction(17000, 4)
    assert f["aspu"] == Fraction(17000, 6)
    assert f["upt"] == Fraction(6, 4)
    assert f["discount_depth"] == 1 - Fraction(
        8000 + 3000 + 6000 + 1000, 10000 + 3000 + 6000 + 1000
    )
    assert f["member_share"] == Fraction(16000, 17000)
    by_store = {
        row[0]: row[1:4] for row in next(t for t in result.tables if t.key == "by_store").rows
    }
    assert by_store == {"": [1000, 1, 1], "S1": [13000, 2, 2], "S2": [3000, 1, 1]}
    series = {s.key: s for s in result.series}
    assert len(series["sales"].values) == 31
    assert series["sales"].values[0] == 8000 and series["sales"].values[30] == 1000

    members_only = {fig.key: fig.value for fig in (await sales(brand, buyer="member")).figures}
    assert members_only["sales"] == 16000 and members_only["member_share"] == 1
    pos = {fig.key: fig.value for fig in (await sales(brand, store="S1")).figures}
    assert pos["orders"] == 2 and pos["sales"] == 13000


async def test_days_are_the_brands_local_days(tessera_db):
    brand = await report_brand("Asia/Shanghai")
    await load(
        brand,
        [M(utc(2024, 1, 1))],
        # 1 March 00:30 in Shanghai is still February in UTC; 31 March 16:30 UTC is April there.
        [Buy(0, utc(2025, 2, 28, 16, 30), 100), Buy(0, utc(2025, 3, 31, 16, 30), 200)],
    )
    result = await sales(brand)
    assert result.figure("sales").value == 100
    assert result.figure("orders").value == 1


async def test_comparisons_run_the_same_code_over_the_earlier_period(tessera_db):
    brand = await report_brand()
    await load(
        brand,
        [M(utc(2023, 1, 1))],
        [
            Buy(0, utc(2024, 3, 10), 500),  # a year before
            Buy(0, utc(2025, 2, 10), 300),  # a month before
            Buy(0, utc(2025, 1, 20), 700),  # the 31 days before March
            Buy(0, utc(2025, 3, 10), 1000),
        ],
    )
    yoy = (await sales(brand, comparison="yoy")).figure("sales")
    assert (yoy.value, yoy.previous, yoy.change) == (1000, 500, Fraction(1))
    mom = (await sales(brand, comparison="mom")).figure("sales")
    assert (mom.previous, mom.change) == (300, Fraction(7, 3))
    prev = (await sales(brand, comparison="previous_period")).figure("sales")
    # 31 days before 1 March: from 29 January.
    assert prev.previous == 300
    feb = (await sales(brand, start="2025-02-01", end="2025-02-28", comparison="mom")).figure(
        "sales"
    )
    assert (feb.value, feb.previous) == (300, 700)


async def test_a_new_order_invalidates_the_cached_result(tessera_db):
    brand = await report_brand()
    await load(brand, [M(utc(2024, 1, 1))], [Buy(0, utc(2025, 3, 2), 100)])
    scope = BrandScope(brand)
    params = {"start": "2025-03-01", "end": "2025-03-31"}
    first = await run_report(scope, "reports.sales", params)
    again = await run_report(scope, "reports.sales", params)
    assert (first.cached, again.cached) == (False, True)
    await load(brand, [M(utc(2024, 1, 1))], [Buy(0, utc(2025, 3, 3), 50)])
    after = await run_report(scope, "reports.sales", params)
    assert not after.cached and after.result.figure("sales").value == 150


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        (
            {"start": "2025-03-01", "end": "2025-03-31", "colour": "red"},
            ["params", "colour"],
            "INVALID",
        ),
        ({"start": "2025-03-01"}, ["params", "end"], "REQUIRED"),
        ({"start": "2020-01-01", "end": "2025-03-31"}, ["params", "end"], "OUT_OF_RANGE"),
        ({"start": "2025-03-31", "end": "2025-03-01"}, ["params", "end"], "INVALID"),
        (
            {"start": "2025-03-01", "end": "2025-03-31", "granularity": "hour"},
            ["params", "granularity"],
            "INVALID",
        ),
        (
            {"start": "2025-03-01", "end": "2025-03-31", "segment": "gone"},
            ["params", "segment"],
            "NOT_FOUND",
        ),
        (
            {"start": "2025-03-01", "end": "2025-03-31", "tier": "nope"},
            ["params", "tier"],
            "UNKNOWN_TIER",
        ),
    ],
)
async def test_bad_parameters_name_their_field(tessera_db, params, field, code):
    brand = await report_brand()
    with pytest.raises(DomainError) as caught:
        await run_report(BrandScope(brand), "reports.sales", params)
    errors = getattr(caught.value, "errors", [caught.value])
    assert [(e.field, e.code) for e in errors] == [(field, code)]


async def test_a_filter_the_report_does_not_take_is_refused(tessera_db):
    brand = await report_brand()
    with pytest.raises(DomainError) as caught:
        await run_report(
            BrandScope(brand),
            "reports.member_growth",
            {"start": "2025-03-01", "end": "2025-03-31", "store": "S1"},
        )
    assert caught.value.field == ["params", "store"]


async def test_a_report_not_enabled_is_not_found(tessera_db):
    from tessera.testing import make_brand

    brand = await make_brand("rep-off")
    with pytest.raises(DomainError) as caught:
        await run_report(
            BrandScope(brand), "reports.sales", {"start": "2025-03-01", "end": "2025-03-01"}
        )
    assert (caught.value.code, caught.value.field) == ("NOT_FOUND", ["type"])


async def test_a_segment_filter_reads_only_the_brands_own_segment(tessera_db):
    from tessera.segments import service as segments
    from tessera.segments.models import SegmentMembership
    from tessera.tags import service as tags

    mine, other = await report_brand(), await report_brand()
    ids = await load(
        mine,
        [M(utc(2024, 1, 1)), M(utc(2024, 1, 1))],
        [Buy(0, utc(2025, 3, 2), 100), Buy(1, utc(2025, 3, 2), 900)],
    )
    other_scope = BrandScope(other)
    await tags.create_tag(other_scope, "vip", "VIP")
    rule = {"type": "tags", "has": "any", "codes": ["vip"]}
    await segments.create_segment(other_scope, "Big", segments.SegmentKind.DYNAMIC, rule=rule)
    with pytest.raises(DomainError) as caught:
        await sales(mine, segment="Big")
    errors = getattr(caught.value, "errors", [caught.value])
    assert [(e.code, e.field) for e in errors] == [("NOT_FOUND", ["params", "segment"])]

    scope = BrandScope(mine)
    segment = await segments.create_segment(scope, "Big", segments.SegmentKind.STATIC)
    await scope.insert_many(
        SegmentMembership,
        [
            scope.build(
                SegmentMembership,
                segment_id=segment.id,
                member_id=ids[1],
                entered_at=utc(2025, 1, 1),
            )
        ],
    )
    result = await sales(mine, segment="Big")
    assert result.figure("sales").value == 900
