"""Tessera: a headless membership CRM.

This module is the public plugin API. A plugin imports only from here::

    from tessera import hookimpl, ChannelSender, OutboundMessage, SendResult

Everything else under ``tessera`` is internal and may change without notice.
docs/plugins.md is the guide.
"""

from tessera.plugin_host.components import (
    ChannelSender,
    Component,
    ComponentFamily,
    NoConfig,
    OutboundMessage,
    PointsRule,
    ReportResult,
    ReportType,
    SendResult,
    SlotKind,
    TierPolicy,
)
from tessera.plugin_host.context import BrandInfo, PluginContext
from tessera.plugin_host.events import DomainEvent
from tessera.plugin_host.markers import hookimpl, hookspec

__all__ = [
    "BrandInfo",
    "ChannelSender",
    "Component",
    "ComponentFamily",
    "DomainEvent",
    "NoConfig",
    "OutboundMessage",
    "PluginContext",
    "PointsRule",
    "ReportResult",
    "ReportType",
    "SendResult",
    "SlotKind",
    "TierPolicy",
    "hookimpl",
    "hookspec",
]
