"""`plugins`, `features` and `setFeature` through HTTP: family rules and bad input."""

from __future__ import annotations

from typing import Any

import pytest
from sample_plugins import Sample

from tessera.features.models import BrandFeature
from tessera.testing import record_database

SET_FEATURE = """
mutation($input: SetFeatureInput!) {
  setFeature(input: $input) {
    feature { component family slot enabled installed config secretsSet }
    notes
    errors { field message code }
  }
}
"""
FEATURES = """
query($family: ComponentFamily) {
  features(family: $family) { component slot enabled config }
}
"""


@pytest.fixture
async def admin(brand_a, api_key, register_plugin):
    register_plugin(Sample(), "sample")
    return await api_key(brand_a, "admin")


@pytest.fixture
def set_feature(gql):
    async def call(token: str, **input: Any) -> dict[str, Any]:
        data = await gql(SET_FEATURE, {"input": input}, token=token)
        result: dict[str, Any] = data["setFeature"]
        return result

    return call


async def enabled_keys(brand) -> list[tuple[str, str]]:
    rows = BrandFeature.filter(brand_id=brand.id, enabled=True).order_by(
        "component_key", "instance"
    )
    return [(f.component_key, f.instance) for f in await rows]


async def test_plugins_lists_components_with_their_config_schema(admin, gql):
    data = await gql(
        "{ plugins { name version components { key family title channel configSchema "
        "secretFields } } }",
        token=admin,
    )
    plugins = {p["name"]: p for p in data["plugins"]}
    assert plugins["devtools"]["version"]
    sms = {c["key"]: c for c in plugins["sample"]["components"]}["sample_gateway_sms"]
    assert sms["family"] == "CHANNEL_SENDER"
    assert sms["channel"] == "sms"
    assert sms["secretFields"] == ["api_key"]
    assert sms["configSchema"]["properties"]["rate_per_minute"]["maximum"] == 1000
    assert sms["configSchema"]["required"] == ["url", "api_key"]


async def test_enabling_a_tier_policy_switches_over_from_the_active_one(
    admin, set_feature, brand_a
):
    first = await set_feature(admin, component="sample_spend_tiers", config={"window_days": 90})
    assert first["errors"] == [] and first["notes"] == []
    assert first["feature"]["config"] == {"window_days": 90}

    second = await set_feature(admin, component="sample_visit_tiers")
    assert second["errors"] == []
    assert second["notes"] == ["disabled tier policy 'sample_spend_tiers'"]
    assert await enabled_keys(brand_a) == [("sample_visit_tiers", "")]


async def test_the_active_tier_policy_cannot_be_switched_off(admin, set_feature, brand_a):
    await set_feature(admin, component="sample_spend_tiers")
    refused = await set_feature(admin, component="sample_spend_tiers", enabled=False)
    assert refused["feature"] is None
    assert refused["errors"] == [
        {
            "field": ["input", "enabled"],
            "code": "TIER_POLICY_REQUIRED",
            "message": "a brand always has one active tier policy; enable another to replace "
            "this one",
        }
    ]
    assert await enabled_keys(brand_a) == [("sample_spend_tiers", "")]


async def test_points_rules_and_report_types_add_up(admin, set_feature, brand_a):
    for key in ("sample_ratio", "sample_birthday", "sample_joins"):
        assert (await set_feature(admin, component=key))["errors"] == []
    assert await enabled_keys(brand_a) == [
        ("sample_birthday", ""),
        ("sample_joins", ""),
        ("sample_ratio", ""),
    ]


async def test_one_sender_per_channel(admin, set_feature, brand_a):
    assert (await set_feature(admin, component="console_sms"))["errors"] == []
    assert (await set_feature(admin, component="sample_smtp_email"))["errors"] == []

    gateway = {"url": "https://sms.example", "api_key": "k-1"}
    refused = await set_feature(admin, component="sample_gateway_sms", config=gateway)
    assert refused["errors"][0]["code"] == "CONFLICT"
    assert refused["errors"][0]["field"] == ["input", "component"]
    assert "'console_sms'" in refused["errors"][0]["message"]
    assert await enabled_keys(brand_a) == [("console_sms", ""), ("sample_smtp_email", "")]

    await set_feature(admin, component="console_sms", enabled=False)
    assert (await set_feature(admin, component="sample_gateway_sms", config=gateway))[
        "errors"
    ] == []
    assert await enabled_keys(brand_a) == [("sample_gateway_sms", ""), ("sample_smtp_email", "")]


async def test_slot_kinds_are_named_slots_each_with_its_config(admin, set_feature, gql):
    home = await set_feature(
        admin, component="sample_banner", slot="home-top", config={"image_url": "/a.png"}
    )
    cart = await set_feature(
        admin, component="sample_banner", slot="cart", config={"image_url": "/b.png"}
    )
    assert home["errors"] == cart["errors"] == []
    assert home["feature"]["slot"] == "home-top"

    data = await gql(FEATURES, {"family": "SLOT_KIND"}, token=admin)
    assert data["features"] == [
        {
            "component": "sample_banner",
            "slot": "cart",
            "enabled": True,
            "config": {"image_url": "/b.png", "link": None},
        },
        {
            "component": "sample_banner",
            "slot": "home-top",
            "enabled": True,
            "config": {"image_url": "/a.png", "link": None},
        },
    ]


async def test_features_filters_by_family(admin, set_feature, gql):
    await set_feature(admin, component="sample_ratio")
    await set_feature(admin, component="sample_joins")
    data = await gql(FEATURES, {"family": "POINTS_RULE"}, token=admin)
    assert [f["component"] for f in data["features"]] == ["sample_ratio"]
    data = await gql(FEATURES, {}, token=admin)
    assert {f["component"] for f in data["features"]} == {"sample_ratio", "sample_joins"}


