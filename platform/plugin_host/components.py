"""Base classes of the five component families a plugin can contribute.

A component is a class with a stable ``key``, a ``title``, a ``description``
and a pydantic ``Config`` model. The admin UI renders a form from
``Config.model_json_schema()`` and the API validates against it. Fields typed
``pydantic.SecretStr`` are secrets: write-only through the API and encrypted
at rest.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, SecretStr


class ComponentFamily(StrEnum):
    TIER_POLICY = "tier_policy"
    POINTS_RULE = "points_rule"
    CHANNEL_SENDER = "channel_sender"
    SLOT_KIND = "slot_kind"
    REPORT_TYPE = "report_type"


class NoConfig(BaseModel):
    """A component with nothing to configure."""

    model_config = ConfigDict(extra="forbid")


class Component:
    """What every component has. Subclass one of the family classes below."""

    family: ClassVar[ComponentFamily]
    key: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str] = ""
    Config: ClassVar[type[BaseModel]] = NoConfig

    def __init__(self, config: BaseModel) -> None:
        self.config = config

    @classmethod
    def secret_fields(cls) -> frozenset[str]:
        """Names of the config fields that are write-only and encrypted."""
        return frozenset(
            name for name, info in cls.Config.model_fields.items() if _is_secret(info.annotation)
        )

    @classmethod
    def config_schema(cls) -> dict[str, Any]:
        return cls.Config.model_json_schema()


def _is_secret(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    return SecretStr in getattr(annotation, "__args__", ())


class TierPolicy(Component, ABC):
    """Decides which tier a member belongs in. Exactly one is active per brand."""

    family = ComponentFamily.TIER_POLICY

    @abstractmethod
    async def evaluate(
        self, member: Mapping[str, Any], tiers: Sequence[Mapping[str, Any]]
    ) -> str | None:
        """Return the code of the tier the member qualifies for, or None to keep it.

        Example::

            async def evaluate(self, member, tiers):
                spent = member["stats"]["total_spent"]
                eligible = [t for t in tiers if spent >= t["threshold"]]
                return max(eligible, key=lambda t: t["rank"])["code"] if eligible else None
        """


class PointsRule(Component, ABC):
    """Awards points for a fact (an order, a check-in, ...). Any number may be active."""

    family = ComponentFamily.POINTS_RULE

    @abstractmethod
    async def points_for(self, fact: Mapping[str, Any]) -> int:
        """Return the points this rule awards for ``fact`` (0 for none).

        Example::

            async def points_for(self, fact):
                if fact["kind"] != "order":
                    return 0
                return int(fact["amount_paid"] * self.config.points_per_unit)
        """


@dataclass(frozen=True)
class OutboundMessage:
    """One message to one recipient on one channel."""

    to: str
    body: str
    subject: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    accepted: bool
    provider_id: str | None = None
    error: str | None = None


class ChannelSender(Component, ABC):
    """Delivers messages on one channel. At most one sender per channel per brand."""

    family = ComponentFamily.CHANNEL_SENDER
    channel: ClassVar[str]  # "sms", "email", "wechat", "push"

    @abstractmethod
    async def send(self, message: OutboundMessage) -> SendResult:
        """Deliver ``message``; raise only for failures worth a retry.

        Example::

            async def send(self, message):
                resp = await client.post(self.config.url, json={"to": message.to,
                                                               "text": message.body})
                return SendResult(accepted=resp.is_success, provider_id=resp.json()["id"])
        """


class SlotKind(Component, ABC):
    """A kind of personalised slot (banner, recommendations). A brand creates
    named slots of a kind, each with its own config."""

    family = ComponentFamily.SLOT_KIND

    @abstractmethod
    async def render(self, member: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
        """Return the items to show this member (None: an anonymous visitor).

        Example::

            async def render(self, member):
                return [{"image": self.config.image_url, "link": self.config.link}]
        """


@dataclass(frozen=True)
class ReportResult:
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]


class ReportType(Component, ABC):
    """A report an operator can run. Any number may be enabled."""

    family = ComponentFamily.REPORT_TYPE

    @abstractmethod
    async def run(self, params: Mapping[str, Any]) -> ReportResult:
        """Compute the report (aggregate in SQL, never loop over members).

        Example::

            async def run(self, params):
                return ReportResult(columns=["day", "joined"], rows=[...])
        """


FAMILY_BASES: dict[ComponentFamily, type[Component]] = {
    ComponentFamily.TIER_POLICY: TierPolicy,
    ComponentFamily.POINTS_RULE: PointsRule,
    ComponentFamily.CHANNEL_SENDER: ChannelSender,
    ComponentFamily.SLOT_KIND: SlotKind,
    ComponentFamily.REPORT_TYPE: ReportType,
}
