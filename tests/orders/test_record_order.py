"""recordOrder: what is stored, idempotency (also under concurrency), bad
input, join rules, brand walls and the order.recorded event."""

from __future__ import annotations

import asyncio
from typing import Any

from order_inputs import order_input

from tessera.members.models import Member
from tessera.members.scheme import JoinRule, update_settings
from tessera.orders.models import MemberStats, Order, OrderLine
from tessera.pipeline.orders import record_order
from tessera.schema.ids import encode_id
from tessera.scope import BrandScope

RECORD = """
mutation($input: RecordOrderInput!) {
  recordOrder(input: $input) {
    replayed
    order {
      id externalId memberId storeCode channel occurredAt units couponCodes
      amountPaid { amount currency } retailAmount { amount } discount { amount }
      lines { line sku name category quantity unitPrice { amount } retailPrice { amount }
              paidAmount { amount } }
    }
    errors { field message code }
  }
}
"""


def order_vars(member_id: int, external_id: str = "pos-1001", **over: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "externalId": external_id,
        "memberId": encode_id("Member", member_id),
        "occurredAt": "2025-03-01T18:30:00+08:00",
        "amountPaid": {"amount": "170.00", "currency": "CNY"},
        "storeCode": "SH-01",
        "channel": "pos",
        "lines": [
            {
                "sku": "TEA-1",
                "name": "Oolong",
                "category": "tea",
                "quantity": 2,
                "unitPrice": {"amount": "60.00", "currency": "CNY"},
                "retailPrice": {"amount": "70.00", "currency": "CNY"},
            },
            {
                "sku": "CUP-1",
                "name": "Cup",
                "category": "ware",
                "quantity": 1,
                "unitPrice": {"amount": "60.00", "currency": "CNY"},
            },
        ],
    }
    values.update(over)
    return {"input": values}


async def counts(brand) -> tuple[int, int, int]:
    scope = BrandScope(brand)
    return (
        await scope.query(Order).count(),
        await scope.query(OrderLine).count(),
        await scope.query(MemberStats).count(),
    )


async def test_record_order_stores_the_order_its_lines_and_money(
    brand_a, api_key, gql, make_member
):
    member = await make_member(brand_a)
    token = await api_key(brand_a, "write")

    data = (await gql(RECORD, order_vars(member.id), token=token))["recordOrder"]

    assert data["errors"] == [] and data["replayed"] is False
    order = data["order"]
    assert order["externalId"] == "pos-1001"
    assert order["memberId"] == encode_id("Member", member.id)
    assert order["occurredAt"].startswith("2025-03-01T10:30:00")
    assert order["amountPaid"] == {"amount": "170.00", "currency": "CNY"}
    assert order["retailAmount"] == {"amount": "200.00"}  # 2 x 70 + 60
    assert order["discount"] == {"amount": "30.00"}
    assert (order["units"], order["couponCodes"], order["storeCode"]) == (3, [], "SH-01")
    assert [(x["sku"], x["quantity"], x["paidAmount"]["amount"]) for x in order["lines"]] == [
        ("TEA-1", 2, "113.33"),  # 170 spread over 120 : 60, largest remainder
        ("CUP-1", 1, "56.67"),
    ]
    stats = await BrandScope(brand_a).query(MemberStats).get(member_id=member.id)
    assert (stats.orders_count, stats.gross_spent, stats.units_bought) == (1, 17000, 3)


async def test_replaying_an_order_returns_the_first_result_and_changes_nothing(
    brand_a, api_key, gql, make_member
):
    member = await make_member(brand_a)
    token = await api_key(brand_a, "write")
    first = (await gql(RECORD, order_vars(member.id), token=token))["recordOrder"]

    again = (await gql(RECORD, order_vars(member.id), token=token))["recordOrder"]

    assert again["replayed"] is True and again["errors"] == []
    assert again["order"] == first["order"]
    assert await counts(brand_a) == (1, 2, 1)
    stats = await BrandScope(brand_a).query(MemberStats).get(member_id=member.id)
    assert stats.orders_count == 1


