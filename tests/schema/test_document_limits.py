"""The caps on one document (API.md, Limits): abusive documents are refused
with a code, the standard introspection queries pass at the default caps, and
validation results are cached across requests."""

from __future__ import annotations

from pathlib import Path

import graphql
import pytest
from graphql import get_introspection_query
from strawberry.schema import schema as strawberry_schema

from tessera.config import Limits

FIXTURES = Path(__file__).parent / "fixtures"

# graphql-js 16's getIntrospectionQuery(), written by schema/static/vendor.sh.
GRAPHQL_JS_QUERIES = {
    "graphql-js default": (FIXTURES / "graphql_js_16_introspection.graphql").read_text(),
    "graphql-js all options": (
        FIXTURES / "graphql_js_16_introspection_all_options.graphql"
    ).read_text(),
}
GRAPHQL_CORE_QUERIES = {
    "graphql-core default": get_introspection_query(),
    "graphql-core all options": get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
        one_of=True,
    ),
}
STANDARD = {**GRAPHQL_JS_QUERIES, **GRAPHQL_CORE_QUERIES}


def test_the_defaults_are_the_documented_ones(tessera_runtime):
    # The introspection tests below prove the standard queries pass at these caps.
    assert tessera_runtime.settings.limits == Limits()


@pytest.mark.parametrize("name", sorted(STANDARD))
async def test_standard_introspection_queries_pass(gql, api_key, brand_a, name):
    token = await api_key(brand_a, "read")
    data = await gql(STANDARD[name], token=token)
    schema = graphql.build_client_schema(data)
    assert "brand" in schema.query_type.fields
    assert schema.mutation_type is not None and "recordOrder" in schema.mutation_type.fields


async def test_a_deep_of_type_chain_is_refused(gql, api_key, brand_a):
    token = await api_key(brand_a, "read")
    inner = "name"
    for _ in range(30):
        inner = f"ofType {{ {inner} }}"
    body = await gql(f'{{ __type(name: "Brand") {{ {inner} }} }}', token=token, errors_ok=True)
    assert body["errors"][0]["extensions"]["code"] == "INTROSPECTION_TOO_DEEP"
    assert not body.get("data")


async def test_an_of_type_chain_cannot_hide_behind_fragments(gql, api_key, brand_a):
    token = await api_key(brand_a, "read")
    fragments = "fragment F0 on __Type { name }\n" + "\n".join(
        f"fragment F{i} on __Type {{ ofType {{ ...F{i - 1} }} }}" for i in range(1, 12)
    )
    body = await gql("{ __schema { types { ...F11 } } }\n" + fragments, token=token, errors_ok=True)
    assert body["errors"][0]["extensions"]["code"] == "INTROSPECTION_TOO_DEEP"


async def test_deep_nesting_through_introspection_fields_counts_as_depth(gql, api_key, brand_a):
    token = await api_key(brand_a, "read")
    inner = "name"
    for _ in range(8):
        inner = f"fields {{ type {{ {inner} }} }}"
    body = await gql(f'{{ __type(name: "Member") {{ {inner} }} }}', token=token, errors_ok=True)
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_DEEP"


async def test_sixty_levels_of_object_fields_are_refused(gql, api_key, brand_a):
    token = await api_key(brand_a, "read")
    # A field named ofType outside introspection is an ordinary field: it counts as depth.
    inner = "id"
    for _ in range(60):
        inner = f'member(id: "x") {{ {inner} }}'
    body = await gql(f"{{ {inner} }}", token=token, errors_ok=True)
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_DEEP"
    assert "12" in body["errors"][0]["message"]
    assert not body.get("data")


async def test_too_many_aliases_are_refused_with_a_code(gql, api_key, brand_a, tessera_runtime):
    token = await api_key(brand_a, "read")
    count = 3000
    query = "{ " + " ".join(f"a{i}: __typename" for i in range(count)) + " }"
    body = await gql(query, token=token, errors_ok=True)
    codes = {e["extensions"]["code"] for e in body["errors"]}
    # 3000 aliases are also 9000 tokens: whichever cap bites, it says so.
    assert codes <= {"TOO_MANY_ALIASES", "TOO_MANY_TOKENS"} and codes
    few = tessera_runtime.settings.limits.max_aliases + 1
    query = "{ " + " ".join(f"a{i}: brand {{ code }}" for i in range(few)) + " }"
    body = await gql(query, token=token, errors_ok=True)
    error = body["errors"][0]
    assert error["extensions"]["code"] == "TOO_MANY_ALIASES"
    assert "aliases" in error["message"]
    assert not body.get("data")


async def test_too_many_tokens_are_refused_with_a_code(gql, api_key, brand_a, tessera_runtime):
    token = await api_key(brand_a, "read")
    count = tessera_runtime.settings.limits.max_tokens
    query = "{ brand { " + " ".join(["code"] * count) + " } }"
    body = await gql(query, token=token, errors_ok=True)
    error = body["errors"][0]
    assert error["extensions"]["code"] == "TOO_MANY_TOKENS"
    assert "token" in error["message"].lower()
    assert not body.get("data")


async def test_an_identical_request_is_validated_only_once(http, api_key, brand_a, monkeypatch):
    calls = []
    real = strawberry_schema.validate

    def counting(*args, **kwargs):
        calls.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(strawberry_schema, "validate", counting)
    token = await api_key(brand_a, "read")
    query = "query ValidatedOnce { brand { code name } }"
    for _ in range(3):
        response = await http.post(
            "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.json()["data"]["brand"]["code"] == "brand-a"
    assert len(calls) == 1


def test_the_schema_description_names_every_limit_code(tessera_runtime):
    from tessera.schema import build_schema

    sdl = build_schema(tessera_runtime.settings).as_str()
    for code in (
        "QUERY_TOO_DEEP",
        "INTROSPECTION_TOO_DEEP",
        "TOO_MANY_TOKENS",
        "TOO_MANY_ALIASES",
        "REQUEST_TOO_LARGE",
    ):
        assert code in sdl, code
