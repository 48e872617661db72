"""An order as the API answers it is the same whichever way its GraphQL
object was built: ``Order.from_model`` leaves the Money values and the
member's id to be made on first read, and every selection must still see
what building them all up front showed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import strawberry

from tessera.orders.models import Order as OrderModel
from tessera.schema.ids import encode_id
from tessera.schema.orders.money import Money
from tessera.schema.orders.types import Order

ORDER_FIELDS = """
  id externalId memberId storeCode channel occurredAt couponCodes units refundedUnits
  amountPaid { amount currency } retailAmount { amount currency }
  discount { amount currency } refundedAmount { amount currency }
  member { id }
  lines { line sku name category quantity unitPrice { amount currency }
          retailPrice { amount currency } paidAmount { amount currency }
          refundedQuantity refundedAmount { amount currency } }
"""
RECORD_ALL = f"""
mutation($input: RecordOrdersInput!) {{
  recordOrders(input: $input) {{
    errors {{ field code message }}
    results {{ index replayed errors {{ field code message }} order {{ {ORDER_FIELDS} }} }}
  }}
}}"""
ORDER = f"query($id: ID!) {{ order(id: $id) {{ {ORDER_FIELDS} }} }}"


def eager(order: OrderModel, currency: str) -> Order:
    """``Order.from_model`` as it was: every field made up front."""
    return Order(
        id=strawberry.ID(encode_id("Order", order.id)),
        external_id=order.external_id,
        member_id=strawberry.ID(encode_id("Member", order.member_id)),
        store_code=order.store_code,
        channel=order.channel,
        occurred_at=order.occurred_at,
        amount_paid=Money.of(order.amount_paid, currency),
        retail_amount=Money.of(order.retail_amount, currency),
        discount=Money.of(order.discount, currency),
        coupon_codes=list(order.coupon_codes or []),
        units=order.units,
        refunded_amount=Money.of(order.refunded_amount, currency),
        refunded_units=order.refunded_units,
        _pk=order.id,
        _currency=currency,
        _member_pk=order.member_id,
    )


def orders(member_id: int) -> list[dict[str, Any]]:
    def money(amount: str) -> dict[str, str]:
        return {"amount": amount, "currency": "CNY"}

    return [
        {
            "externalId": "full-1",
            "memberId": encode_id("Member", member_id),
            "occurredAt": "2025-04-01T09:00:00+08:00",
            "amountPaid": money("88.5"),
            "retailAmount": money("120"),
            "storeCode": "S1",
            "channel": "pos",
            "lines": [
                {"sku": "A", "quantity": 2, "unitPrice": money("30"), "name": "a"},
                {
                    "sku": "B",
                    "quantity": 1,
                    "unitPrice": money("40"),
                    "retailPrice": money("60"),
                    "category": "c",
                },
            ],
        },
        {
            "externalId": "full-2",
            "memberId": encode_id("Member", member_id),
            "occurredAt": "2025-04-02T10:00:00Z",
            "amountPaid": money("0"),
        },
        {"externalId": "full-3", "occurredAt": "2025-04-02T10:00:00Z", "amountPaid": money("1")},
    ]


async def test_a_full_selection_answers_as_with_every_field_made_up_front(
    brand_a, api_key, gql, make_member, monkeypatch: pytest.MonkeyPatch
):
    member = await make_member(brand_a)
    token = await api_key(brand_a, "admin")
    variables = {"input": {"orders": orders(member.id)}}

    lazy = (await gql(RECORD_ALL, variables, token=token))["recordOrders"]
    assert [r["errors"] == [] for r in lazy["results"]] == [True, True, False]
    ids = [r["order"]["id"] for r in lazy["results"][:2]]
    lazy_reads = [(await gql(ORDER, {"id": i}, token=token))["order"] for i in ids]

    monkeypatch.setattr(Order, "from_model", eager)
    replay = (await gql(RECORD_ALL, variables, token=token))["recordOrders"]
    eager_reads = [(await gql(ORDER, {"id": i}, token=token))["order"] for i in ids]

    assert [r["replayed"] for r in replay["results"]] == [True, True, False]
    for r in replay["results"]:
        r["replayed"] = False
    assert replay == lazy
    assert eager_reads == lazy_reads == [r["order"] for r in lazy["results"][:2]]


async def test_an_order_built_from_its_model_equals_one_built_up_front(tessera_db):
    model = OrderModel(
        id=7,
        brand_id=1,
        member_id=3,
        external_id="m-1",
        occurred_at=datetime(2025, 4, 1, tzinfo=UTC),
        amount_paid=12345,
        retail_amount=20000,
        discount=7655,
        units=3,
        refunded_amount=100,
        refunded_units=1,
        coupon_codes=["X"],
        fingerprint="f",
    )
    built = Order.from_model(model, "CNY")
    expected = eager(model, "CNY")
    assert built == expected
    assert (built.amount_paid, built.member_id) == (expected.amount_paid, expected.member_id)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        built.nothing  # noqa: B018
