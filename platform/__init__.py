"""Tessera: a headless membership CRM.

This module is the public plugin API. A plugin imports only from here::

    from tessera import hookimpl, ChannelSender

Everything else under ``tessera`` is internal and may change without notice.
"""

from tessera.plugin_host.components import (
    ChannelSender,
    Component,
    ComponentFamily,
    PointsRule,
    ReportType,
    SlotKind,
    TierPolicy,
)
from tessera.plugin_host.context import PluginContext
from tessera.plugin_host.events import DomainEvent
from tessera.plugin_host.markers import hookimpl, hookspec

__all__ = [
    "ChannelSender",
    "Component",
    "ComponentFamily",
    "DomainEvent",
    "PluginContext",
    "PointsRule",
    "ReportType",
    "SlotKind",
    "TierPolicy",
    "hookimpl",
    "hookspec",
]
