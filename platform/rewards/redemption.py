"""Points as cash against an order (積分抵現), under the brand's redemption
terms (an enabled points rule with :meth:`~tessera.PointsRule.redemption_terms`,
e.g. the built-in ``points.redemption``).

The order's maximum share holds for the order as a whole: every redemption
against it (by its id, or at checkout by its external id) counts, net of the
points its refunds gave back. The check runs under the member's points
account row lock, in the transaction that writes the ledger entry, so
concurrent redemptions of one order see each other. A refund of the order
gives back the points still used on it in proportion to the share of the
remaining order it refunds (all of them when the order is wholly refunded).

A retry with the idempotency key of a redemption that went through returns
that first result, even when the order was partly refunded or the terms
changed since.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tessera.assets import accounts
from tessera.assets.models import LedgerEntry
from tessera.assets.service import POINTS, LedgerResult, recorded, redeem_points, refund_points
from tessera.errors import DomainError
from tessera.idempotency import conflict
from tessera.orders.models import Order, Refund
from tessera.orders.money import MoneyAmount, exponent, to_minor
from tessera.plugin_host.components import RedemptionTerms
from tessera.rewards.pipeline import programme
from tessera.scope import BrandScope
from tessera.uow import UnitOfWork, unit_of_work

SOURCE = "order_redemption"
# The discount is kept in the entry's reason, so a replay answers the first one.
_REASON = "paid {discount} minor units of order {ref}"
_DISCOUNT = re.compile(r"^paid (\d+) minor units of order ")


@dataclass(frozen=True)
class OrderRedemption:
    """What a redemption took and what it is worth (minor units)."""

    ledger: LedgerResult
    discount: int
    order_ref: str


@dataclass(frozen=True)
class _Target:
    """The order redeemed against: the ref the entry carries, every ref its
    redemptions may carry, and (recorded orders) its id."""

    ref: str
    refs: list[str]
    order_id: int | None


async def redemption_terms(scope: BrandScope) -> RedemptionTerms | None:
    for rule in (await programme(scope)).rules:
        terms = rule.redemption_terms()
        if terms is not None:
            return terms
    return None


def cash_value(points: int, terms: RedemptionTerms, currency: str) -> int:
    """Minor units ``points`` are worth (rounded down)."""
    return points * 10 ** exponent(currency) // terms.points_per_unit


def points_allowed(order_amount: int, terms: RedemptionTerms, currency: str) -> int:
    """The most points an order of ``order_amount`` may take."""
    cap = order_amount * terms.max_share_percent // 100
    return cap * terms.points_per_unit // 10 ** exponent(currency)


async def redeem_for_order(
    scope: BrandScope,
    *,
    member_id: int,
    points: int,
    idempotency_key: str,
    order_id: int | None = None,
    order_external_id: str | None = None,
    order_amount: MoneyAmount | None = None,
    now: datetime | None = None,
) -> OrderRedemption:
    """Take ``points`` from the member to pay part of an order: a recorded one
    (``order_id``, its unrefunded amount) or one at checkout
    (``order_external_id`` and ``order_amount``). Refused, naming the field,
    below the minimum, when all the order's redemptions would pass its maximum
    share (``EXCEEDS_ORDER_SHARE``), or without redemption terms."""
    now = now or datetime.now(UTC)
    currency = scope.brand.currency
    target = await _target(scope, member_id, order_id, order_external_id)
    first = await _replay(scope, idempotency_key, member_id, points, target, None)
    if first is not None:
        return first
    terms = await redemption_terms(scope)
    if terms is None:
        raise DomainError(
            "REDEMPTION_DISABLED", "this brand has no points-as-cash rule enabled", ["points"]
        )
    checkout_amount = None
    if target.order_id is None:
        if order_amount is None:
            raise DomainError("REQUIRED", "an order at checkout needs its amount", ["orderAmount"])
        checkout_amount = to_minor(order_amount, currency, ["orderAmount"])
    if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
        raise DomainError("INVALID_AMOUNT", "must be greater than zero", ["points"])
    if points < terms.min_points:
        raise DomainError(
            "BELOW_MINIMUM", f"at least {terms.min_points} points are used at a time", ["points"]
        )
    discount = cash_value(points, terms, currency)
    try:
        async with unit_of_work(scope) as uow:
            conn = uow.connection
            # Serialises every redemption of this member, so the sum below
            # counts each concurrent one against the order.
            await accounts.lock(conn, scope, member_id, POINTS, now)
            if target.order_id is not None:
                order = await scope.query(Order).using_db(conn).get(id=target.order_id)
                amount = order.amount_paid - order.refunded_amount
            else:
                amount = checkout_amount or 0
            allowed = points_allowed(amount, terms, currency)
            used = await points_used(scope, conn, member_id, target.refs)
            if used + points > allowed:
                raise DomainError(
                    "EXCEEDS_ORDER_SHARE",
                    f"at most {terms.max_share_percent}% of this order may be paid with points: "
                    f"{allowed} points, {used} of them already used",
                    ["points"],
                )
            result = await redeem_points(
                scope,
                member_id,
                points,
                idempotency_key=idempotency_key,
                reason=_REASON.format(discount=discount, ref=target.ref),
                source_type=SOURCE,
                source_ref=target.ref,
                now=now,
                uow=uow,
            )
    except DomainError:
        # A concurrent call with this key went through first: its result wins.
        first = await _replay(scope, idempotency_key, member_id, points, target, None)
        if first is None:
            raise
        return first
    if result.replayed:
        return _answer(result, target)
    return OrderRedemption(result, discount, target.ref)


async def points_used(scope: BrandScope, conn: Any, member_id: int, refs: list[str]) -> int:
    """Points the member still has spent on an order (its ``refs``): redeemed
    minus given back by its refunds."""
    amounts = (
        await scope.query(LedgerEntry)
        .using_db(conn)
        .filter(
            kind=POINTS,
            member_id=member_id,
            source_type=SOURCE,
            source_ref__in=refs,
            entry_type__in=("redeem", "refund"),
        )
        .values_list("amount", flat=True)
    )
    return -sum(amounts)  # type: ignore[arg-type]


async def refund_points_for_order(
    scope: BrandScope, uow: UnitOfWork, refund: Refund
) -> LedgerResult | None:
    """Give back the points used as cash on ``refund``'s order in proportion
    to the share of what was left of the order it refunds (all of them when
    the order is now wholly refunded). Call it in the refund's unit of work,
    after the order's refunded amount moved."""
    if refund.amount <= 0:
        return None
    conn = uow.connection
    order = await scope.query(Order).using_db(conn).get(id=refund.order_id)
    left_before = order.amount_paid - order.refunded_amount + refund.amount
    if left_before <= 0:
        return None
    # The same lock redemptions take, so a redemption racing this refund is
    # either counted here or sees the refunded amount.
    if await accounts.lock(conn, scope, order.member_id, POINTS, refund.occurred_at) is None:
        return None
    used = await points_used(scope, conn, order.member_id, _refs(order))
    if used <= 0:
        return None
    back = used if refund.amount >= left_before else used * refund.amount // left_before
    if back <= 0:
        return None
    return await refund_points(
        scope,
        order.member_id,
        back,
        idempotency_key=f"refund:{refund.id}:redeemed-points",
        reason=f"refund {refund.external_id}: points paid on order {order.id} given back",
        source_type=SOURCE,
        source_ref=str(order.id),
        now=refund.occurred_at,
        uow=uow,
    )


