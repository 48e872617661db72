"""Short ways to build order inputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tessera.orders.inputs import LineInput, MemberRef, OrderInput
from tessera.orders.money import MoneyAmount

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
