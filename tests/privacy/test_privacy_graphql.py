"""The privacy operations over GraphQL: scopes, payload errors, a member's
own export, and an erasure that also clears the API's own audit trail."""

from __future__ import annotations

from scan import find_anywhere

from tessera.audit.models import AuditLogEntry

CREATE = (
    "mutation($i: CreateMemberInput!) { createMember(input: $i) { member { id } errors { code } } }"
)
EXPORT = (
    "mutation($m: ID!) { exportMemberData(input: {memberId: $m}) "
    "{ export { id status downloadPath } errors { code field } } }"
)
STATUS = "query($id: ID!) { memberExport(id: $id) { status downloadPath expiresAt } }"
ERASE = (
    "mutation($m: ID!, $r: ErasureReason!) { eraseMember(input: {memberId: $m, reason: $r}) "
    "{ member { id status name phone } errors { code field } } }"
)
HOLD = (
    "mutation($m: ID!, $h: Boolean!, $r: String!) { setLegalHold(input: "
    "{memberId: $m, hold: $h, reason: $r}) { legalHold { reason } errors { code field } } }"
)
PERSON = {
    "name": "Wang Xiaoming",
    "phone": "+8613912345678",
    "email": "xiaoming.wang@example.cn",
    "externalId": "shop-user-88",
    "identities": [{"kind": "WECHAT_OPENID", "value": "oWx-openid-4242"}],
}


async def _member(gql, token: str, person: dict = PERSON) -> str:
    data = await gql(CREATE, {"i": person}, token=token)
    assert data["createMember"]["errors"] == []
    return str(data["createMember"]["member"]["id"])


async def test_admin_exports_and_downloads_once(brand_a, api_key, gql, http, drain_outbox):
    admin = await api_key(brand_a, "admin")
    member = await _member(gql, admin)
    asked = (await gql(EXPORT, {"m": member}, token=admin))["exportMemberData"]
    assert asked["errors"] == [] and asked["export"]["status"] == "PENDING"
    assert asked["export"]["downloadPath"] is None
    await drain_outbox()
    ready = (await gql(STATUS, {"id": asked["export"]["id"]}, token=admin))["memberExport"]
    assert ready["status"] == "READY" and ready["downloadPath"].startswith("/privacy/exports/")

    got = await http.get(ready["downloadPath"])
    assert got.status_code == 200 and got.headers["cache-control"] == "no-store"
    assert got.json()["member"]["phone"] == PERSON["phone"]
    assert {i["value"] for i in got.json()["identities"]} >= {"oWx-openid-4242"}
    assert (await http.get(ready["downloadPath"])).status_code == 410
    after = (await gql(STATUS, {"id": asked["export"]["id"]}, token=admin))["memberExport"]
    assert after["status"] == "DOWNLOADED" and after["downloadPath"] is None


async def test_privacy_needs_the_admin_scope(brand_a, api_key, gql):
    admin, writer = await api_key(brand_a, "admin"), await api_key(brand_a, "write")
    member = await _member(gql, admin)
    for document, variables in (
        (EXPORT, {"m": member}),
        (ERASE, {"m": member, "r": "MEMBER_REQUEST"}),
        (HOLD, {"m": member, "h": True, "r": "x"}),
        ("{ privacySettings { exportLinkHours } }", {}),
    ):
        body = await gql(document, variables, token=writer, errors_ok=True)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], document


async def test_a_member_exports_their_own_data_only(brand_a, api_key, gql, drain_outbox):
    admin = await api_key(brand_a, "admin")
    member = await _member(gql, admin)
    other = await _member(gql, admin, {"name": "Other", "phone": "+8613900000001"})
    tokens = {}
    for who in (member, other):
        issued = await gql(
            "mutation($m: ID!) { issueMemberToken(input: {memberId: $m}) { token } }",
            {"m": who},
            token=admin,
        )
        tokens[who] = issued["issueMemberToken"]["token"]
    mine = await gql(
        "mutation { exportMyData { export { id memberId status } errors { code } } }",
        token=tokens[member],
    )
    export = mine["exportMyData"]["export"]
    assert export["memberId"] == member
    await drain_outbox()
    seen = await gql(STATUS, {"id": export["id"]}, token=tokens[member])
    assert seen["memberExport"]["status"] == "READY"
    assert (await gql(STATUS, {"id": export["id"]}, token=tokens[other]))["memberExport"] is None


async def test_erasure_over_the_api_clears_the_audit_trail_too(brand_a, api_key, gql):
    admin = await api_key(brand_a, "admin")
    member = await _member(gql, admin)
    await gql(
        'mutation($m: ID!) { updateMember(input: {id: $m, city: "Hangzhou", name: "Wang X."})'
        " { errors { code } } }",
        {"m": member},
        token=admin,
    )
    values = {PERSON["name"], PERSON["phone"], PERSON["email"], PERSON["externalId"],
              "oWx-openid-4242", "Wang X."}  # fmt: skip
    assert await find_anywhere(values)

    held = await gql(HOLD, {"m": member, "h": True, "r": "tax audit 2026"}, token=admin)
    assert held["setLegalHold"]["legalHold"] == {"reason": "tax audit 2026"}
    refused = (await gql(ERASE, {"m": member, "r": "MEMBER_REQUEST"}, token=admin))["eraseMember"]
    assert (
        refused["errors"] == [{"code": "LEGAL_HOLD", "field": ["input", "memberId"]}]
        and refused["member"] is None
    )
    await gql(HOLD, {"m": member, "h": False, "r": ""}, token=admin)

    erased = (await gql(ERASE, {"m": member, "r": "MEMBER_REQUEST"}, token=admin))["eraseMember"]
    assert erased["errors"] == []
    assert erased["member"] == {"id": member, "status": "ERASED", "name": "", "phone": None}
    assert await find_anywhere(values) == []
    twice = (await gql(ERASE, {"m": member, "r": "MEMBER_REQUEST"}, token=admin))["eraseMember"]
    assert twice["errors"] == [{"code": "ALREADY_ERASED", "field": ["input", "memberId"]}]
    found = await gql(
        'query { memberByIdentity(kind: PHONE, value: "+8613912345678") { id } }', token=admin
    )
    assert found["memberByIdentity"] is None
    [entry] = await AuditLogEntry.filter(brand_id=brand_a.id, action="member.erased")
    assert set(entry.details) == {"member_id", "reason"}


async def test_retention_settings_round_trip(brand_a, api_key, gql):
    admin = await api_key(brand_a, "admin")
    changed = await gql(
        "mutation { updatePrivacySettings(input: {behaviourEventDays: 180, inactiveMemberDays: 10})"
        " { settings { behaviourEventDays } errors { code field } } }",
        token=admin,
    )
    assert changed["updatePrivacySettings"]["errors"] == [
        {"code": "OUT_OF_RANGE", "field": ["input", "inactiveMemberDays"]}
    ]
    await gql(
        "mutation { updatePrivacySettings(input: {behaviourEventDays: 180}) { errors { code } } }",
        token=admin,
    )
    data = await gql("{ privacySettings { behaviourEventDays inactiveMemberDays } }", token=admin)
    assert data["privacySettings"] == {"behaviourEventDays": 180, "inactiveMemberDays": None}
