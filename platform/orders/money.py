"""Money as integer minor units of a brand's currency.

The number of minor-unit digits comes from ISO 4217. No package with the
ISO 4217 table is a Tessera dependency, and the table is small and stable: all
but a handful of currencies use two decimals. So :data:`EXPONENTS` lists the
exceptions (ISO 4217, list one, "minor unit" column) and every other code uses
two. Codes without a minor unit (precious metals, XDR, XXX) are not money a
brand sells in.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from tessera.errors import DomainError

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


@dataclass(frozen=True)
class MoneyAmount:
    """An amount as a caller wrote it: a decimal in a currency."""

    amount: Decimal
    currency: str


def to_minor(value: MoneyAmount, brand_currency: str, field: list[str]) -> int:
    """Minor units of ``value``, refusing another currency, a negative amount or
    more decimals than the currency has (naming ``field``)."""
    if value.currency.upper() != brand_currency:
        raise DomainError(
            "WRONG_CURRENCY",
            f"amounts must be in the brand's currency {brand_currency}, not {value.currency}",
            [*field, "currency"],
        )
    digits = exponent(brand_currency)
    try:
        if not value.amount.is_finite():
            raise InvalidOperation
        scaled = value.amount.scaleb(digits)
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
    digits = exponent(currency)
    return (Decimal(minor).scaleb(-digits)).quantize(Decimal(1).scaleb(-digits))
