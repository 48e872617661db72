"""Variables coerced from a plan (``tessera.schema.engine.VariablePlans``) are
what graphql-core's own ``get_variable_values`` makes of them: the same values
for every input type of the schema, and for a value it refuses the same errors
(graphql-core's, which words them)."""

from __future__ import annotations

from typing import Any

import graphql
import pytest
import strawberry
from graphql import GraphQLInputObjectType, GraphQLList, GraphQLNonNull, parse
from graphql.execution import executor as graphql_executor
from graphql.execution.values import get_variable_values
from hypothesis import given, settings
from hypothesis import strategies as st
from test_fuzz import _required, json_values

from tessera.config import Environment, Settings
from tessera.schema import build_schema, engine
from tessera.schema.engine import VariablePlans, _get_variable_values, planned_variables
from tessera.schema.ids import encode_id

SCHEMA = build_schema(Settings(environment=Environment.TEST, secret_key="x" * 32))  # type: ignore[arg-type]
INPUTS = sorted(
    (t for t in SCHEMA._schema.type_map.values() if isinstance(t, GraphQLInputObjectType)),
    key=lambda t: t.name,
)
MEMBER = encode_id("Member", 1)


def _definitions(schema: graphql.GraphQLSchema, types: dict[str, Any]) -> Any:
    variables = ", ".join(f"${name}: {kind}" for name, kind in types.items())
    operation = parse(f"query Q({variables}) {{ __typename }}").definitions[0]
    assert isinstance(operation, graphql.OperationDefinitionNode)
    return operation.variable_definitions


def _both(schema: graphql.GraphQLSchema, types: dict[str, Any], inputs: dict[str, Any]) -> Any:
    definitions = _definitions(schema, types)
    ours = _get_variable_values(schema, definitions, inputs, max_errors=50)
    library = get_variable_values(schema, definitions, inputs, max_errors=50)
    return _comparable(ours), _comparable(library)


def _comparable(result: Any) -> Any:
    if isinstance(result, list):
        return [(e.message, e.path, e.locations) for e in result]
    sources = {k: (str(v.signature.type), v.value) for k, v in result.sources.items()}
    return (result.coerced, sources)


def _breaks(value: Any, data: st.DataObject) -> Any:
    """The value, or one of its fields (however deep) replaced by any JSON."""
    if isinstance(value, dict) and value and data.draw(st.booleans(), label="deeper"):
        key = data.draw(st.sampled_from(sorted(value)), label="key")
        return {**value, key: _breaks(value[key], data)}
    if isinstance(value, list) and value and data.draw(st.booleans(), label="item"):
        index = data.draw(st.integers(0, len(value) - 1), label="index")
        return [*value[:index], _breaks(value[index], data), *value[index + 1 :]]
    if data.draw(st.booleans(), label="replace"):
        return data.draw(json_values, label="junk")
    return value


@settings(max_examples=400)
@given(data=st.data())
def test_planned_variables_are_what_graphql_core_makes_of_them(data) -> None:
    kind = data.draw(st.sampled_from(INPUTS), label="type")
    wrapper = data.draw(st.sampled_from(["{}!", "{}", "[{}!]", "[{}]!"]), label="wrapper")
    value = data.draw(_required(kind, [MEMBER], 0), label="value")
    if wrapper.startswith("["):
        value = data.draw(st.sampled_from([[value], [value, value], value]), label="list")
    value = _breaks(value, data)
    ours, library = _both(SCHEMA._schema, {"v": wrapper.format(kind.name)}, {"v": value})
    assert ours == library


AN_ORDER = {
    "externalId": "o-1",
    "occurredAt": "2026-12-01T10:00:00+00:00",
    "amountPaid": {"amount": "10.00", "currency": "CNY"},
    "memberId": MEMBER,
    "lines": [{"sku": "A", "quantity": 1, "unitPrice": {"amount": "10.00", "currency": "CNY"}}],
}


def test_a_batch_is_coerced_from_the_plan() -> None:
    ours, library = _both(
        SCHEMA._schema, {"input": "RecordOrdersInput!"}, {"input": {"orders": [AN_ORDER] * 3}}
    )
    assert ours == library
    order = ours[0]["input"]["orders"][2]
    assert order["couponCodes"] == [] and order["lines"][0]["retailPrice"] is None


def test_a_bad_field_deep_in_a_batch_is_named_as_graphql_core_names_it() -> None:
    bad = {**AN_ORDER, "lines": [{**AN_ORDER["lines"][0], "quantity": "two"}]}  # type: ignore[dict-item]
    inputs = {"input": {"orders": [AN_ORDER, AN_ORDER, AN_ORDER, bad]}}
    ours, library = _both(SCHEMA._schema, {"input": "RecordOrdersInput!"}, inputs)
    assert ours == library
    (message, *_), *_ = ours
    assert message == (
        "Variable '$input' has invalid value at .orders[3].lines[0].quantity: "
        "Int cannot represent non-integer value: 'two'"
    )


def test_an_unknown_field_a_null_and_a_non_string_are_refused_as_graphql_core_refuses_them() -> (
    None
):
    line = AN_ORDER["lines"][0]  # type: ignore[index]
    for bad in (
        {**AN_ORDER, "lines": [{**line, "colour": "red"}]},
        {**AN_ORDER, "lines": [line, None]},
        {**AN_ORDER, "lines": [{**line, "sku": None}]},
        {**AN_ORDER, "lines": [{**line, "sku": 7}]},
        {**AN_ORDER, "storeCode": 7},
        {**AN_ORDER, "storeCode": None, "couponCodes": ["a", None]},
    ):
        inputs = {"input": {"orders": [AN_ORDER, bad]}}
        ours, library = _both(SCHEMA._schema, {"input": "RecordOrdersInput!"}, inputs)
        assert ours == library
        assert isinstance(ours, list)  # refused


