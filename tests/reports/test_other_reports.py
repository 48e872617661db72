"""Member growth, tiers and loyalty liability on small known histories, and a
target suggested from the same period last year."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

from reports_data import Buy, M, load, report_brand, utc

from tessera.assets.models import PointsLot
from tessera.assets.service import earn_points, redeem_points, top_up_stored_value
from tessera.reports.service import run_report, set_target, suggest_target
from tessera.scope import BrandScope
from tessera.tiers.definitions import create_tier
from tessera.tiers.models import MemberTierState, TierHistory


def figures(run):
    return {f.key: f.value for f in run.result.figures}


async def test_member_growth_by_channel_and_source(tessera_db):
    brand = await report_brand()
    await load(
        brand,
        [
            M(utc(2024, 12, 30)),  # before the period
            M(utc(2025, 3, 1), join_channel="app", join_source="ad"),
            M(utc(2025, 3, 2), join_channel="app", join_source="ad"),
            M(utc(2025, 3, 20), join_channel="store", join_source="S1"),
            M(utc(2025, 3, 21), card=False, join_channel="store", join_source="S1"),
        ],
        [Buy(1, utc(2025, 3, 3), 100), Buy(3, utc(2025, 4, 2), 100)],  # the second: too late
    )
    run = await run_report(
        BrandScope(brand),
        "reports.member_growth",
        {"start": "2025-03-01", "end": "2025-03-31", "granularity": "week"},
    )
    f = figures(run)
    assert (f["new_members"], f["members"], f["converted"]) == (4, 5, 1)
    assert f["conversion"] == Fraction(1, 4)
    table = run.result.tables[0]
    assert [row[:4] for row in table.rows] == [["app", "ad", 2, 1], ["store", "S1", 2, 0]]
    cumulative = next(s for s in run.result.series if s.key == "members")
    assert cumulative.values[0] == 3 and cumulative.values[-1] == 5
    members_only = figures(
        await run_report(
            BrandScope(brand),
            "reports.member_growth",
            {"start": "2025-03-01", "end": "2025-03-31", "buyer": "member"},
        )
    )
    assert members_only["new_members"] == 3


async def test_tiers_distribution_and_moves(tessera_db):
    brand = await report_brand()
    scope = BrandScope(brand)
    silver = await create_tier(scope, {"code": "silver", "name": "Silver", "rank": 10})
    gold = await create_tier(scope, {"code": "gold", "name": "Gold", "rank": 20})
    ids = await load(brand, [M(utc(2024, 1, 1)) for _ in range(3)], [])
    at = utc(2025, 3, 10)
    await scope.insert_many(
        MemberTierState,
        [
            scope.build(MemberTierState, member_id=ids[0], tier_id=gold.id, since=at),
            scope.build(MemberTierState, member_id=ids[1], tier_id=silver.id, since=at),
            scope.build(MemberTierState, member_id=ids[2], tier_id=silver.id, since=at),
        ],
    )

    def move(member: int, old: int | None, new: int | None, reason: str) -> TierHistory:
        return scope.build(
            TierHistory,
            member_id=member,
            from_tier_id=old,
            to_tier_id=new,
            reason=reason,
            at=at,
            source=f"{reason}-{new}",
        )

    await scope.insert_many(
        TierHistory,
        [
            move(ids[0], None, silver.id, "upgrade"),
            move(ids[0], silver.id, gold.id, "upgrade"),
            move(ids[1], gold.id, silver.id, "review"),
        ],
    )
    run = await run_report(scope, "reports.tiers", {"start": "2025-03-01", "end": "2025-03-31"})
    f = figures(run)
    assert (f["members_in_tiers"], f["upgrades"], f["downgrades"]) == (3, 2, 1)
    distribution = next(t for t in run.result.tables if t.key == "distribution")
    assert [row[:2] for row in distribution.rows] == [["silver", 2], ["gold", 1]]


async def test_loyalty_liability(tessera_db):
    brand = await report_brand()
    scope = BrandScope(brand)
    ids = await load(brand, [M(utc(2024, 1, 1))], [])
    common = {"reason": "test", "source_type": "test"}
    await earn_points(scope, ids[0], 500, idempotency_key="e1", **common)
    await redeem_points(scope, ids[0], 200, idempotency_key="r1", **common)
    await top_up_stored_value(scope, ids[0], 3000, idempotency_key="t1")
    today = datetime.now(UTC).date()
    run = await run_report(
        scope,
        "reports.liability",
        {
            "start": (today - timedelta(days=1)).isoformat(),
            "end": (today + timedelta(days=1)).isoformat(),
        },
    )
    f = figures(run)
    assert f["points_outstanding"] == 300
    assert (f["points_issued"], f["points_redeemed"], f["points_expired"]) == (500, 200, 0)
    assert f["stored_value_outstanding"] == 3000
    assert f["coupons_issued"] == 0 and f["coupon_redemption_rate"] is None

    # The remaining 300 points expire in 10 days; the lots are read with and
    # without a member filter (the account joined only for the filter).
    await (
        scope.query(PointsLot)
        .filter(status="available")
        .update(expires_at=datetime.now(UTC) + timedelta(days=10))
    )
    window = {
        "start": (today - timedelta(days=1)).isoformat(),
        "end": (today + timedelta(days=1)).isoformat(),
    }
    expiring = {}
    for buyer in ("all", "member", "non_member"):
        params = {**window, "buyer": buyer}
        run = await run_report(scope, "reports.liability", params, use_cache=False)
        f = figures(run)
        expiring[buyer] = (f["points_expiring_30"], f["points_expiring_90"])
    assert expiring == {"all": (300, 300), "member": (300, 300), "non_member": (0, 0)}


async def test_a_target_suggested_from_last_year_and_its_progress(tessera_db):
    brand = await report_brand()
    scope = BrandScope(brand)
    await load(
        brand,
        [M(utc(2023, 1, 1))],
        [Buy(0, utc(2024, 3, 5), 8000), Buy(0, utc(2025, 3, 5), 5000)],
    )
    suggested = await suggest_target(
        scope, "reports.sales", "sales", utc(2025, 3, 1).date(), utc(2025, 3, 31).date()
    )
    assert suggested == 8000
    await set_target(
        scope, "reports.sales", "sales", utc(2025, 3, 1).date(), utc(2025, 3, 31).date(), "100"
    )  # currency units: 100.00 = 10000 fen
    run = await run_report(scope, "reports.sales", {"start": "2025-03-01", "end": "2025-03-31"})
    sales = run.result.figure("sales")
    assert (sales.target, sales.progress) == (10000, Fraction(1, 2))
    other = await run_report(scope, "reports.sales", {"start": "2025-03-01", "end": "2025-03-30"})
    assert other.result.figure("sales").target is None  # only for exactly that period
