"""campaignResults over HTTP: the worked example's figures as the API shows
them, the margin from the brand's campaign effect report, bad arguments,
and another brand's key reading null."""

from __future__ import annotations

from attribution_data import scenario

from tessera.schema.ids import encode_id

RESULTS = """
query($id: ID!, $days: Int, $margin: Decimal) {
  campaignResults(campaignId: $id, days: $days, margin: $margin) {
    campaignId days margin messagesSent roi
    cost { amount currency } profit { amount }
    groups { group members converters conversionRate orders revenue { amount }
             revenuePerMember { amount } }
    uplift { absolute relative incrementalConverters incrementalRevenue { amount }
             confidenceLevel confidenceLow confidenceHigh pValue significant }
    curve { day treated holdout }
  }
}"""


async def test_campaign_results_over_http(
    tessera_db, brand_a, brand_b, gql, api_key, enable_feature
):
    spring, _ = await scenario(brand_a)
    token = await api_key(brand_a, "read")
    campaign_id = encode_id("Campaign", spring.id)
    data = (await gql(RESULTS, {"id": campaign_id}, token=token))["campaignResults"]
    assert data["campaignId"] == campaign_id and data["days"] == 7
    assert data["margin"] == "1.000000" and data["messagesSent"] == 5
    assert data["cost"] == {"amount": "0.25", "currency": "CNY"}
    assert data["profit"] == {"amount": "165.00"} and data["roi"] == "660.000000"
    groups = {g["group"]: g for g in data["groups"]}
    assert list(groups) == ["TREATED", "HOLDOUT", "UNREACHED"]
    assert groups["TREATED"] == {
        "group": "TREATED",
        "members": 5,
        "converters": 3,
        "conversionRate": "0.600000",
        "orders": 4,
        "revenue": {"amount": "240.00"},
        "revenuePerMember": {"amount": "48.00"},
    }
    assert groups["HOLDOUT"]["conversionRate"] == "0.500000"
    assert groups["HOLDOUT"]["revenue"] == {"amount": "60.00"}
    uplift = data["uplift"]
    assert uplift["absolute"] == "0.100000" and uplift["relative"] == "0.200000"
    assert uplift["incrementalConverters"] == "0.500000"
    assert uplift["incrementalRevenue"] == {"amount": "165.00"}
    assert uplift["confidenceLevel"] == "0.950000" and uplift["significant"] is False
    assert uplift["pValue"] == "0.764177"  # 2 × (1 − Φ(0.3))
    assert [p["treated"] for p in data["curve"]] == [
        "0.200000",
        "0.200000",
        "0.200000",
        "0.400000",
        "0.400000",
        "0.400000",
        "0.600000",
    ]
    assert data["curve"][-1]["holdout"] == "0.500000" and data["curve"][0]["day"] == 0

    # The brand's margin, set on its campaign effect report; an argument overrides it.
    await enable_feature(brand_a, "reports.campaign_effect", config={"gross_margin": 0.4})
    data = (await gql(RESULTS, {"id": campaign_id}, token=token))["campaignResults"]
    assert data["margin"] == "0.400000" and data["profit"] == {"amount": "66.00"}
    assert data["roi"] == "264.000000"
    data = (await gql(RESULTS, {"id": campaign_id, "margin": "0.5", "days": 1}, token=token))[
        "campaignResults"
    ]
    assert data["days"] == 1 and len(data["curve"]) == 1 and data["roi"] == "200.000000"

    bad = await gql(
        RESULTS, {"id": campaign_id, "days": 0, "margin": "2"}, token=token, errors_ok=True
    )
    assert [e["extensions"]["code"] for e in bad["errors"]] == ["OUT_OF_RANGE"]
    assert bad["errors"][0]["extensions"]["field"] == ["days"]
    # The Decimal scalar hands on any text: not a number is INVALID, not an internal error.
    for margin in ("", "abc", "NaN", "Infinity", "-inf"):
        bad = await gql(RESULTS, {"id": campaign_id, "margin": margin}, token=token, errors_ok=True)
        assert [e["extensions"]["code"] for e in bad["errors"]] == ["INVALID"], margin
        assert bad["errors"][0]["extensions"]["field"] == ["margin"]

    # Another brand's key, and ids that are not campaigns', read null.
    other = await api_key(brand_b, "admin")
    assert (await gql(RESULTS, {"id": campaign_id}, token=other))["campaignResults"] is None
    member_id = encode_id("Member", spring.id)
    assert (await gql(RESULTS, {"id": member_id}, token=token))["campaignResults"] is None
