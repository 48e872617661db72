"""The partner path end to end: tests/example_plugin is a separate distribution,
pip-installed into the environment, found only through its entry point."""

from __future__ import annotations

import importlib.metadata
import logging

import pytest

from tessera.plugin_host.manager import PluginHost

SET_FEATURE = """
mutation($input: SetFeatureInput!) { setFeature(input: $input) { errors { field code } } }
"""
CONFIG = {"url": "https://hooks.example.com/a", "signing_secret": "only-brand-a-knows"}


@pytest.fixture(scope="module", autouse=True)
def example_installed() -> None:
    try:
        importlib.metadata.distribution("tessera-example-plugin")
    except importlib.metadata.PackageNotFoundError:
        pytest.fail(
            "the example plugin is not installed: run "
            "`.venv/bin/pip install -e tests/example_plugin` (make test does)"
        )


def test_it_is_discovered_through_its_entry_point():
    [ep] = [e for e in importlib.metadata.entry_points(group="tessera") if e.name == "example"]
    assert ep.value == "tessera_example_plugin"

    host = PluginHost.from_entry_points()
    example = {p.name: p for p in host.plugins()}["example"]
    assert example.version == "0.1.0"
    [webhook] = example.components
    assert (webhook.key, webhook.family, webhook.cls.channel) == (
        "example_webhook",
        "channel_sender",
        "webhook",
    )
    assert webhook.cls.__module__ == "tessera_example_plugin"


async def test_enabled_for_one_brand_its_hook_runs_only_for_that_brand(
    brand_a, brand_b, api_key, gql, emit_event, caplog
):
    admin_a = await api_key(brand_a, "admin")
    data = await gql(
        SET_FEATURE, {"input": {"component": "example_webhook", "config": CONFIG}}, token=admin_a
    )
    assert data["setFeature"]["errors"] == []

    features = "{ features { component enabled } }"
    assert (await gql(features, token=admin_a))["features"] == [
        {"component": "example_webhook", "enabled": True}
    ]
    assert (await gql(features, token=await api_key(brand_b, "read")))["features"] == []

    with caplog.at_level(logging.INFO, "tessera.plugins.example"):
        await emit_event(brand_a, "member.joined", member_id="Member:1")
        await emit_event(brand_b, "member.joined", member_id="Member:2")
        await emit_event(brand_a, "order.recorded", order_id="Order:9")
    example_lines = [r.getMessage() for r in caplog.records if r.name == "tessera.plugins.example"]
    assert example_lines == ["member.joined on brand brand-a", "order.recorded on brand brand-a"]