async def test_same_external_id_with_other_details_is_a_conflict(
    brand_a, api_key, gql, make_member
):
    member = await make_member(brand_a)
    other = await make_member(brand_a)
    token = await api_key(brand_a, "write")
    await gql(RECORD, order_vars(member.id), token=token)

    changed = await gql(
        RECORD,
        order_vars(member.id, amountPaid={"amount": "171", "currency": "CNY"}),
        token=token,
    )
    other_member = await gql(RECORD, order_vars(other.id), token=token)

    for data in (changed, other_member):
        assert data["recordOrder"]["order"] is None
        assert data["recordOrder"]["errors"] == [
            {
                "field": ["input", "externalId"],
                "code": "IDEMPOTENCY_CONFLICT",
                "message": "order 'pos-1001' was recorded before with other details",
            }
        ]
    assert await counts(brand_a) == (1, 2, 1)


async def test_identical_orders_racing_make_one_order_counted_once(brand_a, make_member):
    member = await make_member(brand_a)
    scope = BrandScope(brand_a)

    results = await asyncio.gather(
        *(record_order(scope, order_input("race-1", member.id, paid="80")) for _ in range(4))
    )

    assert sorted(r.replayed for r in results) == [False, True, True, True]
    assert len({r.order.id for r in results}) == 1
    assert await scope.query(Order).count() == 1
    stats = await scope.query(MemberStats).get(member_id=member.id)
    assert (stats.orders_count, stats.gross_spent) == (1, 8000)


async def test_conflicting_orders_racing_record_one_and_refuse_the_other(brand_a, make_member):
    member = await make_member(brand_a)
    scope = BrandScope(brand_a)

    outcomes = await asyncio.gather(
        record_order(scope, order_input("race-2", member.id, paid="10")),
        record_order(scope, order_input("race-2", member.id, paid="20")),
        return_exceptions=True,
    )

    codes = sorted(getattr(o, "code", "ok") for o in outcomes)
    assert codes == ["IDEMPOTENCY_CONFLICT", "ok"]
    stats = await scope.query(MemberStats).get(member_id=member.id)
    assert stats.orders_count == 1
    assert stats.gross_spent == (await scope.query(Order).get()).amount_paid


async def test_bad_input_names_the_field_and_writes_nothing(brand_a, api_key, gql, make_member):
    member = await make_member(brand_a)
    token = await api_key(brand_a, "write")
    line = {"sku": "A", "quantity": 1, "unitPrice": {"amount": "1", "currency": "CNY"}}
    cases = [
        (
            {"lines": [{**line, "quantity": -2}]},
            ["input", "lines", "0", "quantity"],
            "INVALID_QUANTITY",
        ),
        (
            {"amountPaid": {"amount": "10", "currency": "USD"}},
            ["input", "amountPaid", "currency"],
            "WRONG_CURRENCY",
        ),
        (
            {"amountPaid": {"amount": "-1", "currency": "CNY"}},
            ["input", "amountPaid", "amount"],
            "NEGATIVE_AMOUNT",
        ),
        (
            {"amountPaid": {"amount": "1.005", "currency": "CNY"}},
            ["input", "amountPaid", "amount"],
            "INVALID_AMOUNT",
        ),
        (
            {"lines": [{**line, "unitPrice": {"amount": "-5", "currency": "CNY"}}]},
            ["input", "lines", "0", "unitPrice", "amount"],
            "NEGATIVE_AMOUNT",
        ),
        ({"externalId": " "}, ["input", "externalId"], "REQUIRED"),
        ({"occurredAt": "2999-01-01T00:00:00+00:00"}, ["input", "occurredAt"], "INVALID_TIME"),
        ({"memberId": None}, ["input", "memberId"], "INVALID"),
        ({"memberId": encode_id("Member", 10**9)}, ["input", "memberId"], "UNKNOWN_MEMBER"),
    ]
    for over, field, code in cases:
        data = (await gql(RECORD, order_vars(member.id, **over), token=token))["recordOrder"]
        assert data["order"] is None, over
        assert [(e["field"], e["code"]) for e in data["errors"]] == [(field, code)], over
    assert await counts(brand_a) == (0, 0, 0)


