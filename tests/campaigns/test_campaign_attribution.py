"""Attribution figures, exact on a hand-built campaign: windows from each
member's send (the batch's for the holdout), refunds netted, other brands'
facts never counted; and properties on generated campaigns."""

from __future__ import annotations

import math
from datetime import timedelta
from fractions import Fraction
from statistics import NormalDist

import pytest
from attribution_data import LAUNCH, Buy, R, campaign, members, orders, scenario, utc
from hypothesis import given, settings
from hypothesis import strategies as st

from tessera.campaigns.attribution import campaign_results, results_of, two_proportions
from tessera.errors import DomainError
from tessera.scope import BrandScope


async def test_the_worked_example(brand_a, brand_b):
    spring, ids = await scenario(brand_a)
    # Brand B: its own campaign, members with the same external ids and
    # orders in the same days; none of it may reach brand A's figures.
    ids_b = await members(brand_b, ["t1", "h1"])
    await campaign(
        brand_b,
        "spring",
        LAUNCH,
        [R("t1", sent_at=LAUNCH), R("h1", holdout=True)],
        ids=ids_b,
    )
    await orders(brand_b, [Buy("t1", utc(2025, 3, 1, 12), "999.00")], ids_b)

    r = await campaign_results(BrandScope(brand_a), spring.id)
    assert r.days == 7 and r.margin == 1
    assert (r.treated.members, r.treated.converters, r.treated.orders, r.treated.revenue) == (
        5,
        3,
        4,
        24000,
    )
    assert (r.holdout.members, r.holdout.converters, r.holdout.orders, r.holdout.revenue) == (
        4,
        2,
        2,
        6000,
    )
    assert (r.unreached.members, r.unreached.converters, r.unreached.revenue) == (1, 1, 3000)
    assert r.treated.conversion == Fraction(3, 5) and r.holdout.conversion == Fraction(1, 2)
    assert r.uplift.absolute == Fraction(1, 10) and r.uplift.relative == Fraction(1, 5)
    assert r.uplift.incremental_converters == Fraction(1, 2)
    assert r.uplift.incremental_revenue == 24000 - Fraction(6000, 4) * 5 == 16500
    assert r.messages_sent == 5 and r.cost == 25  # 5 × 0.05 CNY in fen
    assert r.profit == 16500 and r.roi == 660
    assert r.curve_treated == [Fraction(n, 5) for n in (1, 1, 1, 2, 2, 2, 3)]
    assert r.curve_holdout == [Fraction(n, 4) for n in (0, 1, 1, 1, 1, 1, 2)]

    # The textbook two-proportion test, computed independently.
    pooled = Fraction(5, 9)
    z = 0.1 / math.sqrt(pooled * (1 - pooled) * (Fraction(1, 5) + Fraction(1, 4)))
    assert r.uplift.z == pytest.approx(z) and r.uplift.z == pytest.approx(0.3)
    assert r.uplift.p_value == pytest.approx(2 * (1 - NormalDist().cdf(z)))
    half = NormalDist().inv_cdf(0.975) * math.sqrt(0.6 * 0.4 / 5 + 0.5 * 0.5 / 4)
    assert (r.uplift.ci_low, r.uplift.ci_high) == (
        pytest.approx(0.1 - half),
        pytest.approx(0.1 + half),
    )
    assert r.uplift.significant is False

    one_day = await campaign_results(BrandScope(brand_a), spring.id, days=1, margin=Fraction(2, 5))
    assert (one_day.treated.converters, one_day.treated.revenue) == (1, 10000)
    assert (one_day.holdout.converters, one_day.holdout.revenue) == (0, 0)
    assert one_day.uplift.relative is None  # nothing to be relative to
    assert one_day.uplift.incremental_revenue == 10000
    assert one_day.profit == 4000 and one_day.roi == 160

    # Brand A's campaign is not brand B's to read, by any id.
    with pytest.raises(DomainError) as missing:
        await campaign_results(BrandScope(brand_b), spring.id)
    assert missing.value.code == "NOT_FOUND"
    [b] = await results_of(BrandScope(brand_b), [], days=None) or [None]
    assert b is None


async def test_without_a_holdout_or_a_launch(brand_a):
    ids = await members(brand_a, ["a", "b"])
    everyone = await campaign(
        brand_a, "all", LAUNCH, [R("a", sent_at=LAUNCH), R("b", sent_at=LAUNCH)], ids=ids
    )
    await orders(brand_a, [Buy("a", utc(2025, 3, 2), "10.00")], ids)
    r = await campaign_results(BrandScope(brand_a), everyone.id)
    assert r.treated.conversion == Fraction(1, 2) and r.holdout.members == 0
    assert r.uplift.absolute is None and r.profit is None and r.roi is None
    assert r.cost == 10 and r.curve_holdout == [None] * 7
    draft = await campaign(brand_a, "draft", None, [R("a", batch=0)], ids=ids)
    empty = await campaign_results(BrandScope(brand_a), draft.id)
    assert (empty.unreached.members, empty.unreached.converters, empty.messages_sent) == (1, 0, 0)
    with pytest.raises(DomainError) as bad:
        await campaign_results(BrandScope(brand_a), draft.id, days=0)
    assert bad.value.code == "OUT_OF_RANGE" and bad.value.field == ["days"]


def test_two_proportions_when_nothing_differs():
    assert two_proportions(0, 10, 0, 10) == (0.0, 1.0, 0.0, 0.0)


# Properties on generated campaigns: few members, orders spread around the
# window, so one example costs a handful of inserts.
member_spec = st.tuples(
    st.booleans(),  # holdout
    st.integers(0, 2),  # batch
    st.booleans(),  # sent (when not in the holdout)
    st.lists(st.tuples(st.integers(-30, 200), st.integers(1, 500)), max_size=3),  # orders
)


@settings(max_examples=12)
@given(specs=st.lists(member_spec, min_size=1, max_size=8), days=st.integers(1, 9))
async def test_properties(brand_a, specs, days):
    from tessera.campaigns.models import Campaign

    scope = BrandScope(brand_a)
    names = [f"p{await scope.query(Campaign).count()}-{i}" for i in range(len(specs))]
    ids = await members(brand_a, names)
    recipients = [
        R(
            n,
            holdout=holdout,
            batch=batch,
            sent_at=None if holdout or not sent else LAUNCH + timedelta(hours=5 * batch),
        )
        for n, (holdout, batch, sent, _) in zip(names, specs, strict=True)
    ]
    stored = await campaign(brand_a, names[0], LAUNCH, recipients, ids=ids, days=days)
    buys = [
        Buy(n, LAUNCH + timedelta(hours=hours, minutes=7), f"{cents // 100}.{cents % 100:02d}")
        for n, (_, _, _, bought) in zip(names, specs, strict=True)
        for hours, cents in bought
    ]
    await orders(brand_a, buys, ids)
    r = await campaign_results(scope, stored.id)
    assert sum(g.members for g in r.groups) == len(specs)
    for group, curve in ((r.treated, r.curve_treated), (r.holdout, r.curve_holdout)):
        assert 0 <= group.converters <= group.members
        assert group.converters <= group.orders
        assert len(curve) == days
        if group.members:
            values = [c for c in curve if c is not None]
            assert values == sorted(values) and values[-1] == group.conversion
        else:
            assert curve == [None] * days
    if r.treated.members and r.holdout.members:
        assert r.uplift.absolute == r.treated.conversion - r.holdout.conversion
        low, high = r.uplift.ci_low, r.uplift.ci_high
        assert low is not None and high is not None and low <= float(r.uplift.absolute) <= high
    assert r.messages_sent == r.treated.members
