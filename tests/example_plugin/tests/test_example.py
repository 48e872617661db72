"""The example plugin's own tests: only the ``tessera.testing`` fixtures, a few
lines each, exactly as a partner's would look."""

import logging

SET_FEATURE = """
mutation($input: SetFeatureInput!) {
  setFeature(input: $input) { feature { config secretsSet } errors { field code } }
}
"""
CONFIG = {"url": "https://hooks.example.com/tessera", "signing_secret": "s3cret-value"}


async def test_it_is_installed(brand_a, api_key, gql):
    token = await api_key(brand_a, "read")
    data = await gql("{ plugins { name components { key channel secretFields } } }", token=token)
    [example] = [p for p in data["plugins"] if p["name"] == "example"]
    assert example["components"] == [
        {"key": "example_webhook", "channel": "webhook", "secretFields": ["signing_secret"]}
    ]


async def test_the_signing_secret_is_write_only(brand_a, api_key, gql):
    token = await api_key(brand_a, "admin")
    input = {"component": "example_webhook", "config": CONFIG}
    result = (await gql(SET_FEATURE, {"input": input}, token=token))["setFeature"]
    assert result["errors"] == []
    assert "signing_secret" not in result["feature"]["config"]
    assert result["feature"]["secretsSet"] == ["signing_secret"]


async def test_a_bad_url_is_refused(brand_a, api_key, gql):
    token = await api_key(brand_a, "admin")
    input = {"component": "example_webhook", "config": {**CONFIG, "url": "not a url"}}
    result = (await gql(SET_FEATURE, {"input": input}, token=token))["setFeature"]
    assert result["errors"] == [{"field": ["input", "config", "url"], "code": "INVALID_CONFIG"}]


async def test_events_are_logged_for_brands_that_enabled_it(
    brand_a, brand_b, enable_feature, emit_event, caplog
):
    await enable_feature(brand_a, "example_webhook", config=CONFIG)
    with caplog.at_level(logging.INFO, "tessera.plugins.example"):
        await emit_event(brand_a, "member.joined", member_id="Member:1")
        await emit_event(brand_b, "member.joined", member_id="Member:2")
    assert caplog.messages == ["member.joined on brand brand-a"]
