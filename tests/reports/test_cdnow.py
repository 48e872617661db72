"""The reports on a real purchase history equal an independent pandas
computation from the raw rows.

CDNOW_master.txt (Fader & Hardie's CDNOW sample, shipped by the `lifetimes`
package): 23,570 customers who first bought in the first quarter of 1997,
and all their purchases until June 1998 — 69,659 rows of customer id, day,
CDs bought and dollars paid. Each row becomes an order at noon UTC of its
day; each customer a member who joined at their first purchase."""

from __future__ import annotations

import importlib.metadata
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pandas as pd
import pytest
from reports_data import Buy, M, load, report_brand

from tessera.reports.service import run_report
from tessera.scope import BrandScope


def raw() -> pd.DataFrame:
    path = importlib.metadata.distribution("lifetimes").locate_file(
        "lifetimes/datasets/CDNOW_master.txt"
    )
    frame = pd.read_csv(
        str(path), sep=r"\s+", header=0, names=["customer", "day", "cds", "dollars"]
    )
    frame["at"] = pd.to_datetime(frame["day"].astype(str), format="%Y%m%d", utc=True) + timedelta(
        hours=12
    )
    frame["cents"] = (frame["dollars"] * 100).round().astype("int64")
    return frame


@pytest.fixture
async def cdnow(tessera_db):
    frame = raw()
    assert (frame["customer"].nunique(), len(frame)) == (23_570, 69_659)
    brand = await report_brand()
    customers = sorted(frame["customer"].unique())
    index = {c: i for i, c in enumerate(customers)}
    first = frame.groupby("customer")["at"].min()
    members = [M(first[c].to_pydatetime()) for c in customers]
    orders = [
        Buy(index[c], at.to_pydatetime(), int(cents), units=int(cds))
        for c, at, cents, cds in zip(
            frame["customer"], frame["at"], frame["cents"], frame["cds"], strict=True
        )
    ]
    await load(brand, members, orders)
    return BrandScope(brand), frame


def _in(frame: pd.DataFrame, start: str, end_inclusive: str) -> pd.DataFrame:
    low = pd.Timestamp(start, tz="UTC")
    high = pd.Timestamp(end_inclusive, tz="UTC") + pd.Timedelta(days=1)
    return frame[(frame["at"] >= low) & (frame["at"] < high)]


async def test_sales_retention_and_growth_equal_pandas(cdnow):
    scope, frame = cdnow

    # Sales overview for 1997 by month, compared with nothing.
    run = await run_report(
        scope, "reports.sales", {"start": "1997-01-01", "end": "1997-12-31", "granularity": "month"}
    )
    year = _in(frame, "1997-01-01", "1997-12-31")
    f = {x.key: x.value for x in run.result.figures}
    assert f["sales"] == int(year["cents"].sum())
    assert f["orders"] == len(year)
    assert f["buyers"] == year["customer"].nunique()
    assert f["units"] == int(year["cds"].sum())
    assert f["aspu"] == Fraction(int(year["cents"].sum()), int(year["cds"].sum()))
    monthly = year.groupby(year["at"].dt.month)["cents"].sum()
    sales_series = next(s for s in run.result.series if s.key == "sales")
    assert list(sales_series.values) == [int(monthly.get(m, 0)) for m in range(1, 13)]
    buyers_series = next(s for s in run.result.series if s.key == "buyers")
    assert list(buyers_series.values) == [
        int(year[year["at"].dt.month == m]["customer"].nunique()) for m in range(1, 13)
    ]

    # Repurchase of old customers in the first half of 1998, time between orders.
    half = {"start": "1998-01-01", "end": "1998-06-30"}
    retention = (await run_report(scope, "reports.retention", half)).result
    r = {x.key: x.value for x in retention.figures}
    before = set(frame[frame["at"] < pd.Timestamp("1998-01-01", tz="UTC")]["customer"])
    during = set(_in(frame, "1998-01-01", "1998-06-30")["customer"])
    assert r["old_customers"] == len(before)
    assert r["repurchasers"] == len(before & during)
    assert r["repurchase_rate"] == Fraction(len(before & during), len(before))
    ordered = frame.sort_values(["customer", "at"], kind="stable")
    gaps = ordered.groupby("customer")["at"].diff().dt.days
    in_half = (ordered["at"] >= pd.Timestamp("1998-01-01", tz="UTC")) & gaps.notna()
    assert r["days_between_orders"] == Fraction(int(gaps[in_half].sum()), int(in_half.sum()))

    # Cohorts by month of first purchase over the whole history.
    whole = (
        await run_report(scope, "reports.retention", {"start": "1997-01-01", "end": "1998-06-30"})
    ).result
    cohorts = next(t for t in whole.tables if t.key == "cohorts")
    first = frame.groupby("customer")["at"].transform("min")
    since = (frame["at"].dt.year - first.dt.year) * 12 + frame["at"].dt.month - first.dt.month
    expected = (
        frame.assign(cohort=first.dt.strftime("%Y-%m"), since=since)
        .groupby(["cohort", "since"])["customer"]
        .nunique()
    )
    got = {
        (row[0], k): value
        for row in cohorts.rows
        for k, value in enumerate(row[1:])
        if value is not None
    }
    assert {key: value for key, value in got.items() if value} == {
        key: int(value) for key, value in expected.items()
    }
    assert [row[0] for row in cohorts.rows] == ["1997-01", "1997-02", "1997-03"]

    # Member growth: every customer joined at their first purchase, in Q1 1997.
    growth = (
        await run_report(
            scope,
            "reports.member_growth",
            {"start": "1997-01-01", "end": "1997-03-31", "granularity": "month"},
        )
    ).result
    g = {x.key: x.value for x in growth.figures}
    assert g["new_members"] == 23_570 and g["conversion"] == 1
    joined = frame.groupby("customer")["at"].min().dt.month.value_counts().sort_index()
    new_series = next(s for s in growth.series if s.key == "new_members")
    assert list(new_series.values) == [int(joined[m]) for m in (1, 2, 3)]


def test_the_dataset_is_the_documented_one():
    frame = raw()
    assert frame["at"].min() == datetime(1997, 1, 1, 12, tzinfo=UTC)
    assert frame["at"].max() == datetime(1998, 6, 30, 12, tzinfo=UTC)
