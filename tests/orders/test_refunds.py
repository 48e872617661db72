"""recordRefund: full, by amount, by lines; never beyond what was paid (also
under concurrency); idempotency; brand walls; refund.recorded."""

from __future__ import annotations

import asyncio
from typing import Any

from order_inputs import T0, money, order_input

from tessera.orders.inputs import RefundInput, RefundLineInput
from tessera.orders.models import MemberStats, Order, OrderLine, Refund
from tessera.orders.refunds import record_refund
from tessera.pipeline.orders import record_order
from tessera.schema.ids import encode_id
from tessera.scope import BrandScope

REFUND = """
mutation($input: RecordRefundInput!) {
  recordRefund(input: $input) {
    replayed
    refund { id externalId orderId amount { amount currency } units reason }
    errors { field message code }
  }
}
"""


async def an_order(brand, member_id: int, external_id: str = "o-1") -> Order:
    # 3 x 20.00 and 1 x 40.00 = 100.00 of lines, 90.00 paid: shares 54.00 and 36.00.
    result = await record_order(
        BrandScope(brand),
        order_input(
            external_id, member_id, paid="90.00", lines=[("A", 3, "20.00"), ("B", 1, "40.00")]
        ),
    )
    return result.order


def refund_vars(order: Order, external_id: str = "r-1", **over: Any) -> dict[str, Any]:
    values = {
        "externalId": external_id,
        "orderId": encode_id("Order", order.id),
        "occurredAt": "2025-03-05T10:00:00+00:00",
    }
    values.update(over)
    return {"input": values}


async def state(brand, order: Order) -> tuple[Any, ...]:
    scope = BrandScope(brand)
    fresh = await scope.get(Order, order.id)
    lines = await scope.query(OrderLine).filter(order_id=order.id).order_by("line_no")
    stats = await scope.query(MemberStats).get(member_id=order.member_id)
    return (
        fresh.refunded_amount,
        fresh.refunded_units,
        [(x.refunded_quantity, x.refunded_amount) for x in lines],
        (stats.refunds_count, stats.refunded_total, stats.refunded_units),
        await scope.query(Refund).count(),
    )


async def test_a_full_refund_returns_everything_left(brand_a, api_key, gql, make_member):
    order = await an_order(brand_a, (await make_member(brand_a)).id)
    token = await api_key(brand_a, "write")

    data = (await gql(REFUND, refund_vars(order, reason="damaged"), token=token))["recordRefund"]

    assert data["errors"] == []
    assert data["refund"]["amount"] == {"amount": "90.00", "currency": "CNY"}
    assert (data["refund"]["units"], data["refund"]["reason"]) == (4, "damaged")
    assert await state(brand_a, order) == (9000, 4, [(3, 5400), (1, 3600)], (1, 9000, 4), 1)
    again = await gql(REFUND, refund_vars(order, "r-2"), token=token)
    assert [e["code"] for e in again["recordRefund"]["errors"]] == ["NOTHING_TO_REFUND"]


async def test_refund_by_lines_uses_the_paid_share_and_the_rest_takes_the_remainder(
    brand_a, api_key, gql, make_member
):
    order = await an_order(brand_a, (await make_member(brand_a)).id)
    token = await api_key(brand_a, "write")

    one = await gql(REFUND, refund_vars(order, lines=[{"line": 0, "quantity": 1}]), token=token)
    rest = await gql(REFUND, refund_vars(order, "r-2"), token=token)

    assert one["recordRefund"]["refund"]["amount"]["amount"] == "18.00"  # 54.00 / 3
    assert rest["recordRefund"]["refund"]["amount"]["amount"] == "72.00"
    assert await state(brand_a, order) == (9000, 4, [(3, 5400), (1, 3600)], (2, 9000, 4), 2)


async def test_a_money_only_refund_is_spread_over_the_lines_without_units(
    brand_a, api_key, gql, make_member
):
    order = await an_order(brand_a, (await make_member(brand_a)).id)
    token = await api_key(brand_a, "write")

    data = await gql(
        REFUND, refund_vars(order, amount={"amount": "10.50", "currency": "CNY"}), token=token
    )

    assert data["recordRefund"]["refund"]["units"] == 0
    # 10.50 over the lines' 54.00 and 36.00 paid.
    assert await state(brand_a, order) == (1050, 0, [(0, 630), (0, 420)], (1, 1050, 0), 1)


