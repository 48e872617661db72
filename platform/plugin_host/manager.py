"""Building the plugin manager and asking it for components."""

from __future__ import annotations

import importlib.metadata
import inspect
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from tessera.plugin_host import hookspecs
from tessera.plugin_host.components import FAMILY_BASES, Component, ComponentFamily
from tessera.plugin_host.markers import PROJECT

log = logging.getLogger("tessera.plugins")

REGISTER_HOOKS: dict[ComponentFamily, str] = {
    ComponentFamily.TIER_POLICY: "tessera_register_tier_policies",
    ComponentFamily.POINTS_RULE: "tessera_register_points_rules",
    ComponentFamily.CHANNEL_SENDER: "tessera_register_channel_senders",
    ComponentFamily.SLOT_KIND: "tessera_register_slot_kinds",
    ComponentFamily.REPORT_TYPE: "tessera_register_report_types",
}


class PluginError(Exception):
    """A plugin is broken in a way that stops Tessera from starting."""


@dataclass(frozen=True)
class RegisteredComponent:
    cls: type[Component]
    plugin: str

    @property
    def key(self) -> str:
        return self.cls.key

    @property
    def family(self) -> ComponentFamily:
        return self.cls.family


@dataclass(frozen=True)
class PluginInfo:
    name: str
    version: str | None
    components: list[RegisteredComponent] = field(default_factory=list)


class PluginHost:
    """The pluggy manager plus the components its plugins contributed."""

    def __init__(self, trace: bool = False) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self._versions: dict[str, str | None] = {}
        self._components: dict[str, RegisteredComponent] = {}
        if trace:
            self.pm.trace.root.setwriter(log.debug)
            self.pm.enable_tracing()

    @classmethod
    def from_entry_points(cls, only: Iterable[str] | None = None, trace: bool = False) -> PluginHost:
        """Load every plugin of the ``tessera`` entry-point group (built-ins
        included), or only those named in ``only``."""
        host = cls(trace=trace)
        wanted = set(only) if only is not None else None
        for ep in importlib.metadata.entry_points(group=PROJECT):
            if wanted is not None and ep.name not in wanted:
                continue
            if host.pm.has_plugin(ep.name):
                continue
            host.register(ep.load(), ep.name, ep.dist.version if ep.dist else None)
        return host

    def register(self, plugin: object, name: str, version: str | None = None) -> None:
        self.pm.register(plugin, name=name)
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            self.pm.unregister(name=name)
            raise PluginError(f"plugin {name!r}: {exc}") from exc
        self._versions[name] = version
        self._collect()

    def unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self._versions.pop(name, None)
        self._collect()

    def _collect(self) -> None:
        components: dict[str, RegisteredComponent] = {}
        for family, hook_name in REGISTER_HOOKS.items():
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                for cls in impl.function() or []:
                    _check_component(cls, family, impl.plugin_name)
                    other = components.get(cls.key)
                    if other is not None:
                        raise PluginError(
                            f"component key {cls.key!r} is registered by both "
                            f"{other.plugin!r} and {impl.plugin_name!r}"
                        )
                    components[cls.key] = RegisteredComponent(cls, impl.plugin_name)
        self._components = components

    def component(self, key: str) -> RegisteredComponent | None:
        return self._components.get(key)

    def components(self) -> list[RegisteredComponent]:
        return sorted(self._components.values(), key=lambda c: (c.family, c.key))

    def plugins(self) -> list[PluginInfo]:
        by_plugin: dict[str, list[RegisteredComponent]] = {}
        for component in self.components():
            by_plugin.setdefault(component.plugin, []).append(component)
        return [
            PluginInfo(name, self._versions.get(name), by_plugin.get(name, []))
            for name, _ in sorted(self.pm.list_name_plugin())
            if name in self._versions
        ]

    def event_impls(self) -> list[tuple[str, Any]]:
        """(plugin name, function) of each ``tessera_on_event`` implementation."""
        return [(i.plugin_name, i.function) for i in self.pm.hook.tessera_on_event.get_hookimpls()]


def _check_component(cls: Any, family: ComponentFamily, plugin: str) -> None:
    base = FAMILY_BASES[family]
    if not (inspect.isclass(cls) and issubclass(cls, base)):
        raise PluginError(f"plugin {plugin!r} registered {cls!r} as a {family}, not a {base.__name__}")
    for attr in ("key", "title"):
        if not getattr(cls, attr, None):
            raise PluginError(f"plugin {plugin!r}: {cls.__name__} has no {attr}")
    if family is ComponentFamily.CHANNEL_SENDER and not getattr(cls, "channel", None):
        raise PluginError(f"plugin {plugin!r}: sender {cls.key!r} names no channel")
    if inspect.isabstract(cls):
        raise PluginError(f"plugin {plugin!r}: {cls.__name__} leaves abstract methods unimplemented")
