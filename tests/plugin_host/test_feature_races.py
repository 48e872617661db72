"""Family rules under concurrent requests. Meaningful on PostgreSQL, where the
requests run in parallel transactions; SQLite serialises writers."""

from __future__ import annotations

import asyncio

from sample_plugins import Sample

from tessera.features.models import BrandFeature

SET_FEATURE = """
mutation($input: SetFeatureInput!) { setFeature(input: $input) { errors { code } } }
"""


async def test_concurrent_tier_policy_enables_leave_exactly_one(
    brand_a, api_key, gql, register_plugin
):
    register_plugin(Sample(), "sample")
    admin = await api_key(brand_a, "admin")

    async def enable(key: str) -> dict:
        return await gql(SET_FEATURE, {"input": {"component": key}}, token=admin)

    for _ in range(5):
        results = await asyncio.gather(enable("sample_spend_tiers"), enable("sample_visit_tiers"))
        assert all(r["setFeature"]["errors"] == [] for r in results)
        active = await BrandFeature.filter(brand_id=brand_a.id, family="tier_policy", enabled=True)
        assert len(active) == 1


async def test_concurrent_senders_on_one_channel_leave_at_most_one(
    brand_a, api_key, gql, register_plugin
):
    register_plugin(Sample(), "sample")
    admin = await api_key(brand_a, "admin")
    gateway = {"url": "https://sms.example", "api_key": "k"}
    results = await asyncio.gather(
        gql(SET_FEATURE, {"input": {"component": "console_sms"}}, token=admin),
        gql(
            SET_FEATURE,
            {"input": {"component": "sample_gateway_sms", "config": gateway}},
            token=admin,
        ),
    )
    codes = sorted(e["code"] for r in results for e in r["setFeature"]["errors"])
    assert codes == ["CONFLICT"]
    assert await BrandFeature.filter(brand_id=brand_a.id, enabled=True).count() == 1
