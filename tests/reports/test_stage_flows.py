"""Lifecycle stage flows: each member's stage at the period's start and at
its end, computed in SQL from the orders placed until then, cross-tabulated;
equal to the same definition computed in Python on generated histories
(hypothesis), and the end stages equal what the lifecycle job stores when
run as of the period's last day."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from reports_data import Buy, M, load, report_brand, utc

from tessera.reports.api import local_midnight
from tessera.reports.service import run_report
from tessera.scope import BrandScope
from tessera.segments.lifecycle import recompute_brand
from tessera.segments.models import MemberLifecycle

TZ = "Asia/Shanghai"
T0 = utc(2024, 1, 1)

members = st.lists(
    st.tuples(st.integers(0, 700), st.booleans()),  # joined, days after T0; holds a card
    min_size=1,
    max_size=8,
)
orders = st.lists(
    st.tuples(st.integers(0, 7), st.integers(0, 700 * 24)),  # member, hours after T0
    max_size=25,
)


def stage_at(joined: datetime, times: list[datetime], day: date, before: datetime) -> str:
    """docs/segments.md's stage with the default settings, as of ``day``'s end
    (``before`` its next local midnight)."""
    if joined >= before:
        return "none"
    placed = [t for t in times if t < before]
    last = max(placed, default=joined)

    def since(days: int) -> datetime:
        return local_midnight(day - timedelta(days=days), TZ)

    if last >= since(90):
        return "new" if len(placed) <= 1 else "active"
    for days, name in ((180, "silent"), (270, "sleeping"), (365, "about_to_churn")):
        if last >= since(days):
            return name
    return "churned"


def expected(people, buys, first: date, last: date, only_cards: bool) -> Counter:
    start = local_midnight(first, TZ)
    end = local_midnight(last + timedelta(days=1), TZ)
    flows: Counter = Counter()
    for i, person in enumerate(people):
        if person.joined_at >= end or (only_cards and not person.card):
            continue
        times = [b.at for b in buys if b.member == i]
        a = stage_at(person.joined_at, times, first - timedelta(days=1), start)
        b = stage_at(person.joined_at, times, last, end)
        flows[(a, b)] += 1
    return flows


@settings(settings.get_profile("database-examples"), max_examples=20)
@given(
    people=members,
    history=orders,
    first=st.integers(100, 500),
    span=st.integers(0, 200),
    only_cards=st.booleans(),
)
def test_flows_equal_a_python_computation(
    session_loop, tessera_db, people, history, first, span, only_cards
):
    async def check() -> None:
        brand = await report_brand(timezone=TZ)
        roster = [M(T0 + timedelta(days=d, hours=5), card=card) for d, card in people]
        buys = [
            Buy(m % len(roster), T0 + timedelta(hours=h), 100)
            for m, h in history
            if T0 + timedelta(hours=h) >= roster[m % len(roster)].joined_at
        ]
        await load(brand, roster, buys)
        start = date(2024, 1, 1) + timedelta(days=first)
        end = start + timedelta(days=span)
        params = {"start": start.isoformat(), "end": end.isoformat()}
        if only_cards:
            params["buyer"] = "member"
        run = await run_report(BrandScope(brand), "reports.lifecycle", params, use_cache=False)
        [table] = [t for t in run.result.tables if t.key == "flows"]
        got = Counter({(a, b): n for a, b, n in table.rows})
        assert got == expected(roster, buys, start, end, only_cards)

    session_loop.run_until_complete(check())


async def test_end_stages_are_the_stored_stages_as_of_that_day(tessera_db):
    brand = await report_brand(timezone=TZ)
    roster = [M(T0), M(T0 + timedelta(days=200)), M(T0 + timedelta(days=10), card=False)]
    buys = [
        Buy(0, T0 + timedelta(days=1), 100),
        Buy(0, T0 + timedelta(days=300), 100),
        Buy(0, T0 + timedelta(days=301), 100),
        Buy(2, T0 + timedelta(days=20), 100),
    ]
    await load(brand, roster, buys)
    scope = BrandScope(brand)
    end = date(2024, 12, 31)
    await recompute_brand(scope, as_of=end)
    stored = Counter(await scope.query(MemberLifecycle).values_list("stage", flat=True))
    params = {"start": "2024-07-01", "end": end.isoformat()}
    run = await run_report(scope, "reports.lifecycle", params, use_cache=False)
    [table] = [t for t in run.result.tables if t.key == "flows"]
    ends: Counter = Counter()
    for _, to, n in table.rows:
        ends[to] += n
    assert ends == stored
    # 0: last order 2 January, silent by 30 June; three orders by late October:
    # active. 1: joined in July without an order: silent (joining counts as the
    # last activity). 2: one order in January: silent, then about to churn.
    assert sorted(table.rows) == [
        ["none", "silent", 1],
        ["silent", "about_to_churn", 1],
        ["silent", "active", 1],
    ]
