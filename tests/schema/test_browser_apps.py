"""A browser app calls /graphql from its own origin (CORS) with a member token,
and may read its brand's public facts."""

from __future__ import annotations

import httpx
import pytest

from tessera.app import create_app
from tessera.config import Settings
from tessera.members.service import create_member
from tessera.schema.ids import encode_id
from tessera.scope import BrandScope

SHOP = "https://shop.example.com"


@pytest.fixture
async def cors_http(tessera_runtime):
    settings = tessera_runtime.settings.model_copy(update={"cors_origins": [SHOP]})
    app = create_app(settings, runtime=tessera_runtime)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://tessera.test"
    ) as client:
        yield client


def test_origins_are_read_comma_separated_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("TESSERA_CORS_ORIGINS", f"{SHOP}/, http://localhost:5173")
    assert Settings().cors_origins == [SHOP, "http://localhost:5173"]


async def test_a_preflight_from_an_allowed_origin_is_answered(cors_http) -> None:
    response = await cors_http.options(
        "/graphql",
        headers={
            "Origin": SHOP,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SHOP
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "authorization" in response.headers["access-control-allow-headers"].lower()


async def test_a_call_from_an_allowed_origin_may_read_the_answer(
    cors_http, api_key, brand_a
) -> None:
    response = await cors_http.post(
        "/graphql",
        json={"query": "{ brand { code } }"},
        headers={"Origin": SHOP, "Authorization": f"Bearer {await api_key(brand_a, 'read')}"},
    )
    assert response.json()["data"] == {"brand": {"code": brand_a.code}}
    assert response.headers["access-control-allow-origin"] == SHOP


async def test_other_origins_get_no_cors_headers(cors_http) -> None:
    response = await cors_http.options(
        "/graphql",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


async def test_without_origins_configured_there_is_no_cors(http) -> None:
    response = await http.options(
        "/graphql", headers={"Origin": SHOP, "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in response.headers


async def test_a_member_token_reads_its_brands_public_facts_only(gql, api_key, brand_a) -> None:
    member = await create_member(BrandScope(brand_a), {"name": "Li Lei", "phone": "13800138000"})
    issued = await gql(
        "mutation($id: ID!) { issueMemberToken(input: {memberId: $id}) { token } }",
        {"id": encode_id("Member", member.id)},
        token=await api_key(brand_a, "write"),
    )
    token = issued["issueMemberToken"]["token"]
    data = await gql("{ brand { code name currency timezone } }", token=token)
    assert data["brand"] == {
        "code": brand_a.code,
        "name": brand_a.name,
        "currency": brand_a.currency,
        "timezone": brand_a.timezone,
    }
    for private in ("id", "defaultRegion"):
        body = await gql(f"{{ brand {{ code {private} }} }}", token=token, errors_ok=True)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], private
