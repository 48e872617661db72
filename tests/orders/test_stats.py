"""Member statistics: incremental maintenance equals a rebuild from the facts
after any history of orders and refunds (hypothesis, on both databases)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from order_inputs import money, order_input

from tessera.errors import DomainError
from tessera.members.service import create_member
from tessera.orders.inputs import RefundInput, RefundLineInput
from tessera.orders.models import MemberStats, Order, OrderLine
from tessera.orders.refunds import record_refund
from tessera.orders.stats import StatsView, rebuild_stats
from tessera.pipeline.orders import record_order, record_orders
from tessera.scope import BrandScope
from tessera.testing import make_brand

NOW = datetime(2025, 6, 1, tzinfo=UTC)
FIELDS = (
    "member_id", "orders_count", "gross_spent", "units_bought", "first_order_at",
    "last_order_at", "refunds_count", "refunded_total", "refunded_units",
)  # fmt: skip


async def stored_stats(scope: BrandScope) -> list[tuple[Any, ...]]:
    rows = await scope.query(MemberStats).order_by("member_id").values_list(*FIELDS)
    return [tuple(row) for row in rows]


def test_average_order_value_rounds_half_even():
    assert StatsView(orders_count=2, gross_spent=5).average_order_value == 2  # 2.5
    assert StatsView(orders_count=2, gross_spent=7).average_order_value == 4  # 3.5
    assert StatsView(orders_count=3, gross_spent=100).average_order_value == 33
    # refunds past the orders: half-even below zero too
    assert StatsView(orders_count=2, refunded_total=5).average_order_value == -2  # -2.5
    assert StatsView(orders_count=2, refunded_total=7).average_order_value == -4  # -3.5
    assert StatsView().average_order_value == 0


@settings(max_examples=500, deadline=None)
@given(
    total=st.integers(-(10**15), 10**15),
    count=st.integers(1, 10**6),
)
def test_average_order_value_is_the_decimal_division_rounded_half_even(total, count):
    """Worked out in integers; the same as dividing as ``Decimal`` and
    quantizing half-even, for any total and count (refunds may pass the orders)."""
    view = StatsView(orders_count=count, gross_spent=max(total, 0), refunded_total=max(-total, 0))
    expected = (Decimal(total) / count).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    assert view.average_order_value == int(expected)


async def test_rebuild_restores_lost_or_wrong_rows_and_reports_progress(
    brand_a, brand_b, make_member
):
    scope = BrandScope(brand_a)
    members = [await make_member(brand_a) for _ in range(3)]
    await record_orders(scope, [order_input(f"o-{i}", members[i % 3].id) for i in range(9)])
    await record_refund(scope, RefundInput("r-1", NOW, order_external_id="o-0"))
    theirs = await make_member(brand_b)
    await record_order(BrandScope(brand_b), order_input("b-1", theirs.id, currency="USD"))
    expected = await stored_stats(scope)
    their_stats = await stored_stats(BrandScope(brand_b))
    await scope.query(MemberStats).filter(member_id=members[0].id).delete()
    await scope.query(MemberStats).filter(member_id=members[1].id).update(gross_spent=1)
    progress: list[tuple[int, int]] = []

    rebuilt = await rebuild_stats(
        scope, progress=lambda done, total: progress.append((done, total))
    )

    assert rebuilt == 3
    assert await stored_stats(scope) == expected
    assert progress == [(3, 3)]
    assert await stored_stats(BrandScope(brand_b)) == their_stats


# One step of a history: an order (paid in cents, lines of (quantity, unit
# cents), days before NOW) or a refund of an earlier order (by index).
orders_st = st.tuples(
    st.just("order"),
    st.integers(0, 3),  # member
    st.integers(0, 50_000),
    st.lists(st.tuples(st.integers(1, 5), st.integers(0, 10_000)), max_size=3),
    st.integers(0, 800),
)
refunds_st = st.tuples(
    st.just("refund"),
    st.integers(0, 30),  # which earlier order
    st.sampled_from(["rest", "amount", "lines"]),
    st.integers(1, 30_000),
    st.integers(1, 4),
)
histories = st.lists(st.one_of(orders_st, refunds_st), min_size=1, max_size=25)


brand_numbers = iter(range(10**6))


async def fresh_brand() -> tuple[BrandScope, list[int]]:
    """A brand of its own for each example, so no example sees another's orders."""
    brand = await make_brand(f"stats-{next(brand_numbers)}")
    scope = BrandScope(brand)
    members = [await create_member(scope, {"external_id": f"m{i}"}) for i in range(4)]
    return scope, [m.id for m in members]


