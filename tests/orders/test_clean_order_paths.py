"""``clean_order`` takes a short path for an order without problems and the
checked one (``checked_clean_order``) for any other: both must give the same
order, the same fingerprint, the same errors."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import MISSING
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tessera.errors import DomainErrors
from tessera.idempotency import _CANONICAL, fingerprint
from tessera.orders.inputs import (
    CleanLine,
    CleanOrder,
    LineInput,
    MemberRef,
    OrderInput,
    _clean_plain,
    checked_clean_order,
    clean_order,
)
from tessera.orders.money import MoneyAmount

NOW = datetime(2025, 3, 2, tzinfo=UTC)


def test_a_known_order_keeps_its_fingerprint() -> None:
    """Stored orders' fingerprints are compared on replay: the same input must
    keep giving the same one (this value was computed before the short path)."""
    order = OrderInput(
        external_id=" o-1 ",
        member=MemberRef(identity_kind="phone", identity_value="13900000001"),
        occurred_at=datetime(2025, 3, 1, 10, 0, tzinfo=UTC),
        amount_paid=MoneyAmount("150.00", "CNY"),
        lines=[
            LineInput("sku-0", 1, MoneyAmount(Decimal("75.00"), "CNY"), "Item é", None),
            LineInput(
                " sku-1 ", 2, MoneyAmount("37.50", "cny"), "", " cat ", MoneyAmount("40", "CNY")
            ),
        ],
        coupon_codes=[" C1 "],
        store_code="s1",
        channel=" ",
        hold_id=7,
    )
    clean = clean_order(order, "CNY", NOW, [])
    assert clean.fingerprint == "5c654cd446207355a09ba575c49d3dd40a5fb38af8a607124baed8c703baa950"
    assert (clean.amount_paid, clean.retail_amount, clean.discount) == (15000, 15500, 500)
    assert [line.paid_amount for line in clean.lines] == [7500, 7500]


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``good`` seven times in eight: orders with one problem or none, most of
    them, so that both paths are taken."""
    return st.integers(0, 7).flatmap(lambda n: bad if n == 0 else good)


names = st.sampled_from(["a", " b ", "é", "x" * 32])
texts = mostly(names, st.sampled_from(["", "   ", "y" * 65, "z" * 101, "w" * 129, "q" * 201]))
amounts = st.builds(
    MoneyAmount,
    mostly(
        st.sampled_from(["150.00", "75", "0", "0.5", Decimal("75.00"), Decimal("7.5E+1")]),
        st.sampled_from(
            [
                "1.234",
                "-1",
                "abc",
                "1e2",
                " 5",
                "+5",
                "12.",
                "1" * 17,
                Decimal("0.001"),
                Decimal("-2"),
                Decimal("NaN"),
                Decimal("Infinity"),
                Decimal("1E+20"),
                Decimal("sNaN"),
            ]
        ),  # fmt: skip
    ),
    mostly(st.sampled_from(["CNY", "cny"]), st.sampled_from(["JPY", "USD"])),
)
lines = st.builds(
    LineInput,
    sku=texts,
    quantity=mostly(st.sampled_from([1, 3]), st.sampled_from([-1, 0])),
    unit_price=amounts,
    name=st.sampled_from(["", " "]) | texts,
    category=st.none() | st.sampled_from(["", " "]) | texts,
    retail_price=st.none() | amounts,
)
members = mostly(
    st.sampled_from(
        [MemberRef(member_id=4), MemberRef(identity_kind="phone", identity_value="13900000001")]
    ),
    st.builds(
        MemberRef,
        member_id=st.none() | st.just(4),
        identity_kind=st.none() | st.just("phone"),
        identity_value=st.none() | st.just("13900000001"),
    ),
)
times = mostly(
    st.sampled_from(
        [
            datetime(2025, 3, 1, 10, tzinfo=UTC),
            datetime.fromisoformat("2025-03-01T10:00:00+08:00"),
            NOW + timedelta(hours=23),
        ]
    ),
    st.sampled_from([datetime(2025, 3, 1, 10), NOW + timedelta(days=2)]),
)
orders = st.builds(
    OrderInput,
    external_id=texts,
    member=members,
    occurred_at=times,
    amount_paid=amounts,
    lines=st.lists(lines, max_size=3),
    retail_amount=st.none() | amounts,
    discount=st.none() | amounts,
    coupon_codes=st.lists(texts, max_size=3),
    store_code=st.none() | st.sampled_from(["", " "]) | texts,
    channel=st.none() | st.sampled_from(["", " "]) | texts,
    hold_id=st.none() | st.just(9),
    redeem_coupons=st.booleans(),
)


def _outcome(clean: Any, *args: Any) -> Any:
    try:
        return clean(*args)
    except DomainErrors as error:
        return [(e.code, e.message, e.field) for e in error.errors]
    except Exception as error:
        return type(error)


@settings(max_examples=400)
@given(order=orders, currency=mostly(st.just("CNY"), st.sampled_from(["JPY", "cny"])))
def test_the_short_path_cleans_as_the_checked_one(order: OrderInput, currency: str) -> None:
    path = ["orders", "3"]
    checked = _outcome(checked_clean_order, order, currency, NOW, path)
    assert _outcome(clean_order, order, currency, NOW, path) == checked
    if not isinstance(checked, list | type):  # an order without problems takes the short path
        assert _clean_plain(order, currency, NOW) == checked


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | st.floats(allow_nan=False)
    | st.decimals(allow_nan=False) | st.dates(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=12,
)  # fmt: skip


@given(values=json_values)
def test_the_canonical_form_is_json_dumps(values: Any) -> None:
    assert _CANONICAL(values) == json.dumps(
        values, sort_keys=True, separators=(",", ":"), default=str
    )


def test_a_fingerprint_of_dates_and_decimals_is_their_text() -> None:
    assert fingerprint({"b": Decimal("1.50"), "a": date(2024, 5, 1)}) == fingerprint(
        {"a": "2024-05-01", "b": "1.50"}
    )


@pytest.mark.parametrize("cls", [MemberRef, LineInput, OrderInput, CleanLine, CleanOrder])
def test_the_quicker_init_takes_and_sets_what_the_dataclass_one_does(cls: type) -> None:
    given_fields = dataclasses.fields(cls)
    required = [f for f in given_fields if f.default is MISSING and f.default_factory is MISSING]
    values = {f.name: object() for f in given_fields}
    by_keyword = cls(**{f.name: values[f.name] for f in required})
    for f in given_fields:
        expected = (
            values[f.name]
            if f in required
            else f.default
            if f.default is not MISSING
            else f.default_factory()  # type: ignore[misc]
        )
        assert getattr(by_keyword, f.name) == expected
    if any(f.default_factory is not MISSING for f in given_fields):  # a fresh list each
        other = cls(**{f.name: values[f.name] for f in required})
        assert all(
            getattr(other, f.name) is not getattr(by_keyword, f.name)
            for f in given_fields
            if f.default_factory is not MISSING
        )
    in_full = cls(*values.values())
    assert vars(in_full) == values
    assert in_full == cls(**values)
    with pytest.raises(dataclasses.FrozenInstanceError):
        in_full.__setattr__(given_fields[0].name, 1)
    with pytest.raises(TypeError):
        cls(*values.values(), 1)
