"""Building the plugin manager and asking it for components."""

from __future__ import annotations

import importlib.metadata
import inspect
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy
from pydantic import BaseModel

from tessera.plugin_host import hookspecs
from tessera.plugin_host.components import FAMILY_BASES, Component, ComponentFamily
from tessera.plugin_host.markers import PROJECT

log = logging.getLogger("tessera.plugins")
trace_log = logging.getLogger("tessera.plugins.trace")

REGISTER_HOOKS: dict[ComponentFamily, str] = {
    ComponentFamily.TIER_POLICY: "tessera_register_tier_policies",
    ComponentFamily.POINTS_RULE: "tessera_register_points_rules",
    ComponentFamily.CHANNEL_SENDER: "tessera_register_channel_senders",
    ComponentFamily.SLOT_KIND: "tessera_register_slot_kinds",
    ComponentFamily.REPORT_TYPE: "tessera_register_report_types",
}

# Keys are stored in brand_feature rows and typed by operators into setFeature,
# so they must stay stable and boring.
COMPONENT_KEY = re.compile(r"^[a-z][a-z0-9_.-]{0,99}$")


class PluginError(Exception):
    """A plugin is broken in a way that stops Tessera from starting."""


@dataclass(frozen=True)
class RegisteredComponent:
    """A component class and the name of the plugin that contributed it."""

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
    """An installed plugin as ``tessera plugins`` and the ``plugins`` query show it."""

    name: str
    version: str | None
    components: list[RegisteredComponent] = field(default_factory=list)


