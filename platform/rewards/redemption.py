"""Points as cash against an order (積分抵現), under the brand's redemption
terms (an enabled points rule with :meth:`~tessera.PointsRule.redemption_terms`,
e.g. the built-in ``points.redemption``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tessera.assets.service import LedgerResult, redeem_points
from tessera.errors import DomainError
from tessera.orders.models import Order
from tessera.orders.money import MoneyAmount, exponent, to_minor
from tessera.plugin_host.components import RedemptionTerms
from tessera.rewards.pipeline import programme
from tessera.scope import BrandScope

SOURCE = "order_redemption"


@dataclass(frozen=True)
class OrderRedemption:
    """What a redemption took and what it is worth (minor units)."""

    ledger: LedgerResult
    discount: int
    order_ref: str


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
    (``order_id``, its paid amount) or one at checkout (``order_external_id``
    and ``order_amount``). Refused, naming the field, below the minimum, above
    the order's maximum share, or without redemption terms."""
    now = now or datetime.now(UTC)
    currency = scope.brand.currency
    terms = await redemption_terms(scope)
    if terms is None:
        raise DomainError(
            "REDEMPTION_DISABLED", "this brand has no points-as-cash rule enabled", ["points"]
        )
    if (order_id is None) == (order_external_id is None):
        raise DomainError("INVALID", "give exactly one of orderId and orderExternalId", ["orderId"])
    if order_id is not None:
        order = await scope.get(Order, order_id)
        if order is None or order.member_id != member_id:
            raise DomainError("NOT_FOUND", "no such order of this member", ["orderId"])
        amount, ref = order.amount_paid - order.refunded_amount, str(order.id)
    else:
        if order_amount is None:
            raise DomainError("REQUIRED", "an order at checkout needs its amount", ["orderAmount"])
        amount = to_minor(order_amount, currency, ["orderAmount"])
        ref = str(order_external_id)[:128]
    if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
        raise DomainError("INVALID_AMOUNT", "must be greater than zero", ["points"])
    if points < terms.min_points:
        raise DomainError(
            "BELOW_MINIMUM", f"at least {terms.min_points} points are used at a time", ["points"]
        )
    allowed = points_allowed(amount, terms, currency)
    if points > allowed:
        raise DomainError(
            "EXCEEDS_ORDER_SHARE",
            f"at most {terms.max_share_percent}% of this order may be paid with points: "
            f"{allowed} points",
            ["points"],
        )
    discount = cash_value(points, terms, currency)
    result = await redeem_points(
        scope,
        member_id,
        points,
        idempotency_key=idempotency_key,
        reason=f"paid {discount} minor units of order {ref}",
        source_type=SOURCE,
        source_ref=ref,
        now=now,
    )
    return OrderRedemption(result, discount, ref)
