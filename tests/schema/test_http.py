"""GraphQL over HTTP: authentication, transport rules, limits and error shapes."""

from __future__ import annotations

import gc
import logging

import pytest
import strawberry

from tessera.auth.api_keys import revoke_api_key
from tessera.auth.models import ApiKey
from tessera.features.models import BrandFeature
from tessera.scope import BrandScope

BRAND = "{ brand { code } }"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_brand_answers_with_the_callers_brand(gql, api_key, brand_a, brand_b):
    token = await api_key(brand_a, "read")
    data = await gql("{ brand { code currency timezone } }", token=token)
    assert data["brand"] == {"code": "brand-a", "currency": "CNY", "timezone": "Asia/Shanghai"}
    other = await api_key(brand_b, "read")
    assert (await gql(BRAND, token=other))["brand"]["code"] == "brand-b"


async def test_missing_credentials_are_401_json(http, brand_a):
    response = await http.post("/graphql", json={"query": BRAND})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    "header", ["Bearer tsk_nope_nope", "Bearer garbage", "Basic abc", "Bearer "]
)
async def test_bad_credentials_are_401(http, brand_a, header):
    response = await http.post("/graphql", json={"query": BRAND}, headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_key_with_a_wrong_secret_is_refused(http, api_key, brand_a):
    token = await api_key(brand_a, "read")
    prefix, key_id, secret = token.split("_", 2)
    forged = f"{prefix}_{key_id}_{'x' * len(secret)}"
    response = await http.post("/graphql", json={"query": BRAND}, headers=bearer(forged))
    assert response.status_code == 401


async def test_revoked_key_is_401(http, api_key, brand_a):
    token = await api_key(brand_a, "read")
    assert (
        await http.post("/graphql", json={"query": BRAND}, headers=bearer(token))
    ).status_code == 200
    key = await ApiKey.get(prefix=token.split("_")[1])
    await revoke_api_key(BrandScope(brand_a), key.id)
    response = await http.post("/graphql", json={"query": BRAND}, headers=bearer(token))
    assert response.status_code == 401
    assert "revoked" in response.json()["errors"][0]["message"]


async def test_api_key_is_stored_hashed(api_key, brand_a):
    token = await api_key(brand_a, "read")
    key = await ApiKey.get(prefix=token.split("_")[1])
    assert token not in key.secret_hash and key.secret_hash != token
    assert len(key.secret_hash) == 64


async def test_get_serves_queries(http, api_key, brand_a):
    token = await api_key(brand_a, "read")
    response = await http.get("/graphql", params={"query": BRAND}, headers=bearer(token))
    assert response.status_code == 200
    assert response.json()["data"]["brand"]["code"] == "brand-a"


async def test_get_refuses_mutations(http, api_key, brand_a):
    token = await api_key(brand_a, "admin")
    mutation = 'mutation { setFeature(input: {component: "console_sms"}) { errors { code } } }'
    response = await http.get("/graphql", params={"query": mutation}, headers=bearer(token))
    assert response.status_code in (400, 405)
    assert response.json()["errors"][0]["message"]
    assert await BrandFeature.all().count() == 0


async def test_graphql_response_media_type_when_asked(http, api_key, brand_a):
    token = await api_key(brand_a, "read")
    response = await http.post(
        "/graphql",
        json={"query": BRAND},
        headers={**bearer(token), "Accept": "application/graphql-response+json"},
    )
    assert response.headers["content-type"].startswith("application/graphql-response+json")
    assert response.json()["data"]["brand"]["code"] == "brand-a"


async def test_malformed_json_is_a_json_400(http, api_key, brand_a):
    token = await api_key(brand_a, "read")
    response = await http.post(
        "/graphql",
        content=b'{"query": ',
        headers={**bearer(token), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert "JSON" in response.json()["errors"][0]["message"]


async def test_batched_requests_are_refused(http, api_key, brand_a):
    token = await api_key(brand_a, "read")
    response = await http.post(
        "/graphql", json=[{"query": BRAND}, {"query": BRAND}], headers=bearer(token)
    )
    assert response.status_code == 400
    assert "batch" in response.json()["errors"][0]["message"].lower()


async def test_oversized_body_is_413(http, api_key, brand_a, tessera_runtime):
    token = await api_key(brand_a, "read")
    limit = tessera_runtime.settings.limits.max_body_bytes
    padding = "#" + "x" * limit + "\n"
    response = await http.post("/graphql", json={"query": padding + BRAND}, headers=bearer(token))
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"


async def test_unknown_operation_name_is_an_error(http, api_key, brand_a):
    token = await api_key(brand_a, "read")
    response = await http.post(
        "/graphql",
        json={"query": "query A { brand { code } }", "operationName": "B"},
        headers=bearer(token),
    )
    assert response.status_code == 400
    assert "B" in response.json()["errors"][0]["message"]


async def test_wrong_variable_type_names_the_variable(gql, api_key, brand_a):
    token = await api_key(brand_a, "admin")
    body = await gql(
        "mutation($input: SetFeatureInput!) { setFeature(input: $input) { errors { code } } }",
        {"input": {"component": 5, "enabled": "yes"}},
        token=token,
        errors_ok=True,
    )
    assert body["errors"] and "$input" in body["errors"][0]["message"]
    assert await BrandFeature.all().count() == 0


async def test_field_suggestions_only_in_development(gql, api_key, brand_a, tessera_runtime):
    from tessera.config import Environment
    from tessera.schema import build_schema

    token = await api_key(brand_a, "read")
    body = await gql("{ brand { cod } }", token=token, errors_ok=True)
    assert "Did you mean" in body["errors"][0]["message"]  # test environment counts as development
    production = tessera_runtime.settings.model_copy(update={"environment": Environment.PRODUCTION})
    result = await build_schema(production).execute("{ brand { cod } }")
    assert result.errors and "Did you mean" not in result.errors[0].message


async def test_read_scope_cannot_mutate(gql, api_key, brand_a):
    token = await api_key(brand_a, "read")
    body = await gql(
        'mutation { setFeature(input: {component: "console_sms"}) { errors { code } } }',
        token=token,
        errors_ok=True,
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await BrandFeature.all().count() == 0


async def test_unexpected_errors_are_masked_with_a_request_id(
    http, api_key, brand_a, monkeypatch, caplog
):
    from tessera.features import service

    async def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(service, "list_features", explode)
    token = await api_key(brand_a, "read")
    with caplog.at_level(logging.ERROR, logger="tessera.graphql"):
        response = await http.post(
            "/graphql", json={"query": "{ features { component } }"}, headers=bearer(token)
        )
    error = response.json()["errors"][0]
    assert "secret internals" not in error["message"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    request_id = error["extensions"]["requestId"]
    assert request_id == response.headers["x-request-id"]
    logged = [r for r in caplog.records if r.name == "tessera.graphql"]
    assert logged and "secret internals" in str(logged[0].exc_info[1])


async def test_graphiql_is_served_in_development(http):
    response = await http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_graphiql_loads_nothing_from_outside(http):
    import re

    page = (await http.get("/graphql", headers={"Accept": "text/html"})).text
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    assets = re.findall(r"(?:src|href)=\"(/graphiql/[^\"]+)\"", page)
    assert len(assets) == 6
    for asset in assets:
        response = await http.get(asset)
        assert response.status_code == 200 and len(response.content) > 1000, asset


@pytest.mark.parametrize("body", [b'"hello"', b"null", b"42", b"true"])
async def test_a_json_body_that_is_not_an_object_is_a_json_400(http, api_key, brand_a, body):
    token = await api_key(brand_a, "read")
    response = await http.post(
        "/graphql", content=body, headers={**bearer(token), "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "object" in error["message"]


def test_vendored_graphiql_files_are_the_ones_vendor_sh_recorded():
    import hashlib
    from pathlib import Path

    import tessera.schema

    folder = Path(tessera.schema.__file__).parent / "static" / "graphiql"
    recorded = (folder / "SHA256SUMS").read_text().split("\n")
    for line in filter(None, recorded):
        digest, name = line.split()
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
    assert "MIT" in (folder / "LICENSES.txt").read_text()


async def test_an_answer_is_utf8_json_that_reads_back_as_given(http, api_key, brand_a, gql):
    token = await api_key(brand_a, "write")
    created = await gql(
        'mutation { createMember(input: { name: "王小明 \\"Ming\\" \\\\ é", '
        'externalId: "utf-1" }) { member { name } errors { message } } }',
        token=token,
    )
    assert created["createMember"]["errors"] == []
    response = await http.post(
        "/graphql",
        json={"query": '{ memberByIdentity(kind: EXTERNAL_ID, value: "utf-1") { name } }'},
        headers=bearer(token),
    )
    assert response.headers["content-type"].startswith("application/json")
    assert "王小明".encode() in response.content  # as it is, not \\u escapes
    assert response.json()["data"]["memberByIdentity"]["name"] == '王小明 "Ming" \\ é'


def test_what_orjson_refuses_is_encoded_by_the_standard_library(tessera_runtime):
    import json

    from tessera.schema import build_schema
    from tessera.schema.http import GraphQLEndpoint

    endpoint = GraphQLEndpoint(build_schema(tessera_runtime.settings), tessera_runtime.settings)
    beyond_64_bits = {"data": {"member": {"attributes": {"points": 2**70, "n": 1}}}}
    assert json.loads(endpoint.encode_json(beyond_64_bits)) == beyond_64_bits
    plain = {"data": {"brand": {"code": "brand-a"}}}
    assert endpoint.encode_json(plain) == b'{"data":{"brand":{"code":"brand-a"}}}'


async def test_the_collector_is_held_while_a_request_is_answered(
    http, api_key, brand_a, monkeypatch
):
    """A request's answer is built with the cyclic collector held
    (tessera.collector.held) and let go once it is answered, refused
    requests included."""
    collecting: list[bool] = []
    execute = strawberry.Schema.execute

    async def noting(self, *args, **kwargs):
        collecting.append(gc.isenabled())
        return await execute(self, *args, **kwargs)

    monkeypatch.setattr(strawberry.Schema, "execute", noting)
    token = await api_key(brand_a, "read")
    response = await http.post("/graphql", json={"query": BRAND}, headers=bearer(token))
    assert response.json()["data"]["brand"]["code"] == "brand-a"
    assert collecting == [False]
    assert gc.isenabled()
    malformed = await http.post(
        "/graphql",
        content=b"{not json",
        headers={**bearer(token), "content-type": "application/json"},
    )
    assert malformed.status_code == 400
    assert gc.isenabled()
