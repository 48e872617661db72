"""The provider senders are switched on per brand with setFeature, like any
component: registered from the ``channels`` entry point, config validated,
secrets write-only and encrypted at rest."""

from __future__ import annotations

import json

import pytest
from tortoise import connections

from tessera import ChannelSender
from tessera.features.models import BrandFeature
from tessera.features.service import load_config
from tessera.plugins.channels.aliyun_sms import AliyunSms
from tessera.plugins.channels.push_http import HttpPush
from tessera.plugins.channels.wechat import WechatSubscribeMessage, WechatTemplateMessage

SET_FEATURE = """
mutation($input: SetFeatureInput!) {
  setFeature(input: $input) {
    feature { component enabled config secretsSet }
    errors { field code message }
  }
}
"""

CASES: list[tuple[type[ChannelSender], dict[str, object], dict[str, str]]] = [
    (
        AliyunSms,
        {"access_key_id": "LTAI5t", "sign_name": "泰瑟拉", "template_code": "SMS_1"},
        {"access_key_secret": "ali-secret-A1", "receipt_token": "ali-token-B2"},
    ),
    (
        WechatTemplateMessage,
        {"appid": "wx0123456789", "fields": {"points": "keyword1"}},
        {
            "secret": "wx-secret-C3",
            "push_token": "wx-push-D4",
            "encoding_aes_key": "Zyxwvutsrqponmlkjihgfedcba9876543210ABCDEFG",
        },
    ),
    (
        WechatSubscribeMessage,
        {"appid": "wx9876543210", "page": "pages/index/index"},
        {"secret": "wx-secret-E5"},
    ),
    (
        HttpPush,
        {"url": "https://push.example/v1/send"},
        {"auth_value": "Bearer push-key-F6", "receipt_secret": "push-secret-G7"},
    ),
]


@pytest.mark.parametrize(
    ("component", "plain", "secrets"), CASES, ids=lambda c: getattr(c, "key", "")
)
async def test_enabled_per_brand_with_write_only_secrets(
    brand_a, api_key, gql, tessera_runtime, component, plain, secrets
) -> None:
    admin = await api_key(brand_a, "admin")
    data = await gql(
        SET_FEATURE,
        {"input": {"component": component.key, "config": {**plain, **secrets}}},
        token=admin,
    )
    result = data["setFeature"]
    assert result["errors"] == []
    assert result["feature"]["enabled"] is True
    assert sorted(result["feature"]["secretsSet"]) == sorted(secrets)
    for name, value in plain.items():
        assert result["feature"]["config"][name] == value
    listed = await gql("{ features { component config secretsSet } }", token=admin)
    raw = json.dumps(
        await connections.get("default").execute_query_dict('SELECT * FROM "brand_feature"'),
        default=str,
    )
    for value in secrets.values():
        assert value not in json.dumps(listed) and value not in json.dumps(result)
        assert value not in raw

    feature = await BrandFeature.get(component_key=component.key)
    config = load_config(component, feature, tessera_runtime.settings)
    for name, value in secrets.items():
        assert getattr(config, name).get_secret_value() == value


async def test_a_bad_config_is_refused_at_the_field(brand_a, api_key, gql) -> None:
    admin = await api_key(brand_a, "admin")
    data = await gql(
        SET_FEATURE,
        {
            "input": {
                "component": "wechat_subscribe",
                "config": {"appid": "wx1", "secret": "s", "miniprogram_state": "beta"},
            }
        },
        token=admin,
    )
    assert [e["field"] for e in data["setFeature"]["errors"]] == [
        ["input", "config", "miniprogram_state"]
    ]


async def test_one_wechat_sender_per_brand(brand_a, brand_b, enable_feature) -> None:
    """Template and subscribe messages share the wechat channel, and a brand
    has one sender per channel: a brand picks the family it sends."""
    import tessera

    await enable_feature(brand_a, "wechat_template", config={"appid": "wx1", "secret": "s"})
    with pytest.raises(tessera.DomainError) as refused:
        await enable_feature(brand_a, "wechat_subscribe", config={"appid": "wx2", "secret": "s"})
    assert refused.value.code == "CONFLICT"
    # Another brand chooses for itself.
    await enable_feature(brand_b, "wechat_subscribe", config={"appid": "wx2", "secret": "s"})
