"""RFM scores and lifecycle stages, as the brand's clock advances."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tessera.errors import DomainErrors
from tessera.scope import BrandScope
from tessera.segments import lifecycle
from tessera.segments.models import MemberLifecycle

# 10:00 in Shanghai (brand A's timezone).
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


async def stage_of(member_id: int) -> str:
    return (await MemberLifecycle.get(member_id=member_id)).stage


async def test_a_member_moves_through_the_stages_as_days_pass(
    brand_a, make_member, buy, drain_outbox
):
    scope = BrandScope(brand_a)
    member = await make_member(brand_a)
    start = datetime.now(UTC)
    await buy(brand_a, member, at=start)
    await drain_outbox()

    # Every order's follow-up work recomputes its member (at the real time).
    row = await MemberLifecycle.get(member_id=member.id)
    assert (row.stage, row.recency_score) == ("new", 5)

    expected = [
        (0, "new"),
        (90, "new"),
        (91, "silent"),
        (180, "silent"),
        (181, "sleeping"),
        (271, "about_to_churn"),
        (366, "churned"),
    ]
    for days, stage in expected:
        await lifecycle.recompute_brand(scope, start + timedelta(days=days))
        assert await stage_of(member.id) == stage, f"after {days} days"

    # A second order makes a returning member active again, not new.
    await buy(brand_a, member, at=start + timedelta(days=400))
    await lifecycle.recompute_brand(scope, start + timedelta(days=400))
    assert await stage_of(member.id) == "active"


async def test_a_member_who_never_ordered_ages_from_joining(brand_a, make_member):
    scope = BrandScope(brand_a)
    member = await make_member(brand_a)
    joined = member.joined_at
    await lifecycle.recompute_brand(scope, joined + timedelta(days=1))
    assert await stage_of(member.id) == "new"
    await lifecycle.recompute_brand(scope, joined + timedelta(days=200))
    assert await stage_of(member.id) == "sleeping"


async def test_stage_boundaries_follow_the_brands_own_settings(brand_a, make_member, buy):
    scope = BrandScope(brand_a)
    member = await make_member(brand_a)
    await buy(brand_a, member, at=T0)
    await lifecycle.update_settings(
        scope,
        {"active_days": 30, "silent_days": 60, "sleeping_days": 90, "about_to_churn_days": 120},
    )
    await lifecycle.recompute_brand(scope, T0 + timedelta(days=45))
    assert await stage_of(member.id) == "silent"
    await lifecycle.recompute_brand(scope, T0 + timedelta(days=121))
    assert await stage_of(member.id) == "churned"


async def test_bad_settings_are_refused_field_by_field(brand_a):
    scope = BrandScope(brand_a)
    with pytest.raises(DomainErrors) as caught:
        await lifecycle.update_settings(
            scope, {"silent_days": 10, "score_method": "fixed", "monetary_cutoffs": [5, 1, 2, 3]}
        )
    fields = {tuple(e.field) for e in caught.value.errors}
    assert ("silentDays",) in fields
    assert ("monetaryCutoffs",) in fields
    assert ("recencyCutoffs",) in fields  # fixed needs all three
    assert (await lifecycle.settings_of(scope)).silent_days == 180


async def test_rfm_scores_rank_members_by_the_brands_own_quintiles(brand_a, make_member, buy):
    scope = BrandScope(brand_a)
    members = [await make_member(brand_a) for _ in range(5)]
    # Member i orders i + 1 times, each for (i + 1) * 100, the last i * 10 days ago.
    for i, member in enumerate(members):
        for n in range(i + 1):
            await buy(brand_a, member, f"{(i + 1) * 100}.00", at=T0 - timedelta(days=i * 10 + n))
    await lifecycle.recompute_brand(scope, T0)

    rows = {r.member_id: r for r in await MemberLifecycle.filter(brand_id=brand_a.id)}
    scores = [
        (rows[m.id].recency_score, rows[m.id].frequency_score, rows[m.id].monetary_score)
        for m in members
    ]
    assert scores == [(5, 1, 1), (4, 2, 2), (3, 3, 3), (2, 4, 4), (1, 5, 5)]
    assert await lifecycle.settings_of(scope) is not None


async def test_fixed_thresholds_score_without_quintiles(brand_a, make_member, buy):
    scope = BrandScope(brand_a)
    member = await make_member(brand_a)
    silent = await make_member(brand_a)
    await buy(brand_a, member, "250.00", at=T0 - timedelta(days=3))
    await lifecycle.update_settings(
        scope,
        {
            "score_method": "fixed",
            "recency_cutoffs": [7, 30, 90, 180],
            "frequency_cutoffs": [1, 2, 5, 10],
            "monetary_cutoffs": [10000, 20000, 50000, 100000],
        },
    )
    await lifecycle.recompute_brand(scope, T0)
    row = await MemberLifecycle.get(member_id=member.id)
    assert (row.recency_score, row.frequency_score, row.monetary_score) == (5, 1, 3)
    none = await MemberLifecycle.get(member_id=silent.id)
    assert none.recency_score is None and none.monetary_score is None