async def test_an_unknown_identity_is_refused_unless_the_join_rule_is_first_purchase(
    brand_a, api_key, gql
):
    token = await api_key(brand_a, "write")
    by_identity = order_vars(0, memberId=None, identity={"kind": "APP_USER_ID", "value": "new-1"})

    refused = (await gql(RECORD, by_identity, token=token))["recordOrder"]
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [
        (["input", "identity"], "UNKNOWN_MEMBER")
    ]
    assert await BrandScope(brand_a).query(Member).count() == 0

    await update_settings(BrandScope(brand_a), join_rule=JoinRule.FIRST_PURCHASE)
    joined = (await gql(RECORD, by_identity, token=token))["recordOrder"]
    assert joined["errors"] == []
    member = await BrandScope(brand_a).query(Member).get()
    assert joined["order"]["memberId"] == encode_id("Member", member.id)
    replay = (await gql(RECORD, by_identity, token=token))["recordOrder"]
    assert replay["replayed"] is True


async def test_brand_a_cannot_record_an_order_for_brand_b_member(
    brand_a, brand_b, api_key, gql, make_member
):
    theirs = await make_member(brand_b)
    token = await api_key(brand_a, "write")

    data = (await gql(RECORD, order_vars(theirs.id), token=token))["recordOrder"]

    assert [e["code"] for e in data["errors"]] == ["UNKNOWN_MEMBER"]
    assert await counts(brand_a) == (0, 0, 0) and await counts(brand_b) == (0, 0, 0)


async def test_recording_needs_the_write_scope(brand_a, api_key, gql, make_member):
    member = await make_member(brand_a)
    token = await api_key(brand_a, "read")

    body = await gql(RECORD, order_vars(member.id), token=token, errors_ok=True)

    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await counts(brand_a) == (0, 0, 0)


async def test_order_recorded_reaches_plugins_after_commit_once(
    brand_a, api_key, gql, make_member, record_events
):
    listener = await record_events(brand_a)
    member = await make_member(brand_a)
    token = await api_key(brand_a, "write")

    await gql(RECORD, order_vars(member.id), token=token)
    await gql(RECORD, order_vars(member.id), token=token)  # a replay emits nothing

    events = [e for e in listener.received if e.name == "order.recorded"]
    assert len(events) == 1
    order = await BrandScope(brand_a).query(Order).get()
    assert events[0].brand_id == brand_a.id
    assert events[0].payload == {
        "order_id": order.id,
        "external_id": "pos-1001",
        "member_id": member.id,
        "amount_paid": 17000,
        "currency": "CNY",
        "units": 3,
        "occurred_at": "2025-03-01T10:30:00+00:00",
    }


async def test_order_query_reads_an_order_of_the_own_brand_only(
    brand_a, brand_b, api_key, gql, make_member
):
    member = await make_member(brand_a)
    write_a = await api_key(brand_a, "write")
    read_b = await api_key(brand_b, "read")
    order_id = (await gql(RECORD, order_vars(member.id), token=write_a))["recordOrder"]["order"][
        "id"
    ]
    query = "query($id: ID!) { order(id: $id) { externalId lines { sku } } }"

    mine = await gql(query, {"id": order_id}, token=write_a)
    theirs = await gql(query, {"id": order_id}, token=read_b)

    assert mine["order"] == {
        "externalId": "pos-1001",
        "lines": [{"sku": "TEA-1"}, {"sku": "CUP-1"}],
    }
    assert theirs["order"] is None
