"""Input objects built from a plan (``tessera.schema.engine.InputPlan``) are
the values strawberry's own conversion builds, for every input type of the
schema."""

from __future__ import annotations

from typing import Any

import graphql
import pytest
import strawberry
from graphql import GraphQLInputObjectType, coerce_input_value
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from strawberry.relay import GlobalID
from strawberry.types.arguments import convert_argument
from strawberry.types.maybe import Maybe
from test_fuzz import _required

from tessera.config import Environment, Settings
from tessera.schema import build_schema
from tessera.schema.engine import InputPlan, planned_inputs
from tessera.schema.ids import encode_id
from tessera.schema.orders.inputs import RecordOrdersInput


def _schema() -> strawberry.Schema:
    return build_schema(Settings(environment=Environment.TEST, secret_key="x" * 32))  # type: ignore[arg-type]


SCHEMA = _schema()
INPUTS = sorted(
    (t for t in SCHEMA._schema.type_map.values() if isinstance(t, GraphQLInputObjectType)),
    key=lambda t: t.name,
)


def _definitions() -> list[Any]:
    return [t.extensions["strawberry-definition"] for t in INPUTS]


def _convert(schema: strawberry.Schema, cls: type, value: Any) -> Any:
    return convert_argument(value, cls, schema.schema_converter.scalar_registry, schema.config)


def _strawberrys_own(monkeypatch: pytest.MonkeyPatch, cls: type, value: Any) -> Any:
    with monkeypatch.context() as patched:
        for definition in _definitions():
            patched.setattr(definition, "from_input", None)
        return _convert(SCHEMA, cls, value)


def test_every_input_type_of_the_schema_is_planned() -> None:
    planned_inputs(SCHEMA)  # the last schema built is the one planned for
    unplanned = [
        t.name
        for t in INPUTS
        if not isinstance(t.extensions["strawberry-definition"].from_input, InputPlan)
    ]
    assert unplanned == []


@settings(
    max_examples=300,
    suppress_health_check=[*settings.default.suppress_health_check, HealthCheck.filter_too_much],
)
@given(data=st.data())
def test_a_planned_input_is_what_strawberry_builds(monkeypatch, data) -> None:
    planned_inputs(SCHEMA)
    kind = data.draw(st.sampled_from(INPUTS), label="type")
    raw = data.draw(_required(kind, [encode_id("Member", 1)], 0), label="value")
    value = coerce_input_value(raw, kind)
    assume(value is not graphql.Undefined)
    cls = kind.extensions["strawberry-definition"].origin
    ours = _convert(SCHEMA, cls, value)
    assert ours == _strawberrys_own(monkeypatch, cls, value)
    assert type(ours) is cls


ORDERS = SCHEMA._schema.type_map["RecordOrdersInput"]
AN_ORDER = {
    "externalId": "o-1",
    "occurredAt": "2026-12-01T10:00:00+00:00",
    "amountPaid": {"amount": "10.00", "currency": "CNY"},
    "lines": [{"sku": "A", "quantity": 1, "unitPrice": {"amount": "10.00", "currency": "CNY"}}],
}


def test_a_recorded_batch_is_what_strawberry_builds(monkeypatch) -> None:
    planned_inputs(SCHEMA)
    value = coerce_input_value({"orders": [AN_ORDER, {**AN_ORDER, "couponCodes": ["C1"]}]}, ORDERS)
    ours = _convert(SCHEMA, RecordOrdersInput, value)
    assert ours == _strawberrys_own(monkeypatch, RecordOrdersInput, value)
    assert ours.orders[1].coupon_codes == ["C1"]
    assert ours.orders[0].lines[0].unit_price.amount == "10.00"


def test_a_default_list_is_each_values_own() -> None:
    """graphql-core fills an omitted ``couponCodes`` with the same default list
    for every value; each order gets a copy, so changing one's changes no other."""
    planned_inputs(SCHEMA)
    value = coerce_input_value({"orders": [AN_ORDER, AN_ORDER]}, ORDERS)
    first, second = _convert(SCHEMA, RecordOrdersInput, value).orders
    first.coupon_codes.append("X")
    assert second.coupon_codes == []
    again = _convert(SCHEMA, RecordOrdersInput, coerce_input_value({"orders": [AN_ORDER]}, ORDERS))
    assert again.orders[0].coupon_codes == []


def test_another_schema_of_the_same_types_converts_as_strawberry_does(monkeypatch) -> None:
    """Plans are for the schema last built (its scalars and config); a value of
    an earlier one is converted field by field as strawberry does."""
    other = _schema()
    assert other.schema_converter.scalar_registry is not SCHEMA.schema_converter.scalar_registry
    value = coerce_input_value({"orders": [AN_ORDER]}, ORDERS)
    ours = _convert(SCHEMA, RecordOrdersInput, value)
    assert ours == _strawberrys_own(monkeypatch, RecordOrdersInput, value)
    assert ours == _convert(other, RecordOrdersInput, value)
    planned_inputs(SCHEMA)


@strawberry.input
class _WithMaybe:
    note: Maybe[str | None]


@strawberry.input
class _WithGlobalID:
    node: GlobalID


@strawberry.input
class _Plain:
    text: str


@strawberry.input
class _Nesting:
    maybe: _WithMaybe | None = None
    plain: list[_Plain] = strawberry.field(default_factory=list)


@strawberry.input
class _NestingGlobal:
    ids: list[_WithGlobalID]


@strawberry.type
class _Query:
    @strawberry.field
    def a(self, x: _Nesting, y: _NestingGlobal) -> int:
        return 0


def test_types_strawberry_treats_apart_keep_its_conversion() -> None:
    """A Maybe (whose nulls strawberry validates only for types without
    ``from_input``) or a GlobalID (decoded with its own error) anywhere in a
    type leaves that type to strawberry; the rest is planned."""
    schema = strawberry.Schema(query=_Query)
    planned_inputs(schema)
    assert isinstance(_Plain.__strawberry_definition__.from_input, InputPlan)  # type: ignore[attr-defined]
    for cls in (_WithMaybe, _WithGlobalID, _Nesting, _NestingGlobal):
        assert cls.__strawberry_definition__.from_input is None  # type: ignore[attr-defined]