async def test_refunding_more_than_was_paid_is_refused_and_changes_nothing(
    brand_a, api_key, gql, make_member
):
    order = await an_order(brand_a, (await make_member(brand_a)).id)
    token = await api_key(brand_a, "write")
    await gql(REFUND, refund_vars(order, amount={"amount": "80", "currency": "CNY"}), token=token)
    before = await state(brand_a, order)

    too_much = await gql(
        REFUND,
        refund_vars(order, "r-2", amount={"amount": "10.01", "currency": "CNY"}),
        token=token,
    )
    too_many = await gql(
        REFUND, refund_vars(order, "r-3", lines=[{"line": 1, "quantity": 2}]), token=token
    )
    no_line = await gql(
        REFUND, refund_vars(order, "r-4", lines=[{"line": 7, "quantity": 1}]), token=token
    )
    bad = await gql(
        REFUND,
        refund_vars(order, "r-5", lines=[{"line": 0, "quantity": -1}], reason="x" * 501),
        token=token,
    )

    assert too_much["recordRefund"]["errors"] == [
        {
            "field": ["input", "amount"],
            "code": "REFUND_EXCEEDS_PAID",
            "message": "only 10.00 CNY of this order can still be refunded",
        }
    ]
    assert [(e["field"], e["code"]) for e in too_many["recordRefund"]["errors"]] == [
        (["input", "lines", "0", "quantity"], "REFUND_EXCEEDS_PAID")
    ]
    assert [(e["field"], e["code"]) for e in no_line["recordRefund"]["errors"]] == [
        (["input", "lines", "0", "line"], "NOT_FOUND")
    ]
    assert [(e["field"], e["code"]) for e in bad["recordRefund"]["errors"]] == [
        (["input", "lines", "0", "quantity"], "INVALID_QUANTITY"),
        (["input", "reason"], "TOO_LONG"),
    ]
    assert await state(brand_a, order) == before


async def test_a_line_refund_beyond_the_line_is_refused_naming_the_line(brand_a, make_member):
    order = await an_order(brand_a, (await make_member(brand_a)).id)
    scope = BrandScope(brand_a)
    line = RefundLineInput(line_no=1, quantity=1, amount=money("36.01"))

    try:
        await record_refund(scope, RefundInput("r-1", T0, order_id=order.id, lines=[line]))
    except Exception as error:
        assert error.field == ["lines", "0", "quantity"]  # type: ignore[attr-defined]
        assert error.code == "REFUND_EXCEEDS_PAID"  # type: ignore[attr-defined]
    else:
        raise AssertionError("refund beyond the line was accepted")
    assert (await scope.get(Order, order.id)).refunded_amount == 0


async def test_concurrent_refunds_never_exceed_what_was_paid(brand_a, make_member):
    order = await an_order(brand_a, (await make_member(brand_a)).id)
    scope = BrandScope(brand_a)

    outcomes = await asyncio.gather(
        *(
            record_refund(scope, RefundInput(f"r-{i}", T0, order_id=order.id, amount=money("40")))
            for i in range(5)
        ),
        return_exceptions=True,
    )

    accepted = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(accepted) == 2
    assert {getattr(o, "code", None) for o in outcomes if isinstance(o, BaseException)} == {
        "REFUND_EXCEEDS_PAID"
    }
    assert (await state(brand_a, order))[0::3] == (8000, (2, 8000, 0))


async def test_identical_refunds_racing_record_one(brand_a, make_member):
    order = await an_order(brand_a, (await make_member(brand_a)).id)
    scope = BrandScope(brand_a)
    refund = RefundInput("r-same", T0, order_external_id="o-1", amount=money("5"))

    results = await asyncio.gather(*(record_refund(scope, refund) for _ in range(3)))

    assert sorted(r.replayed for r in results) == [False, True, True]
    assert (await state(brand_a, order))[0::3] == (500, (1, 500, 0))


async def test_refund_replay_and_conflict(brand_a, api_key, gql, make_member):
    order = await an_order(brand_a, (await make_member(brand_a)).id)
    token = await api_key(brand_a, "write")
    vars_ = refund_vars(order, amount={"amount": "5", "currency": "CNY"})
    first = await gql(REFUND, vars_, token=token)
    by_external = refund_vars(order, amount={"amount": "5", "currency": "CNY"})
    del by_external["input"]["orderId"]
    by_external["input"]["orderExternalId"] = "o-1"

    replay = await gql(REFUND, by_external, token=token)
    conflict = await gql(
        REFUND, refund_vars(order, amount={"amount": "6", "currency": "CNY"}), token=token
    )

    assert replay["recordRefund"]["replayed"] is True
    assert replay["recordRefund"]["refund"] == first["recordRefund"]["refund"]
    assert [e["code"] for e in conflict["recordRefund"]["errors"]] == ["IDEMPOTENCY_CONFLICT"]
    assert (await state(brand_a, order))[0::3] == (500, (1, 500, 0))


async def test_brand_a_cannot_refund_brand_b_order(brand_a, brand_b, api_key, gql, make_member):
    theirs = await record_order(
        BrandScope(brand_b),
        order_input("b-1", (await make_member(brand_b)).id, paid="9", currency="USD"),
    )
    token = await api_key(brand_a, "write")

    by_id = await gql(REFUND, refund_vars(theirs.order), token=token)
    by_external = await gql(
        REFUND,
        {
            "input": {
                "externalId": "r-1",
                "orderExternalId": "b-1",
                "occurredAt": "2025-03-05T10:00:00+00:00",
            }
        },
        token=token,
    )

    assert [(e["field"], e["code"]) for e in by_id["recordRefund"]["errors"]] == [
        (["input", "orderId"], "NOT_FOUND")
    ]
    assert [(e["field"], e["code"]) for e in by_external["recordRefund"]["errors"]] == [
        (["input", "orderExternalId"], "NOT_FOUND")
    ]
    assert (await BrandScope(brand_b).get(Order, theirs.order.id)).refunded_amount == 0


