"""A money amount is a plain decimal string (``-?[0-9]+(\\.[0-9]+)?``): anything
looser ("1e2", " 5.00") is refused with a UserError naming the field, on every
path (GraphQL inputs, imports), and changes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tessera.assets.models import LedgerEntry
from tessera.errors import DomainError
from tessera.orders.models import Order
from tessera.orders.money import MoneyAmount, from_minor, parse_amount, to_minor
from tessera.schema.ids import encode_id
from tessera.scope import BrandScope

LOOSE = ["1e2", "1E2", " 5.00", "5.00 ", "+5", "5.", ".5", "NaN", "Infinity", "1_000", "٣", ""]


@pytest.mark.parametrize("text", ["129.90", "0", "100", "-5", "0.5", "007.10"])
def test_a_plain_decimal_is_read_exactly(text):
    assert parse_amount(text, ["amount"]) == Decimal(text)


@pytest.mark.parametrize(
    ("minor", "currency", "shown"),
    [(12900, "CNY", "129.00"), (0, "CNY", "0.00"), (5, "USD", "0.05"), (-250, "CNY", "-2.50"),
     (1500, "JPY", "1500"), (7, "KWD", "0.007"), (10**15, "CNY", "10000000000000.00")],
)  # fmt: skip
def test_an_amount_is_written_with_every_place_of_its_currency(minor, currency, shown):
    assert str(from_minor(minor, currency)) == shown
    if minor >= 0:  # a negative amount is refused as an input
        assert to_minor(MoneyAmount(shown, currency), currency, ["amount"]) == minor


@pytest.mark.parametrize("text", LOOSE)
def test_anything_looser_is_refused_naming_the_field(text):
    with pytest.raises(DomainError) as caught:
        to_minor(MoneyAmount(text, "CNY"), "CNY", ["amountPaid"])
    assert (caught.value.code, caught.value.field) == ("INVALID_AMOUNT", ["amountPaid", "amount"])


async def test_loose_amounts_through_the_api_are_user_errors(brand_a, make_member, api_key, gql):
    member = await make_member(brand_a)
    token = await api_key(brand_a, "write")
    record = """mutation($input: RecordOrderInput!) { recordOrder(input: $input) {
      order { id } errors { field code } } }"""
    top_up = """mutation($input: StoredValueInput!) { topUpStoredValue(input: $input) {
      balance { amount } errors { field code } } }"""

    def order(amount: str) -> dict:
        return {
            "input": {
                "externalId": f"o-{amount!r}",
                "memberId": encode_id("Member", member.id),
                "occurredAt": "2025-03-01T10:00:00+08:00",
                "amountPaid": {"amount": amount, "currency": "CNY"},
                "lines": [
                    {"sku": "A", "quantity": 1, "unitPrice": {"amount": "100", "currency": "CNY"}}
                ],
            }
        }

    for text in ("1e2", " 5.00"):
        recorded = (await gql(record, order(text), token=token))["recordOrder"]
        topped = (
            await gql(
                top_up,
                {
                    "input": {
                        "memberId": encode_id("Member", member.id),
                        "amount": {"amount": text, "currency": "CNY"},
                        "idempotencyKey": f"t-{text}",
                    }
                },
                token=token,
            )
        )["topUpStoredValue"]
        assert recorded == {
            "order": None,
            "errors": [{"field": ["input", "amountPaid", "amount"], "code": "INVALID_AMOUNT"}],
        }
        assert topped == {
            "balance": None,
            "errors": [{"field": ["input", "amount", "amount"], "code": "INVALID_AMOUNT"}],
        }
    plain = (await gql(record, order("100"), token=token))["recordOrder"]
    assert plain["errors"] == []
    scope = BrandScope(brand_a)
    assert await scope.query(Order).count() == 1
    assert await scope.query(LedgerEntry).filter(kind="stored_value").count() == 0
