"""Recording refunds: the whole remainder of an order, some money, or lines.

Nothing is ever refunded beyond what was paid: the order row is locked for
the transaction, and every counter moves by a conditional update
(``refunded + n <= paid``) whose row count is checked, never by writing back a
value computed in Python.

The lines always account for the order's refunded money: a refund of money
only is spread over the lines' remaining money (no units), a refund by lines
defaults to the units' share of what is left on each line, and "the rest" is
what is left of the order. A refund that would return neither money nor units
is refused (``NOTHING_TO_REFUND``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q

from tessera.coupons.redemption import restore_coupons_for_order
from tessera.errors import DomainError, DomainErrors
from tessera.idempotency import fingerprint
from tessera.orders import stats
from tessera.orders.inputs import Problems, RefundInput, allocate, check_time
from tessera.orders.models import Order, OrderLine, Refund, RefundLine
from tessera.orders.money import from_minor
from tessera.reports.rollup import mark_dirty
from tessera.rewards.orders import reverse_for_refund
from tessera.rewards.redemption import refund_points_for_order
from tessera.scope import BrandScope
from tessera.uow import unit_of_work


@dataclass(frozen=True)
class RefundResult:
    """The stored refund; ``replayed`` when it had been recorded before."""

    refund: Refund
    replayed: bool = False


@dataclass(frozen=True)
class _Clean:
    external_id: str
    occurred_at: datetime
    amount: int | None
    lines: list[tuple[int, int, int | None]] | None  # (line_no, quantity, amount)
    reason: str | None


@dataclass(frozen=True)
class _Take:
    line: OrderLine
    quantity: int
    amount: int
    index: int | None  # position in the input's lines, for error paths


def _clean(refund: RefundInput, currency: str, now: datetime) -> _Clean:
    c = Problems()
    external_id = c.text(refund.external_id, ["externalId"], limit=128, required=True)
    occurred_at = check_time(c, refund.occurred_at, ["occurredAt"], now)
    if (refund.order_id is None) == (refund.order_external_id is None):
        c.add("INVALID", "give exactly one of orderId and orderExternalId", ["orderId"])
    if refund.amount is not None and refund.lines is not None:
        c.add("INVALID", "give lines or amount, not both (neither: refund the rest)", ["amount"])
    amount = c.minor(refund.amount, currency, ["amount"]) if refund.amount is not None else None
    if amount == 0:
        c.add("INVALID_AMOUNT", "a refund amount must be more than zero", ["amount", "amount"])
    lines = None
    if refund.lines is not None:
        if not refund.lines:
            c.add("REQUIRED", "a refund by lines needs at least one line", ["lines"])
        lines = []
        seen: set[int] = set()
        for i, line in enumerate(refund.lines):
            at = ["lines", str(i)]
            if line.line_no < 0:
                c.add("INVALID", "line numbers start at 0", [*at, "line"])
            elif line.line_no in seen:
                c.add("DUPLICATE", "each order line may appear once", [*at, "line"])
            seen.add(line.line_no)
            if line.quantity <= 0:
                c.add("INVALID_QUANTITY", "quantity must be at least 1", [*at, "quantity"])
            line_amount = (
                c.minor(line.amount, currency, [*at, "amount"]) if line.amount is not None else None
            )
            lines.append((line.line_no, line.quantity, line_amount))
    reason = c.text(refund.reason, ["reason"], limit=500, required=False)
    c.raise_if_any()
    return _Clean(external_id or "", occurred_at, amount, lines, reason)


async def record_refund(
    scope: BrandScope, refund: RefundInput, *, now: datetime | None = None
) -> RefundResult:
    """Record ``refund`` against one of the brand's orders and count it into
    the member's statistics. Idempotent on ``external_id`` like orders."""
    clean = _clean(refund, scope.brand.currency, now or datetime.now(UTC))
    order = await _find_order(scope, refund)
    print_ = fingerprint(
        {
            "order": order.id,
            "occurred_at": clean.occurred_at.isoformat(),
            "amount": clean.amount,
            "lines": clean.lines,
            "reason": clean.reason,
        }
    )
    existing = await scope.query(Refund).get_or_none(external_id=clean.external_id)
    if existing is not None:
        return _replay(existing, print_)
    try:
        async with unit_of_work(scope) as uow:
            stored = await _apply(scope, uow.connection, order.id, clean, print_)
            await reverse_for_refund(scope, uow, stored)
            await refund_points_for_order(scope, uow, stored)
            if await (
                scope.query(Order)
                .using_db(uow.connection)
                .filter(
                    # An order paid nothing (a coupon covered it) is fully
                    # refunded only when every unit has come back.
                    Q(id=order.id, refunded_amount__gte=F("amount_paid"))
                    & (Q(amount_paid__gt=0) | Q(refunded_units__gte=F("units")))
                )
                .exists()
            ):
                # Fully refunded: the coupons used on it go back to the member.
                await restore_coupons_for_order(scope, order.id, uow)
            uow.emit(
                "refund.recorded",
                refund_id=stored.id,
                external_id=stored.external_id,
                order_id=stored.order_id,
                member_id=stored.member_id,
                amount=stored.amount,
                currency=scope.brand.currency,
                units=stored.units,
                occurred_at=clean.occurred_at.isoformat(),
            )
    except IntegrityError:
        existing = await scope.query(Refund).get_or_none(external_id=clean.external_id)
        if existing is None:
            raise
        return _replay(existing, print_)
    return RefundResult(stored)


