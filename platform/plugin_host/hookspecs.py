"""Every hook a Tessera plugin can implement. This module is the plugin
author's reference; docs/plugins.md lists each hook and a test keeps the two
in step.

Hook families:

- ``tessera_register_*`` return a list of component classes of one family.
- ``tessera_on_*`` are notifications; their return value is ignored.

An implementation may be a plain function or an ``async def``; it may accept
fewer arguments than the spec names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tessera.plugin_host.markers import hookspec

if TYPE_CHECKING:
    from tessera.plugin_host.components import (
        ChannelSender,
        PointsRule,
        ReportType,
        SlotKind,
        TierPolicy,
    )
    from tessera.plugin_host.context import PluginContext
    from tessera.plugin_host.events import DomainEvent


@hookspec
def tessera_register_tier_policies() -> list[type[TierPolicy]]:
    """Contribute tier policies: the rule deciding which tier a member is in.

    Exactly one tier policy is active per brand; enabling another switches
    over in one transaction.

    :returns: subclasses of :class:`tessera.TierPolicy`.
    """


@hookspec
def tessera_register_points_rules() -> list[type[PointsRule]]:
    """Contribute points rules (purchase ratio, campaigns, activities...).

    Any number may be active on a brand.

    :returns: subclasses of :class:`tessera.PointsRule`.
    """


@hookspec
def tessera_register_channel_senders() -> list[type[ChannelSender]]:
    """Contribute channel senders (an SMS gateway, an SMTP relay, WeChat...).

    At most one sender per channel is enabled on a brand.

    :returns: subclasses of :class:`tessera.ChannelSender`, each with ``channel``.
    """


@hookspec
def tessera_register_slot_kinds() -> list[type[SlotKind]]:
    """Contribute kinds of personalised slot (banners, recommendations).

    A brand instantiates a kind as any number of named slots.

    :returns: subclasses of :class:`tessera.SlotKind`.
    """


@hookspec
def tessera_register_report_types() -> list[type[ReportType]]:
    """Contribute report types. Any number may be enabled on a brand.

    :returns: subclasses of :class:`tessera.ReportType`.
    """


@hookspec
def tessera_on_event(event: DomainEvent, context: PluginContext) -> None:
    """Receive a domain event of a brand, after its transaction committed.

    Called only for plugins with at least one component enabled on
    ``event.brand_id``. An exception is logged with the plugin's name and
    recorded on the plugin's features of that brand; it never reaches the
    caller that caused the event.

    :param event: the :class:`tessera.DomainEvent` (``event.name`` says which).
    :param context: the brand, this plugin's component configs there, a logger.
    """