def cents(n: int) -> str:
    return str(Decimal(n).scaleb(-2))


async def play(scope: BrandScope, member_ids: list[int], history: list[Any], run: int) -> None:
    recorded: list[str] = []
    for step, event in enumerate(history):
        if event[0] == "order":
            _, who, paid, lines, days_ago = event
            external_id = f"h{run}-o{step}"
            await record_order(
                scope,
                order_input(
                    external_id,
                    member_ids[who],
                    paid=cents(paid),
                    lines=[(f"S{i}", q, cents(p)) for i, (q, p) in enumerate(lines)],
                    at=NOW - timedelta(days=days_ago, minutes=step),
                ),
                now=NOW,
            )
            recorded.append(external_id)
        elif recorded:
            _, which, mode, amount, quantity = event
            order_id = recorded[which % len(recorded)]
            refund = RefundInput(
                f"h{run}-r{step}",
                NOW,
                order_external_id=order_id,
                amount=money(cents(amount)) if mode == "amount" else None,
                lines=[RefundLineInput(line_no=0, quantity=quantity)] if mode == "lines" else None,
            )
            expected = await expected_refusal(scope, order_id, mode, amount, quantity)
            before = await stored_stats(scope)
            try:
                await record_refund(scope, refund, now=NOW)
            except DomainError as error:
                # Refused exactly when more is asked than is left, and nothing counted.
                refusals = [
                    (e.code, tuple(e.field or [])) for e in getattr(error, "errors", [error])
                ]
                assert len(refusals) == 1 and refusals[0] in expected, (mode, refusals, expected)
                assert await stored_stats(scope) == before
            else:
                assert None in expected, (mode, amount, quantity, expected)


async def expected_refusal(
    scope: BrandScope, external_id: str, mode: str, amount: int, quantity: int
) -> set[tuple[str, tuple[str, ...]] | None]:
    """What record_refund may answer (None: it goes through), worked out from
    the order as stored."""
    order = await scope.query(Order).get(external_id=external_id)
    lines = {line.line_no: line for line in await scope.query(OrderLine).filter(order_id=order.id)}
    money_left = order.amount_paid - order.refunded_amount
    if mode == "amount":
        return {("REFUND_EXCEEDS_PAID", ("amount",)) if amount > money_left else None}
    if mode == "lines":
        line = lines.get(0)
        if line is None:
            return {("NOT_FOUND", ("lines", "0", "line"))}
        # The order's money is checked before the line's units, and a line's
        # share of the money may be gone when its units are not.
        no_money = ("REFUND_EXCEEDS_PAID", ("lines",))
        if quantity > line.quantity - line.refunded_quantity:
            return {("REFUND_EXCEEDS_PAID", ("lines", "0", "quantity")), no_money}
        return {None, no_money}
    units_left = any(line.refunded_quantity < line.quantity for line in lines.values())
    return {("NOTHING_TO_REFUND", ("orderId",)) if money_left == 0 and not units_left else None}


runs = iter(range(10**6))


@settings(max_examples=30)
@given(history=histories)
def test_rebuild_equals_incremental_maintenance(session_loop, tessera_db, history):
    async def check() -> None:
        scope, member_ids = await fresh_brand()
        await play(scope, member_ids, history, next(runs))
        incremental = await stored_stats(scope)
        await rebuild_stats(scope)
        rebuilt = await stored_stats(scope)
        assert rebuilt == incremental
        # and the figures agree with the facts themselves
        orders = await scope.query(Order).all()
        assert sum(r[2] for r in rebuilt) == sum(o.amount_paid for o in orders)
        assert sum(r[7] for r in rebuilt) == sum(o.refunded_amount for o in orders)

    session_loop.run_until_complete(check())
