"""Points and growth stay within what GraphQL's Int can carry: one entry moves
at most MAX_POINTS_ENTRY, an account never holds more than MAX_BALANCE, and
the bound is checked by the database write itself (also under concurrency),
on every path that credits an account."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tessera.assets import service
from tessera.assets.models import AssetAccount, LedgerEntry
from tessera.assets.service import MAX_BALANCE, MAX_POINTS_ENTRY
from tessera.errors import DomainError
from tessera.features.service import set_feature
from tessera.orders.inputs import LineInput, MemberRef, OrderInput
from tessera.orders.models import Order
from tessera.orders.money import MoneyAmount
from tessera.pipeline.orders import record_order, record_orders
from tessera.schema.ids import encode_id
from tessera.scope import BrandScope

T0 = datetime(2026, 3, 15, 4, 0, tzinfo=UTC)
GRAPHQL_INT_MAX = 2**31 - 1


def test_the_limits_fit_graphql_int():
    assert MAX_BALANCE == GRAPHQL_INT_MAX
    assert MAX_POINTS_ENTRY == 1_000_000_000


async def refused(coro, code: str, field: list[str]) -> None:
    with pytest.raises(DomainError) as caught:
        await coro
    assert (caught.value.code, caught.value.field) == (code, field)


def write(kind: str, scope, member_id: int, amount: int, key: str, **kw):
    common = {"idempotency_key": key, "reason": "limit test", "now": T0}
    if kind == "earn":
        return service.earn_points(scope, member_id, amount, source_type="test", **common, **kw)
    if kind == "redeem":
        return service.redeem_points(scope, member_id, amount, source_type="test", **common)
    if kind == "adjust":
        return service.adjust_points(scope, member_id, amount, **common)
    if kind == "refund":
        return service.refund_points(scope, member_id, amount, source_type="test", **common)
    return service.earn_growth(scope, member_id, amount, source_type="test", **common)


@pytest.mark.parametrize("kind", ["earn", "redeem", "adjust", "refund", "growth"])
async def test_one_entry_past_the_maximum_is_refused(brand_a, make_member, kind):
    scope = BrandScope(brand_a)
    member = await make_member(brand_a)

    await refused(
        write(kind, scope, member.id, MAX_POINTS_ENTRY + 1, "k"),
        "AMOUNT_TOO_LARGE",
        ["points"] if kind != "growth" else ["amount"],
    )
    if kind == "adjust":
        await refused(
            write(kind, scope, member.id, -(MAX_POINTS_ENTRY + 1), "k"),
            "AMOUNT_TOO_LARGE",
            ["points"],
        )
    assert await scope.query(LedgerEntry).count() == 0


@pytest.mark.parametrize("kind", ["earn", "adjust", "refund", "growth"])
async def test_a_balance_past_the_maximum_is_refused_and_changes_nothing(
    brand_a, make_member, ledger_consistent, kind
):
    scope = BrandScope(brand_a)
    member = await make_member(brand_a)
    await write(kind, scope, member.id, MAX_POINTS_ENTRY, "a")
    await write(kind, scope, member.id, MAX_POINTS_ENTRY, "b")
    room = MAX_BALANCE - 2 * MAX_POINTS_ENTRY

    await refused(
        write(kind, scope, member.id, room + 1, "c"),
        "BALANCE_LIMIT",
        ["amount"] if kind == "growth" else ["points"],
    )
    full = await write(kind, scope, member.id, room, "d")

    assert full.balance == MAX_BALANCE
    assert await scope.query(LedgerEntry).count() == 3
    await ledger_consistent(brand_a)


async def test_held_points_count_towards_the_limit(brand_a, make_member):
    scope = BrandScope(brand_a)
    member = await make_member(brand_a)
    later = T0 + timedelta(days=7)
    await write("earn", scope, member.id, MAX_POINTS_ENTRY, "held-1", pending_until=later)
    await write("earn", scope, member.id, MAX_POINTS_ENTRY, "held-2", pending_until=later)

    await refused(
        write("earn", scope, member.id, MAX_BALANCE - 2 * MAX_POINTS_ENTRY + 1, "now"),
        "BALANCE_LIMIT",
        ["points"],
    )
    account = await scope.query(AssetAccount).get(member_id=member.id)
    assert (account.balance, account.pending) == (0, 2 * MAX_POINTS_ENTRY)


async def test_concurrent_earns_never_pass_the_limit(brand_a, make_member, ledger_consistent):
    scope = BrandScope(brand_a)
    member = await make_member(brand_a)
    await write("earn", scope, member.id, MAX_POINTS_ENTRY, "base-1")
    await write("earn", scope, member.id, MAX_POINTS_ENTRY, "base-2")
    room = MAX_BALANCE - 2 * MAX_POINTS_ENTRY  # 147,483,647

    async def earn(i: int):
        try:
            return await write("earn", scope, member.id, 50_000_000, f"race-{i}")
        except DomainError as error:
            return error

    outcomes = await asyncio.gather(*(earn(i) for i in range(8)))

    assert sum(not isinstance(o, DomainError) for o in outcomes) == room // 50_000_000
    assert {o.code for o in outcomes if isinstance(o, DomainError)} == {"BALANCE_LIMIT"}
    account = await scope.query(AssetAccount).get(member_id=member.id)
    assert account.balance == 2 * MAX_POINTS_ENTRY + (room // 50_000_000) * 50_000_000
    await ledger_consistent(brand_a)


async def test_earn_points_of_int_max_through_the_api_is_a_user_error(
    brand_a, make_member, api_key, gql
):
    member = await make_member(brand_a)
    token = await api_key(brand_a, "admin")
    mutation = """mutation($input: PointsInput!) { earnPoints(input: $input) {
      balance errors { field code } } }"""
    member_id = encode_id("Member", member.id)

    def earn(points: int, key: str) -> dict:
        return {"input": {"memberId": member_id, "points": points, "idempotencyKey": key}}

    huge = (await gql(mutation, earn(GRAPHQL_INT_MAX, "huge"), token=token))["earnPoints"]
    for i in range(2):
        await gql(mutation, earn(MAX_POINTS_ENTRY, f"big-{i}"), token=token)
    over = await gql(mutation, earn(GRAPHQL_INT_MAX - 2 * MAX_POINTS_ENTRY + 1, "o"), token=token)
    adjust = await gql(
        """mutation($input: AdjustPointsInput!) { adjustPoints(input: $input) {
          errors { field code } } }""",
        {"input": {"memberId": member_id, "points": 2**30, "idempotencyKey": "a", "reason": "x"}},
        token=token,
    )
    member_now = await gql(
        "query($id: ID!) { member(id: $id) { assets { points growth } } }",
        {"id": member_id},
        token=token,
    )

    assert huge == {
        "balance": None,
        "errors": [{"field": ["input", "points"], "code": "AMOUNT_TOO_LARGE"}],
    }
    assert over["earnPoints"]["errors"] == [{"field": ["input", "points"], "code": "BALANCE_LIMIT"}]
    assert adjust["adjustPoints"]["errors"] == [
        {"field": ["input", "points"], "code": "AMOUNT_TOO_LARGE"}
    ]
    assert member_now["member"]["assets"]["points"] == 2 * MAX_POINTS_ENTRY


async def test_an_order_whose_rules_would_pass_the_limit_is_refused(brand_a, make_member):
    scope = BrandScope(brand_a)
    member = await make_member(brand_a)
    await set_feature(scope, "points.purchase", enabled=True, config={"points_per_unit": "1"})

    def order(external_id: str, paid: str) -> OrderInput:
        return OrderInput(
            external_id=external_id,
            member=MemberRef(member_id=member.id),
            occurred_at=T0,
            amount_paid=MoneyAmount(Decimal(paid), "CNY"),
            lines=[LineInput(sku="A", quantity=1, unit_price=MoneyAmount(Decimal(paid), "CNY"))],
        )

    await record_order(scope, order("o-1", "900000000.00"), now=T0)
    await record_order(scope, order("o-2", "900000000.00"), now=T0)
    too_large = record_order(scope, order("o-3", "1100000000.00"), now=T0)
    await refused(too_large, "AMOUNT_TOO_LARGE", ["points"])
    await refused(
        record_order(scope, order("o-4", "400000000.00"), now=T0), "BALANCE_LIMIT", ["points"]
    )

    assert (await service.balances(scope, [member.id]))[member.id].points == 1_800_000_000
    assert await scope.query(Order).count() == 2


async def test_a_batch_refuses_only_its_orders_that_would_pass_the_limit(brand_a, make_member):
    scope = BrandScope(brand_a)
    member, other = await make_member(brand_a), await make_member(brand_a)
    await set_feature(scope, "points.purchase", enabled=True, config={"points_per_unit": "1"})

    def order(external_id: str, who: int, paid: str) -> OrderInput:
        return OrderInput(
            external_id=external_id,
            member=MemberRef(member_id=who),
            occurred_at=T0,
            amount_paid=MoneyAmount(Decimal(paid), "CNY"),
            lines=[LineInput(sku="A", quantity=1, unit_price=MoneyAmount(Decimal(paid), "CNY"))],
        )

    answers = await record_orders(
        scope,
        [
            order("b-1", member.id, "900000000.00"),
            order("b-2", member.id, "900000000.00"),
            order("b-3", member.id, "400000000.00"),  # past MAX_BALANCE after the two
            order("b-4", other.id, "10.00"),
        ],
        now=T0,
    )

    refused_ones = [(i, a.code, a.field) for i, a in enumerate(answers) if isinstance(a, Exception)]
    assert refused_ones == [(2, "BALANCE_LIMIT", ["orders", "2", "points"])]
    balances = await service.balances(scope, [member.id, other.id])
    assert balances[member.id].points == 1_800_000_000
    assert balances[other.id].points == 10
    assert await scope.query(Order).count() == 3