async def _find_order(scope: BrandScope, refund: RefundInput) -> Order:
    if refund.order_id is not None:
        order = await scope.get(Order, refund.order_id)
        field = "orderId"
    else:
        order = await scope.query(Order).get_or_none(external_id=refund.order_external_id)
        field = "orderExternalId"
    if order is None:
        raise DomainError("NOT_FOUND", "no such order", [field])
    return order


def _replay(existing: Refund, print_: str) -> RefundResult:
    if existing.fingerprint != print_:
        raise DomainError(
            "IDEMPOTENCY_CONFLICT",
            f"refund {existing.external_id!r} was recorded before with other details",
            ["externalId"],
        )
    return RefundResult(existing, replayed=True)


async def _apply(scope: BrandScope, conn: Any, order_id: int, clean: _Clean, print_: str) -> Refund:
    # The lock orders concurrent refunds of one order, so the defaults computed
    # below (e.g. "the rest") see every earlier refund.
    order = await scope.query(Order).using_db(conn).select_for_update().get(id=order_id)
    currency = scope.brand.currency
    lines = await scope.query(OrderLine).using_db(conn).filter(order_id=order.id)
    if clean.amount is not None:
        amount = clean.amount
        takes = _spread(lines, amount)
    elif clean.lines is None:
        amount = order.amount_paid - order.refunded_amount
        # A paid order whose money is all back has nothing left to refund; one
        # a coupon paid in full still has its goods to take back.
        takes = _rest(lines, amount) if amount or order.amount_paid == 0 else []
    else:
        takes = _by_lines(lines, clean.lines)
        amount = sum(t.amount for t in takes)
    units = sum(t.quantity for t in takes)
    if amount == 0 and units == 0:
        raise DomainError("NOTHING_TO_REFUND", "the order is already fully refunded", ["orderId"])

    moved = (
        await scope.query(Order)
        .using_db(conn)
        .filter(
            id=order.id,
            refunded_amount__lte=F("amount_paid") - amount,
            refunded_units__lte=F("units") - units,
        )
        .update(
            refunded_amount=F("refunded_amount") + amount,
            refunded_units=F("refunded_units") + units,
        )
    )
    if not moved:
        left = from_minor(order.amount_paid - order.refunded_amount, currency)
        raise DomainError(
            "REFUND_EXCEEDS_PAID",
            f"only {left} {currency} of this order can still be refunded",
            ["amount"] if clean.lines is None else ["lines"],
        )
    await mark_dirty(scope, conn, [order.occurred_at])
    errors = []
    for take in takes:
        moved = (
            await scope.query(OrderLine)
            .using_db(conn)
            .filter(
                id=take.line.id,
                refunded_quantity__lte=F("quantity") - take.quantity,
                refunded_amount__lte=F("paid_amount") - take.amount,
            )
            .update(
                refunded_quantity=F("refunded_quantity") + take.quantity,
                refunded_amount=F("refunded_amount") + take.amount,
            )
        )
        if not moved:
            line = take.line
            errors.append(
                DomainError(
                    "REFUND_EXCEEDS_PAID",
                    f"line {line.line_no} has {line.quantity - line.refunded_quantity} units and "
                    f"{from_minor(line.paid_amount - line.refunded_amount, currency)} {currency} "
                    "left to refund",
                    ["lines", str(take.index), "quantity"],
                )
            )
    if errors:
        raise DomainErrors(errors)

    refund = await scope.create(
        Refund,
        using_db=conn,
        order_id=order.id,
        member_id=order.member_id,
        external_id=clean.external_id,
        occurred_at=clean.occurred_at,
        amount=amount,
        units=units,
        reason=clean.reason,
        fingerprint=print_,
    )
    await scope.insert_many(
        RefundLine,
        [
            scope.build(
                RefundLine,
                refund_id=refund.id,
                order_line_id=t.line.id,
                quantity=t.quantity,
                amount=t.amount,
            )
            for t in takes
        ],
        conn,
    )
    await stats.add_refund(scope, conn, order.member_id, amount, units)
    return refund


