"""Every hook a Tessera plugin can implement. This module is the plugin
author's reference; docs/plugins.md lists each hook and a test keeps the two
in step.

Hook families:

- ``tessera_register_*`` return a list of component classes of one family.
  They are called once, when the plugin is registered at start-up, and must
  be plain (not ``async``) functions.
- ``tessera_on_*`` are notifications; their return value is ignored. They may
  be plain functions or ``async def``.

An implementation may accept fewer arguments than the spec names (pluggy
passes only those it asks for), so specs grow by new arguments, and old
plugins keep working.

Domain events arrive through the one generic hook ``tessera_on_event``
rather than a hook per event: the set of events grows with Tessera, and a
plugin written today receives tomorrow's events without a new hookspec; it
filters on ``event.name``.

(The ``raise NotImplementedError`` bodies are for type checkers: pluggy never
calls a spec.)
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
    over in one transaction, and the active one cannot be disabled on its own.

    Example::

        @hookimpl
        def tessera_register_tier_policies():
            return [SpendTierPolicy]

    :returns: subclasses of :class:`tessera.TierPolicy`.
    """
    raise NotImplementedError


@hookspec
def tessera_register_points_rules() -> list[type[PointsRule]]:
    """Contribute points rules (purchase ratio, campaigns, activities...).

    Any number may be active on a brand.

    Example::

        @hookimpl
        def tessera_register_points_rules():
            return [PurchaseRatioRule, DoublePointsDay]

    :returns: subclasses of :class:`tessera.PointsRule`.
    """
    raise NotImplementedError


@hookspec
def tessera_register_channel_senders() -> list[type[ChannelSender]]:
    """Contribute channel senders (an SMS gateway, an SMTP relay, WeChat...).

    At most one sender per channel is enabled on a brand: enabling a second
    one for the same channel is refused until the first is disabled.

    Example::

        @hookimpl
        def tessera_register_channel_senders():
            return [AcmeSmsSender]

    :returns: subclasses of :class:`tessera.ChannelSender`, each naming its
        ``channel`` (``"sms"``, ``"email"``, ``"wechat"``, ``"push"``).
    """
    raise NotImplementedError


@hookspec
def tessera_register_slot_kinds() -> list[type[SlotKind]]:
    """Contribute kinds of personalised slot (banners, recommendations).

    A brand instantiates a kind as any number of named slots, each with its
    own config (``setFeature(input: {component, slot: "home-top", config})``).

    Example::

        @hookimpl
        def tessera_register_slot_kinds():
            return [BannerSlot]

    :returns: subclasses of :class:`tessera.SlotKind`.
    """
    raise NotImplementedError


@hookspec
def tessera_register_report_types() -> list[type[ReportType]]:
    """Contribute report types. Any number may be enabled on a brand.

    Example::

        @hookimpl
        def tessera_register_report_types():
            return [JoinsPerDayReport]

    :returns: subclasses of :class:`tessera.ReportType`.
    """
    raise NotImplementedError


@hookspec
def tessera_on_event(event: DomainEvent, context: PluginContext) -> None:
    """Receive a domain event of a brand, after its transaction committed.

    Called only for plugins with at least one component enabled on
    ``event.brand_id``, once per event. An exception is logged with the
    plugin's name and recorded as ``lastError`` on the plugin's features of
    that brand; it never reaches the caller that caused the event, and other
    plugins still receive the event.

    Example::

        @hookimpl
        async def tessera_on_event(event, context):
            if event.name == "member.joined":
                context.log.info("welcome %s", event.payload["member_id"])

    :param event: the :class:`tessera.DomainEvent`; ``event.name`` says which
        (``feature.changed``, ``member.joined``, ...), ``event.payload`` holds
        its facts.
    :param context: the :class:`tessera.PluginContext`: the brand, the
        config of each of this plugin's components enabled there, a logger
        named after the plugin.
    """
