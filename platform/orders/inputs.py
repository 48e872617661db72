"""What callers pass to record orders and refunds, and its validation.

Validation is pure (no database): it turns an input into the exact values to
store, in minor units, or raises :class:`DomainErrors` naming every bad field.
The fingerprint of the normalised values is what idempotency compares: the
same ``externalId`` with another fingerprint is a conflict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tessera.errors import DomainError, DomainErrors
from tessera.frozen import set_at_once
from tessera.idempotency import fingerprint
from tessera.orders.money import MAX_MINOR, PLAIN_DECIMAL, MoneyAmount, exponent, to_minor

MAX_LINES = 500
MAX_COUPONS = 50
# The columns' lengths (orders/models.py), named once for both cleaning paths.
EXTERNAL_ID_MAX = 128
SKU_MAX = 64
LINE_NAME_MAX = 200
CATEGORY_MAX = 100
COUPON_CODE_MAX = 64
STORE_CODE_MAX = 64
CHANNEL_MAX = 32
# Clocks of shops and POS drift; a fact from further ahead is a mistake.
FUTURE_TOLERANCE = timedelta(days=1)


@set_at_once
@dataclass(frozen=True)
class MemberRef:
    """Whose fact it is: a member id, or an identity (kind and value)."""

    member_id: int | None = None
    identity_kind: str | None = None
    identity_value: str | None = None

    @property
    def identity(self) -> tuple[str, str] | None:
        if self.identity_kind is None or self.identity_value is None:
            return None
        return (self.identity_kind, self.identity_value)


@set_at_once
@dataclass(frozen=True)
class LineInput:
    sku: str
    quantity: int
    unit_price: MoneyAmount
    name: str = ""
    category: str | None = None
    retail_price: MoneyAmount | None = None


@set_at_once
@dataclass(frozen=True)
class OrderInput:
    external_id: str
    member: MemberRef
    occurred_at: datetime
    amount_paid: MoneyAmount
    lines: list[LineInput] = field(default_factory=list)
    retail_amount: MoneyAmount | None = None
    discount: MoneyAmount | None = None
    coupon_codes: list[str] = field(default_factory=list)
    store_code: str | None = None
    channel: str | None = None
    hold_id: int | None = None
    # False for history from another system (imports): its codes are kept as
    # text, not looked up and redeemed.
    redeem_coupons: bool = True


@dataclass(frozen=True)
class RefundLineInput:
    line_no: int
    quantity: int
    amount: MoneyAmount | None = None


@dataclass(frozen=True)
class RefundInput:
    """A refund of ``order_id`` or ``order_external_id``: the whole remainder
    (no lines, no amount), some money (``amount`` only) or some lines."""

    external_id: str
    occurred_at: datetime
    order_id: int | None = None
    order_external_id: str | None = None
    amount: MoneyAmount | None = None
    lines: list[RefundLineInput] | None = None
    reason: str | None = None


@set_at_once
@dataclass(frozen=True)
class CleanLine:
    line_no: int
    sku: str
    name: str
    category: str | None
    quantity: int
    unit_price: int
    retail_price: int
    paid_amount: int


@set_at_once
@dataclass(frozen=True)
class CleanOrder:
    external_id: str
    member: MemberRef
    occurred_at: datetime
    amount_paid: int
    retail_amount: int
    discount: int
    coupon_codes: list[str]
    store_code: str | None
    channel: str | None
    lines: list[CleanLine]
    fingerprint: str
    hold_id: int | None = None
    redeem_coupons: bool = True

    @property
    def units(self) -> int:
        return sum(line.quantity for line in self.lines)


class Problems:
    """Gathers every problem of one input so the caller sees them all at once."""

    def __init__(self) -> None:
        self.errors: list[DomainError] = []

    def add(self, code: str, message: str, path: list[str]) -> None:
        self.errors.append(DomainError(code, message, path))

    def minor(self, value: MoneyAmount, currency: str, path: list[str]) -> int:
        try:
            return to_minor(value, currency, path)
        except DomainError as error:
            self.errors.append(error)
            return 0

    def text(self, value: str | None, path: list[str], *, limit: int, required: bool) -> str | None:
        if value is None or not value.strip():
            if required:
                self.add("REQUIRED", "must not be empty", path)
            return None
        value = value.strip()
        if len(value) > limit:
            self.add("TOO_LONG", f"must be at most {limit} characters", path)
        return value

    def raise_if_any(self) -> None:
        if self.errors:
            raise DomainErrors(self.errors)


def check_time(c: Problems, value: datetime, path: list[str], now: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        c.add("INVALID_TIME", "must carry a UTC offset, e.g. 2024-05-01T10:00:00+08:00", path)
        return value.replace(tzinfo=UTC)
    if value > now + FUTURE_TOLERANCE:
        c.add("INVALID_TIME", "must not be in the future", path)
    return value.astimezone(UTC)


def check_member(c: Problems, ref: MemberRef, path: list[str]) -> None:
    if (ref.member_id is None) == (ref.identity is None):
        c.add("INVALID", "give exactly one of memberId and identity", [*path, "memberId"])


def clean_order(order: OrderInput, currency: str, now: datetime, path: list[str]) -> CleanOrder:
    """The values to store for ``order`` (amounts in minor units of ``currency``)."""
    try:
        return _clean_plain(order, currency, now)
    except Exception:
        # Anything out of the ordinary, a bad field or an odd type alike: the
        # checked path finds and names every problem (or raises) as it always has.
        return checked_clean_order(order, currency, now, path)


class _NotPlain(Exception):
    """An order :func:`_clean_plain` leaves to :func:`checked_clean_order`."""


def _plain_minor(value: MoneyAmount, currency: str, digits: int) -> int:
    """:func:`to_minor` of an amount it accepts; raises on any other."""
    amount = value.amount
    if value.currency != currency and value.currency.upper() != currency:
        raise _NotPlain
    if type(amount) is str:
        if PLAIN_DECIMAL.fullmatch(amount) is None:
            raise _NotPlain
        amount = Decimal(amount)
    elif type(amount) is not Decimal:
        raise _NotPlain
    scaled = amount.scaleb(digits)
    minor = int(scaled)
    if scaled != minor or minor < 0 or minor > MAX_MINOR:
        raise _NotPlain
    return minor


def _plain_text(value: str | None, limit: int) -> str | None:
    """``Problems.text(..., required=False)`` of a value it accepts."""
    if value is None:
        return None
    value = value.strip()
    if len(value) > limit:
        raise _NotPlain
    return value or None


def _plain_required(value: str, limit: int) -> str:
    """``Problems.text(..., required=True)`` of a value it accepts."""
    value = value.strip()
    if not value or len(value) > limit:
        raise _NotPlain
    return value


def _clean_plain(order: OrderInput, currency: str, now: datetime) -> CleanOrder:
    """:func:`checked_clean_order` of an order without any problem, raising at
    the first sign of one. Orders are nearly always fine (an import cleans
    every order of its file, a replay too), and the checked path spends most
    of its time building the field paths and messages it would need to name
    problems: here none is built."""
    if currency != currency.upper():
        raise _NotPlain
    digits = exponent(currency)
    external_id = _plain_required(order.external_id, EXTERNAL_ID_MAX)
    member = order.member
    if (member.member_id is None) == (member.identity is None):
        raise _NotPlain
    occurred_at = order.occurred_at
    if occurred_at.utcoffset() is None or occurred_at > now + FUTURE_TOLERANCE:
        raise _NotPlain
    paid = _plain_minor(order.amount_paid, currency, digits)
    if len(order.lines) > MAX_LINES:
        raise _NotPlain
    raw_lines = []
    lines_retail = 0
    for line in order.lines:
        if line.quantity <= 0:
            raise _NotPlain
        unit = _plain_minor(line.unit_price, currency, digits)
        retail_price = line.retail_price
        retail = unit if retail_price is None else _plain_minor(retail_price, currency, digits)
        lines_retail += line.quantity * retail
        raw_lines.append(
            (
                _plain_required(line.sku, SKU_MAX),
                _plain_text(line.name, LINE_NAME_MAX) or "",
                _plain_text(line.category, CATEGORY_MAX),
                line.quantity,
                unit,
                retail,
            )
        )
    retail_amount = (
        _plain_minor(order.retail_amount, currency, digits)
        if order.retail_amount is not None
        else (lines_retail if raw_lines else paid)
    )
    discount = (
        _plain_minor(order.discount, currency, digits)
        if order.discount is not None
        else max(retail_amount - paid, 0)
    )
    if len(order.coupon_codes) > MAX_COUPONS:
        raise _NotPlain
    return _cleaned(
        order,
        external_id,
        occurred_at.astimezone(UTC),
        paid,
        retail_amount,
        discount,
        [_plain_required(code, COUPON_CODE_MAX) for code in order.coupon_codes],
        _plain_text(order.store_code, STORE_CODE_MAX),
        _plain_text(order.channel, CHANNEL_MAX),
        raw_lines,
    )


def checked_clean_order(
    order: OrderInput, currency: str, now: datetime, path: list[str]
) -> CleanOrder:
    """What :func:`clean_order` returns, checking each field with its path:
    raises :class:`DomainErrors` naming every problem of ``order``."""
    c = Problems()
    external_id = c.text(
        order.external_id, [*path, "externalId"], limit=EXTERNAL_ID_MAX, required=True
    )
    check_member(c, order.member, path)
    occurred_at = check_time(c, order.occurred_at, [*path, "occurredAt"], now)
    paid = c.minor(order.amount_paid, currency, [*path, "amountPaid"])
    if len(order.lines) > MAX_LINES:
        c.add("TOO_MANY", f"an order has at most {MAX_LINES} lines", [*path, "lines"])
    raw_lines: list[RawLine] = []
    for i, line in enumerate(order.lines[:MAX_LINES]):
        at = [*path, "lines", str(i)]
        if line.quantity <= 0:
            c.add("INVALID_QUANTITY", "quantity must be at least 1", [*at, "quantity"])
        unit = c.minor(line.unit_price, currency, [*at, "unitPrice"])
        retail = (
            c.minor(line.retail_price, currency, [*at, "retailPrice"])
            if line.retail_price is not None
            else unit
        )
        raw_lines.append(
            (
                c.text(line.sku, [*at, "sku"], limit=SKU_MAX, required=True) or "",
                c.text(line.name, [*at, "name"], limit=LINE_NAME_MAX, required=False) or "",
                c.text(line.category, [*at, "category"], limit=CATEGORY_MAX, required=False),
                line.quantity,
                unit,
                retail,
            )
        )
    lines_retail = sum(q * r for *_, q, _, r in raw_lines)
    retail_amount = (
        c.minor(order.retail_amount, currency, [*path, "retailAmount"])
        if order.retail_amount is not None
        else (lines_retail if raw_lines else paid)
    )
    discount = (
        c.minor(order.discount, currency, [*path, "discount"])
        if order.discount is not None
        else max(retail_amount - paid, 0)
    )
    if len(order.coupon_codes) > MAX_COUPONS:
        c.add("TOO_MANY", f"at most {MAX_COUPONS} coupon codes", [*path, "couponCodes"])
    coupons = [
        c.text(code, [*path, "couponCodes", str(i)], limit=COUPON_CODE_MAX, required=True) or ""
        for i, code in enumerate(order.coupon_codes[:MAX_COUPONS])
    ]
    store = c.text(order.store_code, [*path, "storeCode"], limit=STORE_CODE_MAX, required=False)
    channel = c.text(order.channel, [*path, "channel"], limit=CHANNEL_MAX, required=False)
    c.raise_if_any()
    return _cleaned(
        order,
        external_id or "",
        occurred_at,
        paid,
        retail_amount,
        discount,
        coupons,
        store,
        channel,
        raw_lines,
    )


# A line's checked values: sku, name, category, quantity, unit and retail price.
RawLine = tuple[str, str, str | None, int, int, int]


def _cleaned(
    order: OrderInput,
    external_id: str,
    occurred_at: datetime,
    paid: int,
    retail_amount: int,
    discount: int,
    coupons: list[str],
    store: str | None,
    channel: str | None,
    raw_lines: list[RawLine],
) -> CleanOrder:
    """The order to store from its checked values, and their fingerprint."""
    shares = allocate(paid, [q * u for _, _, _, q, u, _ in raw_lines])
    lines = [
        CleanLine(i, sku, name, category, q, unit, retail, share)
        for i, ((sku, name, category, q, unit, retail), share) in enumerate(
            zip(raw_lines, shares, strict=True)
        )
    ]
    values: dict[str, Any] = {
        "occurred_at": occurred_at.isoformat(),
        "amount_paid": paid,
        "retail_amount": retail_amount,
        "discount": discount,
        "coupon_codes": coupons,
        "store_code": store,
        "channel": channel,
        "lines": [
            [x.sku, x.name, x.category, x.quantity, x.unit_price, x.retail_price] for x in lines
        ],
    }
    if order.hold_id is not None:
        values["hold_id"] = order.hold_id
    return CleanOrder(
        external_id=external_id,
        member=order.member,
        occurred_at=occurred_at,
        amount_paid=paid,
        retail_amount=retail_amount,
        discount=discount,
        coupon_codes=coupons,
        store_code=store,
        channel=channel,
        lines=lines,
        fingerprint=fingerprint(values),
        hold_id=order.hold_id,
        redeem_coupons=order.redeem_coupons,
    )


def allocate(total: int, weights: list[int]) -> list[int]:
    """Split ``total`` over ``weights`` in proportion, in whole units that add up
    to ``total`` exactly (largest remainder; ties to the earlier line). With no
    weight at all, the whole goes to the first line."""
    if not weights:
        return []
    weight_sum = sum(weights)
    if weight_sum == 0:
        return [total] + [0] * (len(weights) - 1)
    shares = [total * w // weight_sum for w in weights]
    left = total - sum(shares)
    if left == 0:  # nothing to hand out: amounts that split evenly, the usual case
        return shares
    remainders = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % weight_sum), i))
    for i in remainders[:left]:
        shares[i] += 1
    return shares


def nest_error(error: DomainError, path: list[str], member_field: str | None = None) -> DomainError:
    """``error`` with its field paths placed under ``path``; a path starting at
    ``member`` (how the members service names it) becomes ``member_field``."""

    def move(e: DomainError) -> DomainError:
        field = list(e.field or [])
        if member_field and field[:1] == ["member"]:
            field[0] = member_field
        if field[: len(path)] != path:
            field = [*path, *field]
        return DomainError(e.code, e.message, field)

    if isinstance(error, DomainErrors):
        return DomainErrors([move(e) for e in error.errors])
    return move(error)