async def test_features_query_is_one_statement_however_many_features(admin, set_feature, gql):
    for key in ("sample_ratio", "sample_birthday", "sample_joins", "console_sms"):
        await set_feature(admin, component=key)
    async with record_database() as counted:
        data = await gql("{ features { component } }", token=admin)
    assert len(data["features"]) == 4
    # Besides the API key's revocation check, which reads them for plugin delivery.
    assert sum('"brand_feature"' in q and '"api_key"' not in q for q in counted.statements) == 1


BAD_INPUT = [
    (
        {"component": "no_such_thing"},
        [["input", "component"], "NOT_FOUND"],
    ),
    (
        {"component": "sample_banner", "config": {"image_url": "/a.png"}},
        [["input", "slot"], "REQUIRED"],
    ),
    (
        {"component": "sample_banner", "slot": "Home Top!", "config": {"image_url": "/a.png"}},
        [["input", "slot"], "INVALID"],
    ),
    (
        {"component": "sample_ratio", "slot": "home"},
        [["input", "slot"], "INVALID"],
    ),
    (
        {"component": "sample_ratio", "config": [1, 2]},
        [["input", "config"], "INVALID_CONFIG"],
    ),
    (
        {"component": "sample_ratio", "config": "points_per_unit=2"},
        [["input", "config"], "INVALID_CONFIG"],
    ),
    (
        {"component": "sample_ratio", "config": {"points_per_unit": "lots"}},
        [["input", "config", "points_per_unit"], "INVALID_CONFIG"],
    ),
    (
        {"component": "sample_ratio", "config": {"points_per_unit": 101}},
        [["input", "config", "points_per_unit"], "INVALID_CONFIG"],
    ),
    (
        {"component": "sample_ratio", "config": {"points_per_uint": 2}},
        [["input", "config", "points_per_uint"], "INVALID_CONFIG"],
    ),
    (
        {"component": "sample_gateway_sms", "config": {"url": "https://x"}},
        [["input", "config", "api_key"], "INVALID_CONFIG"],
    ),
]


@pytest.mark.parametrize(("input", "expected"), BAD_INPUT, ids=lambda v: str(v)[:40])
async def test_bad_input_is_a_user_error_naming_the_field_and_changes_nothing(
    admin, set_feature, brand_a, input, expected
):
    result = await set_feature(admin, **input)
    assert result["feature"] is None
    assert [[e["field"], e["code"]] for e in result["errors"]] == [expected]
    assert result["errors"][0]["message"]
    assert await BrandFeature.all().count() == 0


async def test_every_config_problem_is_reported_at_once(admin, set_feature):
    result = await set_feature(
        admin,
        component="sample_gateway_sms",
        config={"sender_id": "A-NAME-TOO-LONG", "rate_per_minute": 0, "colour": "red"},
    )
    assert sorted(e["field"][-1] for e in result["errors"]) == [
        "api_key",
        "colour",
        "rate_per_minute",
        "sender_id",
        "url",
    ]


@pytest.mark.parametrize("scope", ["read", "write", "manage"])
async def test_set_feature_needs_the_admin_scope(admin, brand_a, api_key, gql, scope):
    token = await api_key(brand_a, scope)
    body = await gql(
        SET_FEATURE, {"input": {"component": "sample_ratio"}}, token=token, errors_ok=True
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert body["data"] is None
    assert await BrandFeature.all().count() == 0


async def test_a_brand_sees_and_changes_only_its_own_features(
    admin, set_feature, brand_b, api_key, gql
):
    admin_b = await api_key(brand_b, "admin")
    await set_feature(admin_b, component="sample_spend_tiers")
    await set_feature(admin_b, component="console_sms", config={"channel_label": "b-only"})

    assert (await gql(FEATURES, {}, token=admin))["features"] == []
    # Brand A's tier policy and sender do not touch brand B's.
    assert (await set_feature(admin, component="sample_visit_tiers"))["notes"] == []
    assert (
        await set_feature(
            admin, component="sample_gateway_sms", config={"url": "https://a", "api_key": "a"}
        )
    )["errors"] == []
    assert await enabled_keys(brand_b) == [("console_sms", ""), ("sample_spend_tiers", "")]
    b_features = (await gql(FEATURES, {}, token=admin_b))["features"]
    assert {f["component"] for f in b_features} == {"console_sms", "sample_spend_tiers"}


async def test_a_feature_of_an_uninstalled_plugin_shows_as_not_installed(
    brand_a, api_key, gql, register_plugin, tessera_runtime, set_feature
):
    admin = await api_key(brand_a, "admin")
    register_plugin(Sample(), "sample")
    await set_feature(admin, component="sample_ratio", config={"points_per_unit": 3})
    tessera_runtime.host.unregister("sample")
    try:
        data = await gql("{ features { component installed config } }", token=admin)
        assert data["features"] == [
            {"component": "sample_ratio", "installed": False, "config": {"points_per_unit": 3}}
        ]
    finally:
        tessera_runtime.host.register(Sample(), "sample")


async def test_switching_off_needs_no_valid_config(admin, set_feature, brand_a):
    await set_feature(admin, component="sample_ratio", config={"points_per_unit": 3})
    await BrandFeature.filter(component_key="sample_ratio").update(config={"points_per_unit": 500})
    result = await set_feature(admin, component="sample_ratio", enabled=False)
    assert result["errors"] == []
    assert result["feature"]["enabled"] is False
    # Switching it on again validates, and names the field to fix.
    result = await set_feature(admin, component="sample_ratio")
    assert [e["field"] for e in result["errors"]] == [["input", "config", "points_per_unit"]]
    assert await enabled_keys(brand_a) == []
