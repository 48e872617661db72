"""Short ways to write coupon test inputs."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from tessera.errors import DomainError
from tessera.orders.money import MoneyAmount

# 10:00 in Shanghai (brand A's timezone).
T0 = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)


def cny(amount: str) -> MoneyAmount:
    return MoneyAmount(Decimal(amount), "CNY")


def usd(amount: str) -> MoneyAmount:
    return MoneyAmount(Decimal(amount), "USD")


def d(text: str) -> date:
    return date.fromisoformat(text)


def fields_of(error: DomainError) -> set[tuple[str, str]]:
    errors = getattr(error, "errors", [error])
    return {(e.code, ".".join(e.field or [])) for e in errors}
