"""Secret config fields: write-only through the API, encrypted at rest."""

from __future__ import annotations

import json

import pytest
from sample_plugins import GatewaySms, Sample
from tortoise import connections

from tessera.audit.models import AuditLogEntry
from tessera.features.models import BrandFeature
from tessera.features.service import load_config

SECRET = "sk-live-7f3a9c0e-do-not-leak"
SET_FEATURE = """
mutation($input: SetFeatureInput!) {
  setFeature(input: $input) {
    feature { config secretsSet }
    errors { field code message }
  }
}
"""


@pytest.fixture
async def admin(brand_a, api_key, register_plugin):
    register_plugin(Sample(), "sample")
    return await api_key(brand_a, "admin")


async def enable_gateway(gql, token, **config):
    data = await gql(
        SET_FEATURE,
        {"input": {"component": "sample_gateway_sms", "config": config}},
        token=token,
    )
    return data["setFeature"]


async def raw_rows() -> str:
    """Every brand_feature column as the database holds it."""
    rows = await connections.get("default").execute_query_dict('SELECT * FROM "brand_feature"')
    return json.dumps(rows, default=str)


async def test_secret_is_encrypted_at_rest(admin, gql, tessera_runtime):
    result = await enable_gateway(gql, admin, url="https://sms.example", api_key=SECRET)
    assert result["errors"] == []

    raw = await raw_rows()
    assert "https://sms.example" in raw  # the plain fields are stored as they are
    assert SECRET not in raw
    assert "sk-live" not in raw

    feature = await BrandFeature.get(component_key="sample_gateway_sms")
    config = load_config(GatewaySms, feature, tessera_runtime.settings)
    assert config.api_key.get_secret_value() == SECRET  # type: ignore[attr-defined]


async def test_the_api_never_returns_a_secret(admin, gql):
    result = await enable_gateway(gql, admin, url="https://sms.example", api_key=SECRET)
    assert result["feature"]["config"] == {
        "url": "https://sms.example",
        "sender_id": "TESSERA",
        "rate_per_minute": 60,
    }
    assert result["feature"]["secretsSet"] == ["api_key"]

    response = await gql("{ features { component config secretsSet lastError } }", token=admin)
    assert SECRET not in json.dumps(response)
    assert response["features"][0]["secretsSet"] == ["api_key"]


async def test_the_audit_log_records_config_keys_not_values(admin, gql):
    await enable_gateway(gql, admin, url="https://sms.example", api_key=SECRET)
    entries = await AuditLogEntry.filter(action="setFeature")
    assert len(entries) == 1
    assert SECRET not in json.dumps(entries[0].details)
    assert entries[0].details["input"]["input"]["config"] == ["api_key", "url"]


@pytest.mark.parametrize("omitted", [{}, {"api_key": None}], ids=["left-out", "null"])
async def test_omitting_a_secret_on_update_keeps_it(admin, gql, tessera_runtime, omitted):
    await enable_gateway(gql, admin, url="https://sms.example", api_key=SECRET)
    result = await enable_gateway(gql, admin, url="https://sms2.example", **omitted)
    assert result["errors"] == []
    assert result["feature"]["config"]["url"] == "https://sms2.example"
    assert result["feature"]["secretsSet"] == ["api_key"]

    feature = await BrandFeature.get(component_key="sample_gateway_sms")
    config = load_config(GatewaySms, feature, tessera_runtime.settings)
    assert config.api_key.get_secret_value() == SECRET  # type: ignore[attr-defined]
    assert config.url == "https://sms2.example"  # type: ignore[attr-defined]


async def test_a_new_secret_replaces_the_old_one(admin, gql, tessera_runtime):
    await enable_gateway(gql, admin, url="https://sms.example", api_key=SECRET)
    await enable_gateway(gql, admin, url="https://sms.example", api_key="rotated-key")
    feature = await BrandFeature.get(component_key="sample_gateway_sms")
    config = load_config(GatewaySms, feature, tessera_runtime.settings)
    assert config.api_key.get_secret_value() == "rotated-key"  # type: ignore[attr-defined]
    assert SECRET not in await raw_rows() and "rotated-key" not in await raw_rows()


async def test_a_rejected_update_leaves_the_secret_and_config_as_they_were(
    admin, gql, tessera_runtime
):
    await enable_gateway(gql, admin, url="https://sms.example", api_key=SECRET)
    before = await raw_rows()
    result = await enable_gateway(gql, admin, url="https://sms.example", api_key=7 * [1])
    assert [e["field"] for e in result["errors"]] == [["input", "config", "api_key"]]
    assert await raw_rows() == before
