"""Report numbers as people and files see them: exact fractions of minor
units become decimals of the currency, rounded only here."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any

from tessera.reports.api import Unit

# Places shown past the unit: averages of money keep two more than the
# currency's minor unit, shares are shown to a hundredth of a percent.
RATIO_PLACES = 4
OTHER_PLACES = 2


def to_decimal(value: Any, unit: Unit, money_exponent: int) -> Decimal | None:
    """``value`` (an int, a Fraction, or None) in the unit people read:
    money in currency units, everything else as it is."""
    if value is None or unit is Unit.TEXT:
        return None
    exact = Fraction(value)
    if unit is Unit.MONEY:
        places = money_exponent if exact.denominator == 1 else money_exponent + 2
        exact /= 10**money_exponent
    elif unit is Unit.RATIO:
        places = RATIO_PLACES
    else:
        places = 0 if exact.denominator == 1 else OTHER_PLACES
    quantum = Decimal(1).scaleb(-places)
    return (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(
        quantum, rounding=ROUND_HALF_EVEN
    )


def cell(value: Any, unit: Unit, money_exponent: int) -> str | None:
    """A table cell as text (numbers as decimals in the column's unit)."""
    if value is None:
        return None
    if unit is Unit.TEXT:
        return str(value)
    number = to_decimal(value, unit, money_exponent)
    return None if number is None else str(number)


def shown(value: Any, unit: Unit, money_exponent: int, currency: str = "") -> str:
    """For a person: ratios as percentages, money with its currency."""
    if value is None:
        return "—"
    if unit is Unit.TEXT:
        return str(value)
    number = to_decimal(value, unit, money_exponent)
    assert number is not None
    if unit is Unit.RATIO:
        return f"{(number * 100).quantize(Decimal('0.01'))}%"
    text = f"{number:,}"
    return f"{text} {currency}".strip() if unit is Unit.MONEY else text
