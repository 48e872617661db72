"""Building the plugin host: discovery, the load filter, tracing, broken plugins."""

from __future__ import annotations

import logging
from importlib.metadata import EntryPoint
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr
from sample_plugins import Birthday, GatewaySms, Sample

from tessera import ChannelSender, PointsRule, TierPolicy, hookimpl
from tessera.bootstrap import build_host
from tessera.config import Settings
from tessera.plugin_host.manager import PluginError, PluginHost


def plugin_returning(hook: str, *classes: Any) -> Any:
    class Plugin:
        pass

    setattr(Plugin, hook, hookimpl(lambda self: list(classes)))
    return Plugin()


def test_entry_points_load_the_built_in_plugins():
    host = PluginHost.from_entry_points()
    devtools = {p.name: p for p in host.plugins()}["devtools"]
    assert devtools.version  # the distribution's version, read from its metadata
    assert [c.key for c in devtools.components] == ["console_sms"]
    assert host.component("console_sms").plugin == "devtools"


def test_load_plugins_setting_limits_what_loads(tmp_path, caplog):
    only_devtools = build_host(Settings(load_plugins="devtools", var_dir=tmp_path))
    assert [p.name for p in only_devtools.plugins()] == ["devtools"]

    nothing = build_host(Settings(load_plugins="", var_dir=tmp_path))
    assert nothing.plugins() == []
    assert nothing.component("console_sms") is None

    with caplog.at_level(logging.WARNING, "tessera.plugins"):
        build_host(Settings(load_plugins="devtools, no-such-plugin", var_dir=tmp_path))
    assert "not installed: no-such-plugin" in caplog.text


def test_trace_plugins_setting_logs_every_hook_call(tmp_path, caplog):
    with caplog.at_level(logging.INFO, "tessera.plugins.trace"):
        build_host(Settings(load_plugins="devtools", trace_plugins=True, var_dir=tmp_path))
    traced = [r.getMessage() for r in caplog.records if r.name == "tessera.plugins.trace"]
    assert any("tessera_register_channel_senders" in line for line in traced)

    caplog.clear()
    with caplog.at_level(logging.INFO, "tessera.plugins.trace"):
        build_host(Settings(load_plugins="devtools", trace_plugins=False, var_dir=tmp_path))
    assert not [r for r in caplog.records if r.name == "tessera.plugins.trace"]


def test_plugins_lists_name_version_and_components():
    host = PluginHost()
    host.register(Sample(), "sample", "1.2.3")
    [info] = host.plugins()
    assert (info.name, info.version) == ("sample", "1.2.3")
    assert {c.key for c in info.components} >= {"sample_gateway_sms", "sample_banner"}
    assert all(c.plugin == "sample" for c in info.components)
    host.unregister("sample")
    assert host.plugins() == [] and host.components() == []


def assert_refused(host: PluginHost, plugin: object, *fragments: str) -> None:
    with pytest.raises(PluginError) as caught:
        host.register(plugin, "broken")
    for fragment in fragments:
        assert fragment in str(caught.value)
    # A refused plugin leaves nothing behind: the name is free and no component stays.
    assert not host.pm.has_plugin("broken")
    assert all(c.plugin != "broken" for c in host.components())


def test_duplicate_component_key_is_refused_naming_both_plugins():
    host = PluginHost()
    host.register(plugin_returning("tessera_register_points_rules", Birthday), "first")
    twin = type("Twin", (Birthday,), {})
    assert_refused(
        host,
        plugin_returning("tessera_register_points_rules", twin),
        "'sample_birthday'",
        "'first'",
        "'broken'",
    )
    assert host.component("sample_birthday").plugin == "first"


def test_component_of_the_wrong_family_is_refused():
    assert_refused(
        PluginHost(),
        plugin_returning("tessera_register_tier_policies", Birthday),
        "'broken'",
        "subclass of tessera.TierPolicy",
    )


def test_something_that_is_not_a_class_is_refused():
    assert_refused(
        PluginHost(),
        plugin_returning("tessera_register_points_rules", "sample_birthday"),
        "subclass of tessera.PointsRule",
    )


def test_abstract_methods_left_unimplemented_are_refused():
    class Lazy(PointsRule):
        key = "lazy"
        title = "Lazy"

    assert_refused(
        PluginHost(),
        plugin_returning("tessera_register_points_rules", Lazy),
        "Lazy leaves abstract methods unimplemented: points_for",
    )


def test_sender_without_a_channel_is_refused():
    class Nowhere(ChannelSender):
        key = "nowhere"
        title = "Nowhere"

        async def send(self, message: Any) -> Any:
            return None

    assert_refused(
        PluginHost(),
        plugin_returning("tessera_register_channel_senders", Nowhere),
        "sender 'nowhere' names no channel",
    )


def test_component_without_key_or_with_a_bad_key_is_refused():
    keyless = type("Keyless", (Birthday,), {"key": ""})
    assert_refused(
        PluginHost(), plugin_returning("tessera_register_points_rules", keyless), "has no key"
    )
    shouting = type("Shouting", (Birthday,), {"key": "Shouting Key"})
    assert_refused(
        PluginHost(),
        plugin_returning("tessera_register_points_rules", shouting),
        "'Shouting Key' must be lower-case",
    )


def test_config_that_is_not_a_pydantic_model_is_refused():
    odd = type("Odd", (Birthday,), {"key": "odd", "Config": dict})
    assert_refused(
        PluginHost(),
        plugin_returning("tessera_register_points_rules", odd),
        "Odd.Config must be a pydantic BaseModel",
    )


def test_hook_with_a_misspelt_name_is_refused():
    class Typo:
        @hookimpl
        def tessera_register_tier_policy(self) -> list[type[TierPolicy]]:
            return []

    assert_refused(PluginHost(), Typo(), "'broken'", "tessera_register_tier_policy")


def test_hook_asking_for_an_argument_the_spec_lacks_is_refused():
    class Greedy:
        @hookimpl
        def tessera_on_event(self, event: Any, member: Any) -> None:
            pass

    assert_refused(PluginHost(), Greedy(), "'broken'", "member")


def test_async_registration_hook_is_refused():
    class Eager:
        @hookimpl
        async def tessera_register_points_rules(self) -> list[type[PointsRule]]:
            return [Birthday]

    assert_refused(PluginHost(), Eager(), "must be a plain function")


def test_registration_hook_returning_a_single_class_is_refused():
    class Single:
        @hookimpl
        def tessera_register_channel_senders(self) -> Any:
            return GatewaySms

    assert_refused(PluginHost(), Single(), "must return a list")


def test_entry_point_that_fails_to_import_names_the_plugin():
    ep = EntryPoint(name="ghost", value="tessera_no_such_module_here", group="tessera")
    with pytest.raises(PluginError, match="plugin 'ghost' .* could not be loaded"):
        PluginHost().load(ep)


def test_component_config_schema_marks_secrets_write_only():
    schema = GatewaySms.config_schema()
    assert schema["properties"]["api_key"]["writeOnly"] is True
    assert GatewaySms.secret_fields() == {"api_key"}

    class OptionalSecret(GatewaySms):
        class Config(BaseModel):
            password: SecretStr | None = None
            user: str = "tessera"

    assert OptionalSecret.secret_fields() == {"password"}
