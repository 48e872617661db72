"""Tessera: a headless membership CRM.

This module is the public plugin API. A plugin imports only from here::

    from tessera import hookimpl, ChannelSender, OutboundMessage, SendResult

Everything else under ``tessera`` is internal and may change without notice.
docs/plugins.md is the guide.
"""

import httpx

from tessera import runtime as _runtime
from tessera.errors import DomainError, DomainErrors
from tessera.plugin_host.components import (
    Award,
    BannerCreative,
    ChannelSender,
    Component,
    ComponentFamily,
    ItemFacts,
    ItemScore,
    ItemSelection,
    MemberFacts,
    NoConfig,
    OrderFacts,
    OrderLineFacts,
    OutboundMessage,
    PointsFact,
    PointsRule,
    Receipt,
    ReceiptRefused,
    ReceiptStatus,
    RedemptionTerms,
    ReportType,
    RuleAward,
    SendResult,
    SendStatus,
    SlotData,
    SlotEntry,
    SlotKind,
    SlotMember,
    SlotNeeds,
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


def http_client() -> httpx.AsyncClient:
    """The process's shared HTTP client, for senders and other plugins that
    call out: connections to a provider are reused between calls. Give each
    request its own ``timeout``; redirects are not followed."""
    return _runtime.current().http()


__all__ = [
    "Award",
    "BannerCreative",
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
    "ItemFacts",
    "ItemScore",
    "ItemSelection",
    "MemberFacts",
    "NoConfig",
    "OrderFacts",
    "OrderLineFacts",
    "OutboundMessage",
    "PluginContext",
    "PointsFact",
    "PointsRule",
    "Receipt",
    "ReceiptRefused",
    "ReceiptStatus",
    "RedemptionTerms",
    "ReportContext",
    "ReportParams",
    "ReportResult",
    "ReportType",
    "RuleAward",
    "SendResult",
    "SendStatus",
    "Series",
    "SlotData",
    "SlotEntry",
    "SlotKind",
    "SlotMember",
    "SlotNeeds",
    "Table",
    "TierGrant",
    "TierInfo",
    "TierPolicy",
    "TierProgress",
    "TierStanding",
    "Unit",
    "hookimpl",
    "hookspec",
    "http_client",
    "ratio",
]