async def test_refund_recorded_reaches_plugins(brand_a, api_key, gql, make_member, record_events):
    listener = await record_events(brand_a)
    order = await an_order(brand_a, (await make_member(brand_a)).id)
    token = await api_key(brand_a, "write")

    await gql(REFUND, refund_vars(order), token=token)

    [event] = [e for e in listener.received if e.name == "refund.recorded"]
    refund = await BrandScope(brand_a).query(Refund).get()
    assert event.payload == {
        "refund_id": refund.id,
        "external_id": "r-1",
        "order_id": order.id,
        "member_id": order.member_id,
        "amount": 9000,
        "currency": "CNY",
        "units": 4,
        "occurred_at": "2025-03-05T10:00:00+00:00",
    }


async def test_after_a_refund_by_amount_the_rest_is_refunded_once_and_then_nothing(
    brand_a, api_key, gql, make_member, record_events
):
    listener = await record_events(brand_a)
    order = await an_order(brand_a, (await make_member(brand_a)).id)
    token = await api_key(brand_a, "write")
    amount = {"amount": "30.00", "currency": "CNY"}
    part = await gql(REFUND, refund_vars(order, "r-1", amount=amount), token=token)
    rest = await gql(REFUND, refund_vars(order, "r-2"), token=token)
    before = await state(brand_a, order)

    again = [(await gql(REFUND, refund_vars(order, f"r-{i}"), token=token)) for i in (3, 4, 5)]

    assert part["recordRefund"]["errors"] == rest["recordRefund"]["errors"] == []
    assert rest["recordRefund"]["refund"]["amount"]["amount"] == "60.00"
    for answer in again:
        assert answer["recordRefund"]["refund"] is None
        assert answer["recordRefund"]["errors"] == [
            {
                "field": ["input", "orderId"],
                "code": "NOTHING_TO_REFUND",
                "message": "the order is already fully refunded",
            }
        ]
    assert await state(brand_a, order) == before
    assert before[0] == 9000 and before[3][:2] == (2, 9000)
    assert [e.name for e in listener.received].count("refund.recorded") == 2


async def test_a_whole_refund_by_amount_leaves_nothing_for_the_rest(brand_a, make_member):
    order = await an_order(brand_a, (await make_member(brand_a)).id)
    scope = BrandScope(brand_a)
    await record_refund(scope, RefundInput("r-1", T0, order_id=order.id, amount=money("90")))
    before = await state(brand_a, order)

    try:
        await record_refund(scope, RefundInput("r-2", T0, order_id=order.id))
    except Exception as error:
        assert error.code == "NOTHING_TO_REFUND"  # type: ignore[attr-defined]
    else:
        raise AssertionError("a refund of nothing was recorded")
    assert await state(brand_a, order) == before
    assert before[3][0] == 1


async def test_refunds_by_amount_and_by_lines_agree_on_what_is_left(brand_a, make_member):
    order = await an_order(brand_a, (await make_member(brand_a)).id)
    scope = BrandScope(brand_a)

    async def agreed() -> tuple[int, int]:
        refunded, _units, lines, *_ = await state(brand_a, order)
        assert refunded == sum(amount for _q, amount in lines)
        return refunded, 9000 - refunded

    # 36.00 spread over the lines' 54.00 and 36.00: 21.60 and 14.40.
    await record_refund(scope, RefundInput("r-1", T0, order_id=order.id, amount=money("36")))
    assert await agreed() == (3600, 5400)
    # Line 1 (its 1 unit) gives back what is left of it: 21.60, not its 36.00 share.
    by_line = await record_refund(
        scope,
        RefundInput("r-2", T0, order_id=order.id, lines=[RefundLineInput(line_no=1, quantity=1)]),
    )
    assert by_line.refund.amount == 2160
    assert await agreed() == (5760, 3240)
    rest = await record_refund(scope, RefundInput("r-3", T0, order_id=order.id))
    assert (rest.refund.amount, rest.refund.units) == (3240, 3)
    assert await agreed() == (9000, 0)
    assert (await state(brand_a, order))[2] == [(3, 5400), (1, 3600)]


async def test_concurrent_refunds_of_the_rest_record_one(brand_a, make_member):
    order = await an_order(brand_a, (await make_member(brand_a)).id)
    scope = BrandScope(brand_a)
    await record_refund(scope, RefundInput("r-0", T0, order_id=order.id, amount=money("30")))

    outcomes = await asyncio.gather(
        *(record_refund(scope, RefundInput(f"r-{i}", T0, order_id=order.id)) for i in range(1, 11)),
        return_exceptions=True,
    )

    assert sum(not isinstance(o, BaseException) for o in outcomes) == 1
    assert {getattr(o, "code", None) for o in outcomes if isinstance(o, BaseException)} == {
        "NOTHING_TO_REFUND"
    }
    assert await state(brand_a, order) == (9000, 4, [(3, 5400), (1, 3600)], (2, 9000, 4), 2)
