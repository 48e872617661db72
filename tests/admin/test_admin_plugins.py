"""Plugins and features: the settings form generated from the component's
JSON Schema, validated by the same ``set_feature`` as ``setFeature``."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, SecretStr

from tessera import ChannelSender, OutboundMessage, SendResult, hookimpl
from tessera.audit.models import AuditLogEntry
from tessera.features.service import list_features, set_feature
from tessera.scope import BrandScope

REDEMPTION = "/admin/brands/brand-a/plugins/points.redemption"


class GatewayConfig(BaseModel):
    url: str = Field(description="the gateway's endpoint")
    api_key: SecretStr = Field(description="issued by the gateway")
    rate_per_minute: int = Field(60, ge=1, le=1000)


class GatewaySms(ChannelSender):
    key = "admin_test_gateway"
    title = "Gateway SMS"
    description = "Sends SMS through a gateway."
    channel = "sms"
    Config = GatewayConfig

    async def send(self, message: OutboundMessage) -> SendResult:
        return SendResult(accepted=True)


class GatewayPlugin:
    @hookimpl
    def tessera_register_channel_senders(self) -> list[type[ChannelSender]]:
        return [GatewaySms]


async def test_the_list_shows_every_component_by_family(admin_client, brand_a):
    client = await admin_client(brand_a, "viewer")
    page = await client.get("/admin/brands/brand-a/plugins")
    assert page.status_code == 200
    assert "<h2>points_rule</h2>" in page.text and "<h2>tier_policy</h2>" in page.text
    assert "/plugins/points.redemption" in page.text


async def test_the_form_is_generated_from_the_schema(admin_client, brand_a):
    client = await admin_client(brand_a, "owner")
    page = await client.get(REDEMPTION)
    assert 'name="config.points_per_unit" value="100"' in page.text  # the default
    assert "Points worth 1 unit." in page.text  # the description as help
    rounding = await client.get("/admin/brands/brand-a/plugins/points.purchase")
    assert '<select id="c-rounding" name="config.rounding">' in rounding.text
    assert '<option value="half_up">' in rounding.text
    viewer = await admin_client(brand_a, "viewer")
    assert "<button" not in (await viewer.get(REDEMPTION)).text.split('id="feature-form"')[1]


async def test_an_invalid_value_shows_beside_its_field_and_saves_nothing(admin_client, brand_a):
    client = await admin_client(brand_a, "owner")
    refused = await client.post(
        REDEMPTION, {"enabled": "on", "config.points_per_unit": "0", "config.min_points": "x"}
    )
    assert refused.status_code == 422
    assert (
        'id="points_per_unit-error"' in refused.text
        and "greater than or equal to 1" in refused.text
    )
    assert 'id="min_points-error"' in refused.text
    assert 'value="0"' in refused.text  # what was typed stays
    assert await list_features(BrandScope(brand_a)) == []
    saved = await client.post(REDEMPTION, {"enabled": "on", "config.points_per_unit": "50"})
    assert saved.status_code == 303
    [view] = await list_features(BrandScope(brand_a))
    assert view.feature.enabled and view.config["points_per_unit"] == 50
    outcomes = await BrandScope(brand_a).query(AuditLogEntry).values_list("action", "outcome")
    assert outcomes == [("setFeature", "rejected"), ("setFeature", "ok")]


async def test_a_secret_is_write_only_and_kept_when_left_empty(
    admin_client, brand_a, register_plugin
):
    register_plugin(GatewayPlugin(), "admin_test_gateway_plugin")
    client = await admin_client(brand_a, "owner")
    path = "/admin/brands/brand-a/plugins/admin_test_gateway"
    form = await client.get(path)
    assert 'type="password" name="config.api_key" value=""' in form.text and "not set" in form.text
    saved = await client.post(
        path, {"enabled": "on", "config.url": "https://sms.example", "config.api_key": "s3cret!"}
    )
    assert saved.status_code == 303
    shown = await client.get(path)
    assert "s3cret!" not in shown.text and "set — type to replace" in shown.text
    # Changing the URL without retyping the key keeps the key.
    await client.post(path, {"enabled": "on", "config.url": "https://sms2.example"})
    [view] = await list_features(BrandScope(brand_a))
    assert view.config["url"] == "https://sms2.example" and view.secrets_set == ["api_key"]
    details = await BrandScope(brand_a).query(AuditLogEntry).values_list("details", flat=True)
    assert "s3cret!" not in str(details)


async def test_an_operator_cannot_change_a_feature(admin_client, brand_a):
    client = await admin_client(brand_a, "operator")
    assert (await client.get(REDEMPTION)).status_code == 200
    refused = await client.post(REDEMPTION, {"enabled": "on"})
    assert refused.status_code == 403
    assert await list_features(BrandScope(brand_a)) == []


async def test_a_stale_form_is_refused_rather_than_overwriting(admin_client, brand_a):
    client = await admin_client(brand_a, "owner")
    opened = await client.get(REDEMPTION)
    version = re.search(r'name="form_version" value="([^"]*)"', opened.text)
    assert version is not None
    # Someone else saves after the form was opened.
    await set_feature(
        BrandScope(brand_a), "points.redemption", enabled=True, config={"points_per_unit": 40}
    )
    refused = await client.post(
        REDEMPTION,
        {"enabled": "on", "config.points_per_unit": "50", "form_version": version.group(1)},
    )
    assert refused.status_code == 409
    assert "Someone changed this after you opened the form" in refused.text
    assert 'name="config.points_per_unit" value="40"' in refused.text  # the current version
    [view] = await list_features(BrandScope(brand_a))
    assert view.config["points_per_unit"] == 40
    fresh = re.search(r'name="form_version" value="([^"]*)"', refused.text)
    assert fresh is not None and fresh.group(1) != version.group(1)
    saved = await client.post(
        REDEMPTION,
        {"enabled": "on", "config.points_per_unit": "50", "form_version": fresh.group(1)},
    )
    assert saved.status_code == 303
    [view] = await list_features(BrandScope(brand_a))
    assert view.config["points_per_unit"] == 50