class PluginHost:
    """The pluggy manager plus the components its plugins contributed.

    Build it with :meth:`from_entry_points` (what start-up does) or empty and
    :meth:`register` plugins by hand (what tests do).
    """

    def __init__(self, trace: bool = False) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self._versions: dict[str, str | None] = {}
        self._components: dict[str, RegisteredComponent] = {}
        self._event_callers: dict[str, pluggy.HookCaller] = {}
        # Counts registrations: what was built from this host's components
        # (plugin delivery's configs) is stale once it moves.
        self.generation = 0
        if trace:
            self.pm.trace.root.setwriter(lambda message: trace_log.info(message.rstrip()))
            self.pm.enable_tracing()

    @classmethod
    def from_entry_points(
        cls, only: Iterable[str] | None = None, trace: bool = False
    ) -> PluginHost:
        """Load every plugin of the ``tessera`` entry-point group (the built-ins
        register there too), or only those named in ``only``."""
        host = cls(trace=trace)
        wanted = set(only) if only is not None else None
        for ep in sorted(importlib.metadata.entry_points(group=PROJECT), key=lambda e: e.name):
            if wanted is not None and ep.name not in wanted:
                continue
            if host.pm.has_plugin(ep.name):
                continue
            host.load(ep)
        if wanted:
            missing = sorted(wanted - set(host._versions))
            if missing:
                log.warning(
                    "TESSERA_LOAD_PLUGINS names plugins that are not installed: %s",
                    ", ".join(missing),
                )
        host.pm.check_pending()
        return host

    def load(self, ep: importlib.metadata.EntryPoint) -> None:
        """Import and register the plugin one entry point names."""
        try:
            plugin = ep.load()
        except Exception as exc:
            raise PluginError(
                f"plugin {ep.name!r} ({ep.value}) could not be loaded: {exc!r}"
            ) from exc
        self.register(plugin, ep.name, ep.dist.version if ep.dist else None)

    def register(self, plugin: object, name: str, version: str | None = None) -> None:
        """Register a plugin and collect its components; on any problem the
        plugin is left unregistered and :class:`PluginError` says what is wrong."""
        try:
            self.pm.register(plugin, name=name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            raise PluginError(f"plugin {name!r}: {exc}") from exc
        try:
            self.pm.check_pending()
            components = self._collect()
        except (pluggy.PluginValidationError, PluginError) as exc:
            self.pm.unregister(name=name)
            if isinstance(exc, PluginError):
                raise
            raise PluginError(f"plugin {name!r}: {exc}") from exc
        self._versions[name] = version
        self._components = components
        self._event_callers.clear()
        self.generation += 1

    def unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self._versions.pop(name, None)
        self._components = self._collect()
        self._event_callers.clear()
        self.generation += 1

    def _only(self, hook_name: str, plugin_name: str) -> pluggy.HookCaller:
        # A hook caller reaching one plugin: its failure cannot hide another's
        # result, and the call still goes through pluggy (so tracing sees it).
        others = [p for n, p in self.pm.list_name_plugin() if n != plugin_name]
        return self.pm.subset_hook_caller(hook_name, remove_plugins=others)

    def _collect(self) -> dict[str, RegisteredComponent]:
        components: dict[str, RegisteredComponent] = {}
        for family, hook_name in REGISTER_HOOKS.items():
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                plugin = impl.plugin_name
                for returned in self._only(hook_name, plugin)():
                    if inspect.isawaitable(returned):
                        if inspect.iscoroutine(returned):
                            returned.close()
                        raise PluginError(
                            f"plugin {plugin!r}: {hook_name} must be a plain function, not async"
                        )
                    if not isinstance(returned, list | tuple):
                        raise PluginError(
                            f"plugin {plugin!r}: {hook_name} must return a list of "
                            f"component classes, not {type(returned).__name__}"
                        )
                    for cls in returned:
                        _check_component(cls, family, plugin)
                        other = components.get(cls.key)
                        if other is not None:
                            raise PluginError(
                                f"component key {cls.key!r} is registered by both "
                                f"{other.plugin!r} and {plugin!r}"
                            )
                        components[cls.key] = RegisteredComponent(cls, plugin)
        return components

    def component(self, key: str) -> RegisteredComponent | None:
        return self._components.get(key)

    def components(self) -> list[RegisteredComponent]:
        return sorted(self._components.values(), key=lambda c: (c.family, c.key))

    def plugins(self) -> list[PluginInfo]:
        """Every registered plugin with its version and components, by name."""
        by_plugin: dict[str, list[RegisteredComponent]] = {}
        for component in self.components():
            by_plugin.setdefault(component.plugin, []).append(component)
        return [
            PluginInfo(name, self._versions.get(name), by_plugin.get(name, []))
            for name, _ in sorted(self.pm.list_name_plugin(), key=lambda item: item[0])
            if name in self._versions
        ]

    def event_listeners(self) -> list[str]:
        """Names of the plugins implementing ``tessera_on_event``."""
        return [impl.plugin_name for impl in self.pm.hook.tessera_on_event.get_hookimpls()]

    def event_caller(self, plugin: str) -> pluggy.HookCaller:
        """``tessera_on_event`` reaching only ``plugin``; returns the list of results."""
        caller = self._event_callers.get(plugin)
        if caller is None:
            caller = self._event_callers[plugin] = self._only("tessera_on_event", plugin)
        return caller


def _check_component(cls: Any, family: ComponentFamily, plugin: str) -> None:
    base = FAMILY_BASES[family]
    if not (inspect.isclass(cls) and issubclass(cls, base)):
        raise PluginError(
            f"plugin {plugin!r} returned {cls!r} from the {family} hook; "
            f"it must be a subclass of tessera.{base.__name__}"
        )
    name = cls.__name__
    for attr in ("key", "title"):
        if not isinstance(getattr(cls, attr, None), str) or not getattr(cls, attr):
            raise PluginError(f"plugin {plugin!r}: {name} has no {attr}")
    if not COMPONENT_KEY.match(cls.key):
        raise PluginError(
            f"plugin {plugin!r}: {name}.key {cls.key!r} must be lower-case letters, digits, "
            '"_", "." or "-", starting with a letter'
        )
    if not (inspect.isclass(cls.Config) and issubclass(cls.Config, BaseModel)):
        raise PluginError(f"plugin {plugin!r}: {name}.Config must be a pydantic BaseModel")
    if family is ComponentFamily.CHANNEL_SENDER and not getattr(cls, "channel", None):
        raise PluginError(f"plugin {plugin!r}: sender {cls.key!r} names no channel")
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(getattr(cls, "__abstractmethods__", ())))
        raise PluginError(
            f"plugin {plugin!r}: {name} leaves abstract methods unimplemented: {missing}"
        )
