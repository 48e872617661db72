"""Money as integer minor units of a brand's currency.

The number of minor-unit digits comes from ISO 4217. No package with the
ISO 4217 table is a Tessera dependency, and the table is small and stable: all
but a handful of currencies use two decimals. So :data:`EXPONENTS` lists the
exceptions (ISO 4217, list one, "minor unit" column) and every other code uses
two. Codes without a minor unit (precious metals, XDR, XXX) are not money a
brand sells in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from tessera.errors import DomainError
from tessera.frozen import set_at_once

EXPONENTS: dict[str, int] = {
    **{
        code: 0
        for code in (
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        )
    },
    **{code: 3 for code in ("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND")},
    **{code: 4 for code in ("CLF", "UYW")},
}

# Far above any real order, far below 2**63: keeps sums of a member's orders safe.
MAX_MINOR = 10**15


def exponent(currency: str) -> int:
    """Digits after the decimal point in ``currency`` (ISO 4217 minor unit)."""
    return EXPONENTS.get(currency.upper(), 2)


# What a caller may write as an amount: ASCII digits, optionally a minus and a
# fraction. No exponent ("1e2"), no spaces, no "+", no "Infinity".
PLAIN_DECIMAL = re.compile(r"-?\d+(\.\d+)?", re.ASCII)


@set_at_once
@dataclass(frozen=True)
class MoneyAmount:
    """An amount as a caller wrote it: a decimal (the caller's text, from the
    API or a file, or a ``Decimal`` from code) in a currency."""

    amount: Decimal | str
    currency: str


def parse_amount(text: str, field: list[str]) -> Decimal:
    """The decimal a caller wrote as ``text``: a plain decimal string
    (:data:`PLAIN_DECIMAL`), refused naming ``field`` otherwise. Every money
    input (GraphQL, imports) is parsed here."""
    if not isinstance(text, str) or PLAIN_DECIMAL.fullmatch(text) is None:
        raise DomainError(
            "INVALID_AMOUNT",
            f"{text!r} is not a plain decimal amount like 129.90",
            field,
        )
    return Decimal(text)


def to_minor(value: MoneyAmount, brand_currency: str, field: list[str]) -> int:
    """Minor units of ``value``, refusing an amount that is not a plain decimal,
    another currency, a negative amount or more decimals than the currency has
    (naming ``field``)."""
    amount = value.amount
    if not isinstance(amount, Decimal):
        amount = parse_amount(amount, [*field, "amount"])
    if value.currency.upper() != brand_currency:
        raise DomainError(
            "WRONG_CURRENCY",
            f"amounts must be in the brand's currency {brand_currency}, not {value.currency}",
            [*field, "currency"],
        )
    digits = exponent(brand_currency)
    try:
        if not amount.is_finite():
            raise InvalidOperation
        scaled = amount.scaleb(digits)
        minor = int(scaled)
    except (InvalidOperation, ValueError, OverflowError):
        raise DomainError("INVALID_AMOUNT", "amount must be a number", [*field, "amount"]) from None
    if scaled != minor:
        raise DomainError(
            "INVALID_AMOUNT",
            f"{brand_currency} amounts have at most {digits} decimal places",
            [*field, "amount"],
        )
    if minor < 0:
        raise DomainError("NEGATIVE_AMOUNT", "amount must not be negative", [*field, "amount"])
    if minor > MAX_MINOR:
        raise DomainError("INVALID_AMOUNT", "amount is too large", [*field, "amount"])
    return minor


def from_minor(minor: int, currency: str) -> Decimal:
    """The decimal amount of ``minor`` units, with the currency's decimals."""
    # scaleb of an integer is exact and keeps every place: 12900 -> 129.00.
    return Decimal(minor).scaleb(-exponent(currency))
