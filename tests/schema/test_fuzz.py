"""Property: no input makes the API fail unexpectedly.

The inputs are generated from the schema as introspected over HTTP (graphql-
core's standard query): every root field that takes arguments, with values of
its argument types, the strings drawn from all of Unicode (control
characters, NUL and over-long values included) and the scalars given both
well-formed and malformed values. Whatever is sent, the answer is a JSON
GraphQL response whose errors are expected ones (UserErrors, validation
errors, NOT_FOUND, ...), never a masked INTERNAL_SERVER_ERROR.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import graphql
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    get_introspection_query,
    get_named_type,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from tessera.schema.ids import encode_id

# Kept modest so the property runs in seconds on both databases.
EXAMPLES = 120
# Fields whose work is a whole-brand job; they add time, not new input shapes.
SLOW = frozenset({"refreshSegment", "recomputeLifecycle", "recomputeRfm"})

texts = st.one_of(
    st.text(max_size=12),
    st.text(st.characters(codec="utf-8", max_codepoint=0x7F), max_size=30),
    st.text(max_size=300),
    st.sampled_from(["", " ", "\x00", "a\x00b", "\x1b[31m", "x" * 65, "x" * 5000, "💳", "\ud800"]),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
times = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


def _scalar(name: str, member_ids: list[str]) -> st.SearchStrategy[Any]:
    if name == "String":
        return texts
    if name == "ID":
        return st.one_of(st.sampled_from(member_ids), texts)
    if name == "Int":
        return st.one_of(st.integers(-5, 1000), st.integers(-(2**31), 2**31 - 1))
    if name == "Float":
        return st.floats(allow_nan=False, allow_infinity=False)
    if name == "Boolean":
        return st.booleans()
    if name == "DateTime":
        return st.one_of(
            times.map(lambda t: t.isoformat()),
            st.just((datetime.now(UTC) - timedelta(days=1)).isoformat()),
            texts,
        )
    if name == "Date":
        return st.one_of(st.dates(date(1900, 1, 1), date(2100, 1, 1)).map(str), texts)
    if name == "Decimal":
        return st.one_of(
            st.decimals(Decimal("-1e9"), Decimal("1e12"), allow_nan=False, places=2).map(str),
            texts,
        )
    if name == "JSON":
        return json_values
    return st.one_of(texts, st.integers())


def _value(kind: GraphQLInputType, member_ids: list[str], depth: int = 0) -> Any:
    if isinstance(kind, GraphQLNonNull):
        return _required(kind.of_type, member_ids, depth)
    return st.one_of(st.none(), _required(kind, member_ids, depth))


def _required(kind: GraphQLInputType, member_ids: list[str], depth: int) -> Any:
    if isinstance(kind, GraphQLList):
        return st.lists(_value(kind.of_type, member_ids, depth + 1), max_size=3)
    if isinstance(kind, GraphQLEnumType):
        return st.sampled_from(sorted(kind.values))
    if isinstance(kind, GraphQLScalarType):
        return _scalar(kind.name, member_ids)
    assert isinstance(kind, GraphQLInputObjectType)
    required = {
        name: _value(field.type, member_ids, depth + 1)
        for name, field in kind.fields.items()
        if isinstance(field.type, GraphQLNonNull) and field.default_value is graphql.Undefined
    }
    optional = {
        name: _value(field.type, member_ids, depth + 1)
        for name, field in kind.fields.items()
        if name not in required and depth < 3
    }
    return st.fixed_dictionaries(required, optional=optional)


def _document(operation: str, name: str, field: GraphQLField) -> str:
    variables = ", ".join(f"${arg}: {spec.type}" for arg, spec in field.args.items())
    arguments = ", ".join(f"{arg}: ${arg}" for arg in field.args)
    selection = (
        "" if isinstance(get_named_type(field.type), GraphQLScalarType) else "{ __typename }"
    )
    return f"{operation} Fuzz({variables}) {{ {name}({arguments}) {selection} }}"


_examples = itertools.count()
_introspected: list[graphql.GraphQLSchema] = []


async def _schema(http: Any, token: str) -> graphql.GraphQLSchema:
    if not _introspected:
        response = await http.post(
            "/graphql",
            json={"query": get_introspection_query()},
            headers={"Authorization": f"Bearer {token}"},
        )
        _introspected.append(graphql.build_client_schema(response.json()["data"]))
    return _introspected[0]


@settings(max_examples=EXAMPLES)
@given(data=st.data())
async def test_no_input_causes_an_internal_error(http, api_key, brand_a, new_member, data):
    token = await api_key(brand_a, "admin")
    schema = await _schema(http, token)
    member = await new_member(brand_a, email=f"fuzz{next(_examples)}@example.com")
    member_ids = [encode_id("Member", member.id)]
    fields = [
        (operation, name, field)
        for operation, root in (("query", schema.query_type), ("mutation", schema.mutation_type))
        if root is not None
        for name, field in root.fields.items()
        if field.args and name not in SLOW
    ]
    operation, name, field = data.draw(st.sampled_from(fields), label="field")
    variables = {
        arg: data.draw(_value(spec.type, member_ids), label=arg) for arg, spec in field.args.items()
    }
    response = await http.post(
        "/graphql",
        content=json.dumps({"query": _document(operation, name, field), "variables": variables}),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status_code in (200, 400), response.text
    body = response.json()
    codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]
    assert "INTERNAL_SERVER_ERROR" not in codes, (name, variables, body)
