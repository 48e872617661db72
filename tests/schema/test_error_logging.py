"""Client mistakes are info lines without a traceback; only unexpected failures
are logged at error (with one). And the one mechanism that turns refusals into
payload `errors`."""

from __future__ import annotations

import logging

import pytest
import strawberry
from strawberry.types import Info

from tessera.errors import DomainError
from tessera.schema.errors import ErrorsInPayload, UserError


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _assert_client_mistake(caplog: pytest.LogCaptureFixture, code: str) -> None:
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    lines = [r for r in caplog.records if r.name == "tessera.graphql" and code in r.getMessage()]
    assert lines, caplog.text
    assert all(r.levelno in (logging.INFO, logging.WARNING) for r in lines)
    assert all(r.exc_info is None for r in caplog.records)


async def test_a_user_error_is_an_info_line(http, api_key, brand_a, caplog) -> None:
    token = await api_key(brand_a, "admin")
    with caplog.at_level(logging.DEBUG):
        response = await http.post(
            "/graphql",
            json={
                "query": 'mutation { createTag(input: {code: "", name: "x"}) { errors { code } } }'
            },
            headers=bearer(token),
        )
    codes = [e["code"] for e in response.json()["data"]["createTag"]["errors"]]
    assert codes
    _assert_client_mistake(caplog, codes[0])


async def test_forbidden_is_an_info_line(http, api_key, brand_a, caplog) -> None:
    token = await api_key(brand_a, "read")
    with caplog.at_level(logging.DEBUG):
        response = await http.post(
            "/graphql",
            json={
                "query": 'mutation { createTag(input: {code: "a", name: "a"}) { errors { code } } }'
            },
            headers=bearer(token),
        )
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    _assert_client_mistake(caplog, "FORBIDDEN")


async def test_a_bad_cursor_is_an_info_line(http, api_key, brand_a, caplog) -> None:
    token = await api_key(brand_a, "read")
    with caplog.at_level(logging.DEBUG):
        response = await http.post(
            "/graphql",
            json={"query": '{ members(after: "nonsense") { totalCount } }'},
            headers=bearer(token),
        )
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_CURSOR"
    _assert_client_mistake(caplog, "BAD_CURSOR")


async def test_a_limit_refusal_is_an_info_line(http, api_key, brand_a, caplog) -> None:
    token = await api_key(brand_a, "read")
    deep = '{ __type(name: "Query") { fields { type ' + "{ ofType " * 30 + "{ name }" + " }" * 33
    with caplog.at_level(logging.DEBUG):
        response = await http.post("/graphql", json={"query": deep}, headers=bearer(token))
    assert response.json()["errors"][0]["extensions"]["code"] == "INTROSPECTION_TOO_DEEP"
    _assert_client_mistake(caplog, "INTROSPECTION_TOO_DEEP")


async def test_an_unexpected_failure_is_logged_once_at_error(
    http, api_key, brand_a, monkeypatch, caplog
) -> None:
    from tessera.features import service

    async def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(service, "list_features", explode)
    with caplog.at_level(logging.DEBUG):
        await http.post(
            "/graphql",
            json={"query": "{ features { component } }"},
            headers=bearer(await api_key(brand_a, "read")),
        )
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None


@strawberry.type(description="p")
class _Payload:
    value: int | None = strawberry.field(default=None, description="v")
    errors: list[UserError] = strawberry.field(description="e")


@strawberry.type(description="p")
class _Incomplete:
    value: int = strawberry.field(description="v")
    errors: list[UserError] = strawberry.field(description="e")


@strawberry.type
class _Query:
    fail: strawberry.Private[bool] = False

    @strawberry.field(extensions=[ErrorsInPayload()])
    async def go(self, info: Info) -> _Payload:
        if info.root_value.fail:
            raise DomainError("TOO_LONG", "too long", ["name"])
        return _Payload(value=1, errors=[])


@strawberry.type
class _BrokenQuery:
    @strawberry.field(extensions=[ErrorsInPayload()])
    async def go(self, info: Info) -> _Incomplete:
        raise DomainError("TOO_LONG", "too long", ["name"])


async def test_a_domain_error_becomes_the_payloads_errors() -> None:
    schema = strawberry.Schema(query=_Query)
    result = await schema.execute(
        "{ go { value errors { field code } } }", root_value=_Query(fail=True)
    )
    assert result.errors is None
    assert result.data == {
        "go": {"value": None, "errors": [{"field": ["input", "name"], "code": "TOO_LONG"}]}
    }
    ok = await schema.execute("{ go { value errors { code } } }", root_value=_Query())
    assert ok.data == {"go": {"value": 1, "errors": []}}


def test_a_payload_without_defaults_is_refused_when_the_schema_is_built() -> None:
    with pytest.raises(TypeError, match=r"_Incomplete fields \['value'\] need defaults"):
        strawberry.Schema(query=_BrokenQuery)