def _rest(lines: list[OrderLine], amount: int) -> list[_Take]:
    """Everything left on the lines, with ``amount`` (the order's remaining
    money) spread over the lines' remaining value."""
    open_lines = sorted(
        (x for x in lines if x.refunded_quantity < x.quantity or x.refunded_amount < x.paid_amount),
        key=_line_no,
    )
    shares = allocate(amount, [x.paid_amount - x.refunded_amount for x in open_lines])
    return [
        _Take(line, line.quantity - line.refunded_quantity, share, None)
        for line, share in zip(open_lines, shares, strict=True)
    ]


def _spread(lines: list[OrderLine], amount: int) -> list[_Take]:
    """A refund of money only, spread over the lines' remaining money (no
    units), so the lines always account for what the order refunded."""
    open_lines = sorted((x for x in lines if x.refunded_amount < x.paid_amount), key=_line_no)
    shares = allocate(amount, [x.paid_amount - x.refunded_amount for x in open_lines])
    return [
        _Take(line, 0, share, None) for line, share in zip(open_lines, shares, strict=True) if share
    ]


def _line_no(line: OrderLine) -> int:
    return line.line_no


def _by_lines(lines: list[OrderLine], wanted: list[tuple[int, int, int | None]]) -> list[_Take]:
    """What the caller asked back from each line; an amount left out is the
    line's paid share for that many units (all that is left, for the rest)."""
    by_no = {line.line_no: line for line in lines}
    takes = []
    missing = []
    for i, (line_no, quantity, amount) in enumerate(wanted):
        line = by_no.get(line_no)
        if line is None:
            missing.append(
                DomainError(
                    "NOT_FOUND", f"the order has no line {line_no}", ["lines", str(i), "line"]
                )
            )
            continue
        if amount is None:
            # The units' share of what is left on the line, which refunds by
            # amount may have reduced: the last units take the rest exactly.
            units_left = line.quantity - line.refunded_quantity
            money_left = line.paid_amount - line.refunded_amount
            amount = money_left * quantity // units_left if units_left > 0 else 0
        takes.append(_Take(line, quantity, amount, i))
    if missing:
        raise DomainErrors(missing)
    return takes
