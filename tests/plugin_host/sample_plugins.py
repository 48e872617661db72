"""Small real plugins the plugin-host tests register with ``register_plugin``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field, SecretStr

from tessera import (
    ChannelSender,
    DomainEvent,
    OutboundMessage,
    PluginContext,
    PointsRule,
    ReportContext,
    ReportParams,
    ReportResult,
    ReportType,
    SendResult,
    SlotKind,
    TierPolicy,
    hookimpl,
)


class SpendTiers(TierPolicy):
    key = "sample_spend_tiers"
    title = "Tiers by spend"

    class Config(BaseModel):
        window_days: int = Field(365, ge=1, le=3650)

    async def evaluate(
        self, member: Mapping[str, Any], tiers: Sequence[Mapping[str, Any]]
    ) -> str | None:
        return None


class VisitTiers(TierPolicy):
    key = "sample_visit_tiers"
    title = "Tiers by visits"

    async def evaluate(
        self, member: Mapping[str, Any], tiers: Sequence[Mapping[str, Any]]
    ) -> str | None:
        return None


class GatewayConfig(BaseModel):
    url: str = Field(description="the gateway's endpoint")
    api_key: SecretStr = Field(description="issued by the gateway")
    sender_id: str = Field("TESSERA", max_length=11)
    rate_per_minute: int = Field(60, ge=1, le=1000)


class GatewaySms(ChannelSender):
    key = "sample_gateway_sms"
    title = "Gateway SMS"
    channel = "sms"
    Config = GatewayConfig

    async def send(self, message: OutboundMessage) -> SendResult:
        return SendResult(accepted=True)


class SmtpEmail(ChannelSender):
    key = "sample_smtp_email"
    title = "SMTP e-mail"
    channel = "email"

    async def send(self, message: OutboundMessage) -> SendResult:
        return SendResult(accepted=True)


class Banner(SlotKind):
    key = "sample_banner"
    title = "Banner"

    class Config(BaseModel):
        image_url: str
        link: str | None = None

    async def render(self, member: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
        return [{"image": self.config.image_url}]  # type: ignore[attr-defined]


class Ratio(PointsRule):
    key = "sample_ratio"
    title = "Points per unit spent"

    class Config(BaseModel):
        points_per_unit: int = Field(1, ge=0, le=100)

    async def points_for(self, fact: Mapping[str, Any]) -> int:
        return 0


class Birthday(PointsRule):
    key = "sample_birthday"
    title = "Birthday bonus"

    async def points_for(self, fact: Mapping[str, Any]) -> int:
        return 0


class Joins(ReportType):
    key = "sample_joins"
    title = "Joins per day"

    async def run(self, context: ReportContext, params: ReportParams) -> ReportResult:
        return ReportResult()


class Sample:
    """One plugin contributing a component of every family, recording events."""

    def __init__(self) -> None:
        self.received: list[tuple[DomainEvent, PluginContext]] = []

    @hookimpl
    def tessera_register_tier_policies(self) -> list[type[TierPolicy]]:
        return [SpendTiers, VisitTiers]

    @hookimpl
    def tessera_register_points_rules(self) -> list[type[PointsRule]]:
        return [Ratio, Birthday]

    @hookimpl
    def tessera_register_channel_senders(self) -> list[type[ChannelSender]]:
        return [GatewaySms, SmtpEmail]

    @hookimpl
    def tessera_register_slot_kinds(self) -> list[type[SlotKind]]:
        return [Banner]

    @hookimpl
    def tessera_register_report_types(self) -> list[type[ReportType]]:
        return [Joins]

    @hookimpl
    def tessera_on_event(self, event: DomainEvent, context: PluginContext) -> None:
        self.received.append((event, context))


def listener(key: str, *, fail: bool = False, is_async: bool = False) -> Any:
    """A plugin with one points rule ``key`` whose event hook records (or raises)."""

    rule = type(key.title(), (Birthday,), {"key": key, "title": key})

    class Listener:
        def __init__(self) -> None:
            self.received: list[DomainEvent] = []

        @hookimpl
        def tessera_register_points_rules(self) -> list[type[PointsRule]]:
            return [rule]

    def record(self: Any, event: DomainEvent) -> None:
        if fail:
            raise RuntimeError(f"{key} is broken")
        self.received.append(event)

    if is_async:

        async def on_event(self: Any, event: DomainEvent) -> None:
            record(self, event)

        Listener.tessera_on_event = hookimpl(on_event)  # type: ignore[attr-defined]
    else:
        Listener.tessera_on_event = hookimpl(record)  # type: ignore[attr-defined]
    return Listener()