def test_missing_variables_and_defaults_are_left_to_graphql_core() -> None:
    types = {"a": "RecordOrdersInput!", "b": 'String = "x"', "c": "Int"}
    for inputs in ({}, {"a": {"orders": []}}, {"a": {"orders": []}, "b": None, "c": 3}):
        ours, library = _both(SCHEMA._schema, types, inputs)
        assert ours == library


@strawberry.input(name="Tree")
class _Tree:
    label: str
    children: list[_Tree] = strawberry.field(default_factory=list)


@strawberry.input(name="Either", one_of=True)
class _Either:
    a: str | None = strawberry.UNSET
    b: int | None = strawberry.UNSET


@strawberry.type
class _Query:
    @strawberry.field
    def tree(self, t: _Tree, e: _Either | None = None) -> int:
        return 0


def test_types_graphql_core_keeps() -> None:
    """A type that contains itself (its values' depth is checked by walking
    them) and graphql-core's ``@oneOf`` type are coerced by graphql-core;
    strawberry's one-of type (checked by its ``out_type``) the same with a plan."""
    schema = strawberry.Schema(query=_Query)._schema
    planned_variables(schema)
    plans = VariablePlans()
    assert plans.coercer(GraphQLNonNull(schema.type_map["Tree"])) is None  # type: ignore[arg-type]
    assert plans.coercer(schema.type_map["Either"]) is not None  # type: ignore[arg-type]
    assert plans.coercer(GraphQLList(schema.type_map["String"])) is not None  # type: ignore[arg-type]
    deep: dict[str, Any] = {"label": "x"}
    for _ in range(300):
        deep = {"label": "x", "children": [deep]}
    for inputs in (
        {"t": deep},
        {"t": {"label": "x", "children": [{"label": "y"}]}, "e": {"a": "z"}},
        {"t": {"label": "x"}, "e": {"a": "z", "b": 1}},
        {"t": {"label": "x"}, "e": {"a": None}},
    ):
        ours, library = _both(schema, {"t": "Tree!", "e": "Either"}, inputs)
        assert ours == library
    one_of = graphql.build_schema("input E @oneOf { a: String b: Int } type Query { f(e: E): Int }")
    planned_variables(one_of)
    assert plans.coercer(one_of.type_map["E"]) is None  # type: ignore[arg-type]
    for value in ({"a": "z"}, {"a": "z", "b": 1}, {"b": None}):
        ours, library = _both(one_of, {"e": "E"}, {"e": value})
        assert ours == library


def test_a_schema_not_planned_is_coerced_by_graphql_core(monkeypatch) -> None:
    schema = strawberry.Schema(query=_Query)._schema
    called = []
    monkeypatch.setattr(
        "tessera.schema.engine.get_variable_values", lambda *a: called.append(a) or []
    )
    _get_variable_values(schema, _definitions(schema, {"t": "Tree!"}), {"t": {"label": "x"}})
    assert len(called) == 1


async def test_graphql_core_builds_executors_with_the_plans(monkeypatch) -> None:
    """A request's variables reach the plans: graphql-core's executor still
    coerces them through the name that is replaced."""
    plans = engine._VARIABLE_PLANS[SCHEMA._schema]
    coerced = []
    plain = plans.coerce

    def counted(*args):
        coerced.append(plain(*args))
        return coerced[-1]

    monkeypatch.setattr(plans, "coerce", counted)
    query = (
        "mutation M($input: RecordOrdersInput!) "
        "{ __typename recordOrders(input: $input) @skip(if: true) { errors { code } } }"
    )
    result = await SCHEMA.execute(query, variable_values={"input": {"orders": [AN_ORDER]}})
    assert result.errors is None
    assert len(coerced) == 1 and coerced[0] is not None


async def test_an_answer_is_the_same_through_graphql_cores_coercion(monkeypatch) -> None:
    """End to end (to the errors a bad variable gets): the plan changes nothing."""
    query = (  # the variable used, the field not run: coercion is the whole of the work
        "mutation M($input: RecordOrdersInput!) "
        "{ __typename recordOrders(input: $input) @skip(if: true) { errors { code } } }"
    )
    cases = [
        {"input": {"orders": [AN_ORDER]}},
        {"input": {"orders": [AN_ORDER, {**AN_ORDER, "quantity": 1}]}},
        {"input": {"orders": [{**AN_ORDER, "occurredAt": "yesterday"}]}},
        {"input": {"orders": "x"}},
    ]
    ours = [(await SCHEMA.execute(query, variable_values=case)) for case in cases]
    with monkeypatch.context() as library:
        library.setattr(graphql_executor, "get_variable_values", get_variable_values)
        theirs = [(await SCHEMA.execute(query, variable_values=case)) for case in cases]
    assert [(r.data, r.errors) for r in ours] == [(r.data, r.errors) for r in theirs]
    assert ours[0].errors is None and ours[0].data == {"__typename": "Mutation"}
    assert ours[1].errors and ours[2].errors and ours[3].errors


@pytest.fixture(autouse=True)
def _planned() -> None:
    planned_variables(SCHEMA._schema)
