"""Short ways to build order inputs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tessera import DomainEvent, PointsRule, hookimpl
from tessera.features.service import set_feature
from tessera.orders.inputs import LineInput, MemberRef, OrderInput
from tessera.orders.money import MoneyAmount
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand

T0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


def money(amount: str | int, currency: str = "CNY") -> MoneyAmount:
    return MoneyAmount(Decimal(str(amount)), currency)


def order_input(
    external_id: str,
    member_id: int,
    *,
    paid: str = "100.00",
    lines: list[tuple[str, int, str]] | None = None,
    at: datetime = T0,
    currency: str = "CNY",
    **extra: Any,
) -> OrderInput:
    """An order of ``lines`` given as (sku, quantity, unit price)."""
    return OrderInput(
        external_id=external_id,
        member=MemberRef(member_id=member_id),
        occurred_at=at,
        amount_paid=money(paid, currency),
        lines=[
            LineInput(sku=sku, quantity=q, unit_price=money(price, currency))
            for sku, q, price in (lines if lines is not None else [("SKU-1", 2, "50.00")])
        ],
        **extra,
    )


def days(n: float) -> timedelta:
    return timedelta(days=n)


class _Rule(PointsRule):
    key = "facts_listener_rule"
    title = "Records the domain events it receives"

    async def points_for(self, fact: Mapping[str, Any]) -> int:
        return 0


class FactsListener:
    """A plugin with one component, recording the domain events it receives."""

    def __init__(self) -> None:
        self.received: list[DomainEvent] = []

    @hookimpl
    def tessera_register_points_rules(self) -> list[type[PointsRule]]:
        return [_Rule]

    @hookimpl
    def tessera_on_event(self, event: DomainEvent) -> None:
        self.received.append(event)


async def listen(brand: Brand, register_plugin: Callable[[object, str], None]) -> FactsListener:
    """A :class:`FactsListener` registered and enabled on ``brand``."""
    listener = FactsListener()
    register_plugin(listener, "facts-listener")
    await set_feature(BrandScope(brand), _Rule.key, enabled=True)
    return listener
