"""recordOrders: per-item results with indexed error paths, each item all or
nothing, the batch limit, replays and races inside and across batches."""

from __future__ import annotations

import asyncio

from order_inputs import order_input

from tessera.errors import DomainError
from tessera.orders.models import MemberStats, Order, OrderLine
from tessera.pipeline.orders import MAX_BATCH, record_order, record_orders
from tessera.schema.ids import encode_id
from tessera.scope import BrandScope
from tessera.testing import record_database

RECORD_MANY = """
mutation($input: RecordOrdersInput!) {
  recordOrders(input: $input) {
    results { index replayed order { externalId amountPaid { amount } }
              errors { field code } }
    errors { field code message }
  }
}
"""


def item(member_id: int, external_id: str, quantity: int = 1) -> dict:
    return {
        "externalId": external_id,
        "memberId": encode_id("Member", member_id),
        "occurredAt": "2025-04-01T09:00:00Z",
        "amountPaid": {"amount": "10", "currency": "CNY"},
        "lines": [
            {"sku": "S", "quantity": quantity, "unitPrice": {"amount": "10", "currency": "CNY"}}
        ],
    }


async def test_each_order_of_a_batch_succeeds_or_fails_on_its_own(
    brand_a, api_key, gql, make_member
):
    member = await make_member(brand_a)
    token = await api_key(brand_a, "write")
    orders = [item(member.id, f"b-{i}") for i in range(5)]
    orders[3] = item(member.id, "b-3", quantity=-1)
    orders[4]["memberId"] = encode_id("Member", 10**9)

    data = (await gql(RECORD_MANY, {"input": {"orders": orders}}, token=token))["recordOrders"]

    assert data["errors"] == []
    results = data["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3, 4]
    assert [r["order"]["externalId"] for r in results[:3]] == ["b-0", "b-1", "b-2"]
    assert results[3] == {
        "index": 3,
        "replayed": False,
        "order": None,
        "errors": [
            {
                "field": ["input", "orders", "3", "lines", "0", "quantity"],
                "code": "INVALID_QUANTITY",
            }
        ],
    }
    assert results[4]["errors"] == [
        {"field": ["input", "orders", "4", "memberId"], "code": "UNKNOWN_MEMBER"}
    ]
    scope = BrandScope(brand_a)
    assert sorted(await scope.query(Order).values_list("external_id", flat=True)) == [
        "b-0",
        "b-1",
        "b-2",
    ]
    assert await scope.query(OrderLine).count() == 3
    stats = await scope.query(MemberStats).get(member_id=member.id)
    assert (stats.orders_count, stats.gross_spent, stats.units_bought) == (3, 3000, 3)


async def test_an_over_limit_batch_is_refused_whole(brand_a, api_key, gql, make_member):
    member = await make_member(brand_a)
    scope = BrandScope(brand_a)
    orders = [order_input(f"x-{i}", member.id) for i in range(MAX_BATCH + 1)]

    try:
        await record_orders(scope, orders)
    except DomainError as error:
        assert (error.code, error.field) == ("BATCH_TOO_LARGE", ["orders"])
    else:
        raise AssertionError("an over-limit batch was accepted")
    assert await scope.query(Order).count() == 0

    token = await api_key(brand_a, "write")
    big = {"input": {"orders": [item(member.id, f"y-{i}") for i in range(MAX_BATCH + 1)]}}
    body = await gql(RECORD_MANY, big, token=token, errors_ok=True)
    if body.get("data"):  # unless the request-size cap refused it first
        assert body["data"]["recordOrders"]["errors"][0]["code"] == "BATCH_TOO_LARGE"
    else:
        assert body["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"
    assert await scope.query(Order).count() == 0


async def test_a_batch_replays_known_orders_and_repeats_inside_itself(brand_a, make_member):
    member = await make_member(brand_a)
    scope = BrandScope(brand_a)
    await record_order(scope, order_input("known", member.id))

    results = await record_orders(
        scope,
        [
            order_input("known", member.id),
            order_input("new", member.id),
            order_input("new", member.id),
            order_input("new", member.id, paid="1"),
            order_input("known", member.id, paid="1"),
        ],
    )

    assert [getattr(r, "replayed", None) for r in results] == [True, False, True, None, None]
    assert [getattr(r, "code", None) for r in results[3:]] == ["IDEMPOTENCY_CONFLICT"] * 2
    assert [r.field for r in results[3:]] == [  # type: ignore[union-attr]
        ["orders", "3", "externalId"],
        ["orders", "4", "externalId"],
    ]
    stats = await scope.query(MemberStats).get(member_id=member.id)
    assert stats.orders_count == 2 == await scope.query(Order).count()


async def test_identical_batches_racing_record_each_order_once(brand_a, make_member):
    members = [await make_member(brand_a) for _ in range(3)]
    scope = BrandScope(brand_a)
    batch = [order_input(f"r-{i}", members[i % 3].id, paid="7") for i in range(30)]

    outcomes = await asyncio.gather(record_orders(scope, batch), record_orders(scope, batch))

    assert all(not isinstance(r, DomainError) for results in outcomes for r in results)
    assert sum(not r.replayed for results in outcomes for r in results) == 30  # type: ignore[union-attr]
    assert await scope.query(Order).count() == 30
    for stats in await scope.query(MemberStats).all():
        assert (stats.orders_count, stats.gross_spent) == (10, 7000)


async def test_a_batch_writes_in_a_constant_number_of_round_trips(brand_a, make_member):
    members = [await make_member(brand_a) for _ in range(2)]
    scope = BrandScope(brand_a)

    def batch(prefix: str, n: int) -> list:
        return [order_input(f"{prefix}-{i}", members[i % 2].id) for i in range(n)]

    async with record_database() as small:
        await record_orders(scope, batch("s", 4))
    async with record_database() as large:
        await record_orders(scope, batch("l", 200))

    assert len(large.round_trips) == len(small.round_trips)
    # COPY (PostgreSQL) or one multi-row INSERT (SQLite): the rows travel in
    # one statement, whatever their number.
    assert len(large.statements) == len(small.statements)