async def _target(
    scope: BrandScope, member_id: int, order_id: int | None, external_id: str | None
) -> _Target:
    if (order_id is None) == (external_id is None):
        raise DomainError("INVALID", "give exactly one of orderId and orderExternalId", ["orderId"])
    if order_id is None:
        ref = str(external_id)[:128]
        return _Target(ref, [ref], None)
    order = await scope.get(Order, order_id)
    if order is None or order.member_id != member_id:
        raise DomainError("NOT_FOUND", "no such order of this member", ["orderId"])
    return _Target(str(order.id), _refs(order), order.id)


def _refs(order: Order) -> list[str]:
    # Redemptions at checkout carry the external id the order was recorded under.
    return [str(order.id), order.external_id]


async def _replay(
    scope: BrandScope,
    key: str,
    member_id: int,
    points: int,
    target: _Target,
    conn: Any,
) -> OrderRedemption | None:
    found = await recorded(scope, key, conn)
    if found is None:
        return None
    entry = found.entry
    if (entry.member_id, entry.source_type, entry.source_ref, entry.amount) != (
        member_id,
        SOURCE,
        target.ref,
        -points,
    ):
        raise conflict()
    return _answer(found, target)


def _answer(result: LedgerResult, target: _Target) -> OrderRedemption:
    match = _DISCOUNT.match(result.entry.reason)
    return OrderRedemption(result, int(match.group(1)) if match else 0, target.ref)
