"""Money as the API shows it (API.md, Shapes): a decimal string and a currency."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from tessera.orders.money import MoneyAmount, from_minor


@strawberry.type(description="An amount of money in the brand's currency.")
class Money:
    amount: Decimal = strawberry.field(
        description='Decimal string with the currency\'s minor-unit digits, e.g. `"129.90"`.'
    )
    currency: str = strawberry.field(description="ISO 4217 code, e.g. `CNY`.")

    @classmethod
    def of(cls, minor: int, currency: str) -> Money:
        return cls(amount=from_minor(minor, currency), currency=currency)


@strawberry.input(
    description=(
        "An amount of money. The currency must be the brand's; the amount may have at "
        "most the currency's minor-unit digits (2 for CNY and USD, 0 for JPY) and must "
        "not be negative."
    )
)
class MoneyInput:
    amount: Decimal = strawberry.field(description='Decimal string, e.g. `"129.90"`.')
    currency: str = strawberry.field(description="ISO 4217 code; must be the brand's currency.")

    def to_domain(self) -> MoneyAmount:
        return MoneyAmount(self.amount, self.currency)
