"""The campaign effect report: campaigns launched in the period, pooled
figures that weigh each campaign's uplift by its members reached, the pooled
conversion curve, one table row per campaign; listed in reportTypes."""

from __future__ import annotations

from fractions import Fraction

from attribution_data import Buy, R, campaign, members, orders, scenario, utc

from tessera.reports import service
from tessera.scope import BrandScope


async def test_campaign_effect(brand_a, enable_feature, gql, api_key):
    await enable_feature(brand_a, "reports.campaign_effect")
    await scenario(brand_a)
    ids = await members(brand_a, ["a", "z"])
    sent = utc(2025, 3, 20, 10)
    await campaign(brand_a, "autumn", sent, [R("a", sent_at=sent)], ids=ids, cost="0.05")
    await campaign(
        brand_a, "february", utc(2025, 2, 27), [R("z", sent_at=utc(2025, 2, 27))], ids=ids
    )
    await orders(brand_a, [Buy("a", utc(2025, 3, 20, 12), "10.00")], ids)

    run = await service.run_report(
        BrandScope(brand_a), "reports.campaign_effect", {"start": "2025-03-01", "end": "2025-03-31"}
    )
    f = {x.key: x.value for x in run.result.figures}
    assert f == {
        "campaigns": 2,
        "messages_sent": 6,
        "treated": 6,
        "conversion": Fraction(4, 6),
        "holdout_conversion": Fraction(1, 2),
        "uplift": Fraction(1, 10),  # spring's alone: autumn has no holdout
        "revenue": 25000,
        "incremental_revenue": 16500,
        "cost": 30,
        "profit": 16500,
        "roi": 660,  # over spring's cost only
    }
    curves = {s.key: s for s in run.result.series}
    assert curves["curve_treated"].labels == [f"D{d}" for d in range(7)]
    assert curves["curve_treated"].values == [Fraction(n, 6) for n in (2, 2, 2, 3, 3, 3, 4)]
    assert curves["curve_holdout"].values == [Fraction(n, 4) for n in (0, 1, 1, 1, 1, 1, 2)]
    [table] = run.result.tables
    assert [row[0] for row in table.rows] == ["spring", "autumn"]
    spring = dict(zip((c.key for c in table.columns), table.rows[0], strict=True))
    assert spring["launched"] == "2025-03-01T10:00+00:00" and spring["uplift"] == Fraction(1, 10)
    assert spring["roi"] == 660 and spring["p_value"] == Fraction("0.764177")

    # Filters that would unbalance the two groups are refused; a month before
    # compares with February's campaign by the same code.
    refused = await gql(
        '{ report(type: "reports.campaign_effect", params: {start: "2025-03-01", '
        'end: "2025-03-31", store: "S1"}) { errors { field code } } }',
        token=await api_key(brand_a, "read"),
    )
    assert refused["report"]["errors"] == [{"field": ["params", "store"], "code": "INVALID"}]
    types = await gql("{ reportTypes { key } }", token=await api_key(brand_a, "read"))
    assert {"key": "reports.campaign_effect"} in types["reportTypes"]
    compared = await service.run_report(
        BrandScope(brand_a),
        "reports.campaign_effect",
        {"start": "2025-03-01", "end": "2025-03-31", "comparison": "mom"},
    )
    previous = {x.key: x.previous for x in compared.result.figures}
    assert previous["campaigns"] == 1 and previous["holdout_conversion"] is None
