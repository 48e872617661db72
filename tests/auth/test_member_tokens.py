"""Member tokens: minted by a brand key, reaching only ``me``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    Undefined,
    get_named_type,
)

from tessera.auth.member_tokens import _signing_key, issue_member_token
from tessera.members.profile import MemberStatus
from tessera.members.service import create_member, update_member
from tessera.schema import build_schema
from tessera.schema.ids import encode_id
from tessera.scope import BrandScope

ISSUE = """mutation($id: ID!, $ttl: Int) {
  issueMemberToken(input: {memberId: $id, ttlSeconds: $ttl}) {
    token expiresAt errors { field code } } }"""
# Operations a member token may reach (API.md: `me` and the member-self operations).
# Each member-self operation has its own test proving a token reaches only its
# own member's things (tests/coupons: another member's coupon is NOT_FOUND).
# `brand`: public facts only; `exportMyData` and `memberExport`: the member's
# own export; `slot` and `recordSlotEvents`: what the member's own slots show;
# `myConsent` and `setMyConsent`: the member's own consent.
MEMBER_SELF = {
    "me",
    "redeemCoupon",
    "checkIn",
    "brand",
    "exportMyData",
    "memberExport",
    "slot",
    "recordSlotEvents",
    "myConsent",
    "setMyConsent",
}


async def member_of(brand, phone="13800138000"):
    return await create_member(BrandScope(brand), {"name": "Li Lei", "phone": phone})


async def mint(gql, token, member, ttl=None):
    variables = {"id": encode_id("Member", member.id)}
    if ttl is not None:
        variables["ttl"] = ttl
    data = await gql(ISSUE, variables, token=token)
    return data["issueMemberToken"]


async def test_me_returns_the_tokens_member(gql, api_key, brand_a):
    member = await member_of(brand_a)
    issued = await mint(gql, await api_key(brand_a, "write"), member, 600)
    assert issued["errors"] == []
    expires = datetime.fromisoformat(issued["expiresAt"])
    assert timedelta(seconds=590) < expires - datetime.now(UTC) <= timedelta(seconds=600)
    data = await gql("{ me { id name phone } }", token=issued["token"])
    assert data["me"] == {
        "id": encode_id("Member", member.id),
        "name": "Li Lei",
        "phone": "+8613800138000",
    }


async def test_issuing_needs_write_and_a_member_of_the_keys_brand(gql, api_key, brand_a, brand_b):
    ours, theirs = await member_of(brand_a), await member_of(brand_b, "+12025550123")
    body = await gql(
        ISSUE,
        {"id": encode_id("Member", ours.id)},
        token=await api_key(brand_a, "read"),
        errors_ok=True,
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    issued = await mint(gql, await api_key(brand_a, "write"), theirs)
    assert issued == {
        "token": None,
        "expiresAt": None,
        "errors": [{"field": ["input", "memberId"], "code": "NOT_FOUND"}],
    }
    issued = await mint(gql, await api_key(brand_a, "write"), ours, 10)
    assert issued["errors"] == [{"field": ["input", "ttlSeconds"], "code": "INVALID"}]


async def test_expired_forged_and_foreign_tokens_are_refused(
    http, brand_a, brand_b, tessera_settings
):
    member = await member_of(brand_a)
    scope = BrandScope(brand_a)
    expired = issue_member_token(
        scope, member, 60, now=datetime.now(UTC) - timedelta(minutes=5)
    ).token
    good = issue_member_token(scope, member, 60).token
    claims = jwt.decode(good, options={"verify_signature": False})
    forged = jwt.encode(claims, "a guessed secret that is long enough!", algorithm="HS256")
    # Signed with the real key, but naming a brand the member is not in.
    other_brand = jwt.encode({**claims, "brand": brand_b.id}, _signing_key(), algorithm="HS256")
    unsigned = good[: good.rfind(".") + 1]
    for token in (expired, forged, other_brand, unsigned, "a.b.c"):
        response = await http.post(
            "/graphql",
            json={"query": "{ me { id } }"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 401, token
    response = await http.post(
        "/graphql", json={"query": "{ me { id } }"}, headers={"Authorization": f"Bearer {good}"}
    )
    assert response.status_code == 200


async def test_frozen_members_lose_their_session(http, brand_a):
    member = await member_of(brand_a)
    token = issue_member_token(BrandScope(brand_a), member).token
    await update_member(BrandScope(brand_a), member.id, {}, status=MemberStatus.FROZEN)
    response = await http.post(
        "/graphql", json={"query": "{ me { id } }"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401


async def test_api_keys_cannot_use_me(gql, api_key, brand_a):
    body = await gql("{ me { id } }", token=await api_key(brand_a, "admin"), errors_ok=True)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def _literal(type_, depth=0):
    """A syntactically valid literal for a GraphQL input type."""
    if isinstance(type_, GraphQLNonNull):
        return _literal(type_.of_type, depth)
    if isinstance(type_, GraphQLList):
        return f"[{_literal(type_.of_type, depth)}]"
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        required = [
            f"{name}: {_literal(field.type, depth + 1)}"
            for name, field in type_.fields.items()
            if isinstance(field.type, GraphQLNonNull) and field.default_value is Undefined
        ]
        return "{" + ", ".join(required) + "}"
    assert isinstance(type_, GraphQLScalarType)
    return {
        "Int": "1",
        "Float": "1.0",
        "Boolean": "true",
        "JSON": "{}",
        "Decimal": '"1"',
        "Date": '"2000-01-01"',
        "DateTime": '"2000-01-01T00:00:00+00:00"',
    }.get(type_.name, '"x"')


def _document(operation: str, name: str, field) -> str:
    args = [
        f"{arg_name}: {_literal(arg.type)}"
        for arg_name, arg in field.args.items()
        if isinstance(arg.type, GraphQLNonNull)
    ]
    call = f"{name}({', '.join(args)})" if args else name
    selection = (
        " { __typename }" if isinstance(get_named_type(field.type), GraphQLObjectType) else ""
    )
    return f"{operation} {{ {call}{selection} }}"


async def test_a_member_token_reaches_no_root_field_but_its_own(http, brand_a, tessera_settings):
    member = await member_of(brand_a)
    token = issue_member_token(BrandScope(brand_a), member).token
    schema = build_schema(tessera_settings)._schema
    checked = []
    for operation, root in (("query", schema.query_type), ("mutation", schema.mutation_type)):
        for name, field in root.fields.items():
            if name in MEMBER_SELF:
                continue
            document = _document(operation, name, field)
            response = await http.post(
                "/graphql", json={"query": document}, headers={"Authorization": f"Bearer {token}"}
            )
            body = response.json()
            codes = [e.get("extensions", {}).get("code") for e in body.get("errors", [])]
            assert codes == ["FORBIDDEN"], (document, body)
            assert not (body.get("data") or {}).get(name), (document, body)
            checked.append(name)
    assert {
        "member",
        "members",
        "memberByIdentity",
        "createMember",
        "issueMemberToken",
        "tagMembers",
    } <= set(checked)
