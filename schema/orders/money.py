"""Money as the API shows it (API.md, Shapes): a decimal string and a currency."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

from tessera.orders.money import MoneyAmount, from_minor
from tessera.schema.scalars import SPECIFIED

AmountText = NewType("AmountText", str)
"""A money amount exactly as the caller wrote it; the domain parses it
(:func:`tessera.orders.money.parse_amount`), so a loose one ("1e2", " 5.00")
is a ``UserError`` naming its field rather than a GraphQL coercion error or,
worse, accepted."""


def _as_written(value: object) -> object:
    return value if isinstance(value, str) else str(value)


# The SDL keeps one `Decimal` scalar (with its @specifiedBy): outputs serialise
# a Decimal as before, inputs keep the caller's text. These are all the
# schema's scalar overrides.
SCALAR_OVERRIDES: dict[object, ScalarDefinition] = {
    **SPECIFIED,
    **dict.fromkeys(
        (Decimal, AmountText), dataclasses.replace(SPECIFIED[Decimal], parse_value=_as_written)
    ),
}


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
        "An amount of money. The currency must be the brand's; the amount is a plain "
        "decimal string (`-?[0-9]+(\\.[0-9]+)?`: no exponent, no spaces), may have at "
        "most the currency's minor-unit digits (2 for CNY and USD, 0 for JPY) and must "
        "not be negative."
    )
)
class MoneyInput:
    amount: AmountText = strawberry.field(description='Decimal string, e.g. `"129.90"`.')
    currency: str = strawberry.field(description="ISO 4217 code; must be the brand's currency.")

    def to_domain(self) -> MoneyAmount:
        return MoneyAmount(self.amount, self.currency)
