"""Tessera: a headless membership CRM.

This module is the public plugin API. A plugin imports only from here::

    from tessera import hookimpl, ChannelSender, OutboundMessage, SendResult

Everything else under ``tessera`` is internal and may change without notice.
docs/plugins.md is the guide.
"""

from tessera.errors import DomainError, DomainErrors
from tessera.plugin_host.components import (
    Award,
    ChannelSender,
    Component,
    ComponentFamily,
    MemberFacts,
    NoConfig,
    OrderFacts,
    OrderLineFacts,
    OutboundMessage,
    PointsFact,
    PointsRule,
    RedemptionTerms,
    ReportType,
    RuleAward,
    SendResult,
    SlotKind,
    TierGrant,
    TierInfo,
    TierPolicy,
    TierProgress,
    TierStanding,
)
from tessera.plugin_host.context import BrandInfo, PluginContext
from tessera.plugin_host.events import DomainEvent
from tessera.plugin_host.markers import hookimpl, hookspec
from tessera.reports.api import (
    Buyer,
    Column,
    Comparison,
    Figure,
    Granularity,
    ReportContext,
    ReportParams,
    ReportResult,
    Series,
    Table,
    Unit,
    ratio,
)

__all__ = [
    "Award",
    "BrandInfo",
    "Buyer",
    "ChannelSender",
    "Column",
    "Comparison",
    "Component",
    "ComponentFamily",
    "DomainError",
    "DomainErrors",
    "DomainEvent",
    "Figure",
    "Granularity",
    "MemberFacts",
    "NoConfig",
    "OrderFacts",
    "OrderLineFacts",
    "OutboundMessage",
    "PluginContext",
    "PointsFact",
    "PointsRule",
    "RedemptionTerms",
    "ReportContext",
    "ReportParams",
    "ReportResult",
    "ReportType",
    "RuleAward",
    "SendResult",
    "Series",
    "SlotKind",
    "Table",
    "TierGrant",
    "TierInfo",
    "TierPolicy",
    "TierProgress",
    "TierStanding",
    "Unit",
    "hookimpl",
    "hookspec",
    "ratio",
]
