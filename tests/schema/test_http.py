from __future__ import annotations

import logging

import pytest


async def test_brand_answers_with_the_callers_brand(gql, api_key, brand_a, brand_b):
    token = await api_key(brand_a, "read")
    data = await gql("{ brand { code currency timezone } }", token=token)
    assert data["brand"] == {"code": "brand-a", "currency": "CNY", "timezone": "Asia/Shanghai"}


async def test_missing_credentials_are_401_json(http, brand_a):
    response = await http.post("/graphql", json={"query": "{ brand { code } }"})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_unknown_key_is_401(http, brand_a):
    response = await http.post(
        "/graphql", json={"query": "{ brand { code } }"}, headers={"Authorization": "Bearer tsk_nope_nope"}
    )
    assert response.status_code == 401
    assert "unknown" in response.json()["errors"][0]["message"]
