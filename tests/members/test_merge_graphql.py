"""mergeMembers, undoMemberMerge and the duplicates review over HTTP."""

from __future__ import annotations

from datetime import date

from tessera.audit.models import AuditLogEntry
from tessera.members.duplicates import scan
from tessera.members.models import DuplicateCandidate, Member, MemberMerge
from tessera.members.scheme import update_settings
from tessera.schema.ids import encode_id
from tessera.scope import BrandScope

MERGE = """
mutation($input: MergeMembersInput!) {
  mergeMembers(input: $input) {
    merge { id mergedMemberId automatic undoBlockedBy moved survivor { id } }
    survivor { id name city phone }
    conflicts { field kept dropped }
    replayed
    errors { field code message }
  }
}"""
UNDO = """
mutation($input: UndoMemberMergeInput!) {
  undoMemberMerge(input: $input) {
    restored { id status } survivor { id } errors { field code }
  }
}"""
EARN = """
mutation($input: PointsInput!) {
  earnPoints(input: $input) { balance entries { id } errors { field code } }
}"""
ADD_IDENTITY = """
mutation($input: MemberIdentityInput!) {
  addIdentity(input: $input) { member { id } errors { field code } }
}"""
CANDIDATES = """
query { duplicateCandidates { totalCount edges { node { id reason kind status
  member { id } other { id } } } } }"""


def gid(pk: int) -> str:
    return encode_id("Member", pk)


async def members(new_member, brand, n: int = 2) -> list[int]:
    made = []
    for i in range(n):
        created = await new_member(
            brand,
            name="Li Lei" if i == 0 else "Lei Li",
            identities=[("app_user_id", f"{brand.id}-{i}")],
            **({"city": "Hangzhou"} if i else {}),
        )
        made.append(created.pk)
    return made


async def test_merge_over_http_reports_conflicts_and_the_old_id_keeps_working(
    gql, api_key, brand_a, new_member
):
    admin = await api_key(brand_a, "admin")
    s, m = await members(new_member, brand_a)
    await gql(
        EARN,
        {"input": {"memberId": gid(m), "points": 10, "idempotencyKey": "b", "reason": "t"}},
        token=admin,
    )
    variables = {"input": {"survivorId": gid(s), "mergedId": gid(m), "idempotencyKey": "k"}}
    data = (await gql(MERGE, variables, token=admin))["mergeMembers"]
    assert data["errors"] == []
    assert data["survivor"] == {"id": gid(s), "name": "Li Lei", "city": "Hangzhou", "phone": None}
    assert data["conflicts"] == [{"field": "name", "kept": "Li Lei", "dropped": "Lei Li"}]
    assert data["merge"]["mergedMemberId"] == gid(m) and data["merge"]["undoBlockedBy"] is None
    again = (await gql(MERGE, variables, token=admin))["mergeMembers"]
    assert again["replayed"] and again["merge"]["id"] == data["merge"]["id"]

    # Reads: the tombstone's id answers the survivor.
    read = await gql(
        'query($id: ID!) { member(id: $id) { id } memberByIdentity(kind: APP_USER_ID, value: "'
        f'{brand_a.id}-1") {{ id }} }}',
        {"id": gid(m)},
        token=admin,
    )
    assert read == {"member": {"id": gid(s)}, "memberByIdentity": {"id": gid(s)}}
    # Writes: earnPoints with the old id lands on the survivor.
    earned = await gql(
        EARN,
        {"input": {"memberId": gid(m), "points": 5, "idempotencyKey": "e", "reason": "t"}},
        token=admin,
    )
    assert earned["earnPoints"]["errors"] == [] and earned["earnPoints"]["balance"] == 15
    order = await gql(
        "mutation($i: RecordOrderInput!) { recordOrder(input: $i) { order { member { id } } "
        "errors { code } } }",
        {
            "i": {
                "externalId": "after-merge",
                "memberId": gid(m),
                "occurredAt": "2026-01-02T03:04:05+00:00",
                "amountPaid": {"amount": "12.00", "currency": "CNY"},
            }
        },
        token=admin,
    )
    assert order["recordOrder"] == {"order": {"member": {"id": gid(s)}}, "errors": []}
    listed = await gql("query { members { totalCount } }", token=admin)
    assert listed["members"]["totalCount"] == 1
    assert await AuditLogEntry.filter(brand_id=brand_a.id, action="member.merge").count() == 1

    undone = await gql(UNDO, {"input": {"mergeId": data["merge"]["id"]}}, token=admin)
    assert undone["undoMemberMerge"]["errors"] == [
        {"field": ["input", "mergeId"], "code": "UNDO_BLOCKED"}
    ]


async def test_merge_needs_the_admin_scope_and_refuses_with_fields(
    gql, api_key, brand_a, brand_b, new_member
):
    s, m = await members(new_member, brand_a)
    (foreign,) = await members(new_member, brand_b, 1)
    manage = await api_key(brand_a, "manage")
    body = await gql(
        MERGE,
        {"input": {"survivorId": gid(s), "mergedId": gid(m), "idempotencyKey": "k"}},
        token=manage,
        errors_ok=True,
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    admin = await api_key(brand_a, "admin")
    for survivor, merged, code, field in (
        (s, s, "MERGE_SELF", ["input", "mergedId"]),
        (s, foreign, "NOT_FOUND", ["input", "mergedId"]),
        (foreign, s, "NOT_FOUND", ["input", "survivorId"]),
    ):
        data = await gql(
            MERGE,
            {
                "input": {
                    "survivorId": gid(survivor),
                    "mergedId": gid(merged),
                    "idempotencyKey": code,
                }
            },
            token=admin,
        )
        assert data["mergeMembers"]["errors"] == [
            {"field": field, "code": code, "message": data["mergeMembers"]["errors"][0]["message"]}
        ]
    assert await MemberMerge.filter(brand_id=brand_a.id).count() == 0


async def test_undo_within_the_window_over_http(gql, api_key, brand_a, new_member):
    admin = await api_key(brand_a, "admin")
    s, m = await members(new_member, brand_a)
    data = await gql(
        MERGE,
        {"input": {"survivorId": gid(s), "mergedId": gid(m), "idempotencyKey": "k"}},
        token=admin,
    )
    undone = await gql(
        UNDO, {"input": {"mergeId": data["mergeMembers"]["merge"]["id"]}}, token=admin
    )
    assert undone["undoMemberMerge"] == {
        "restored": {"id": gid(m), "status": "ACTIVE"},
        "survivor": {"id": gid(s)},
        "errors": [],
    }


async def test_a_clashing_identity_becomes_a_candidate_and_can_be_dismissed(
    gql, api_key, brand_a, new_member
):
    admin = await api_key(brand_a, "admin")
    older = await new_member(brand_a, name="A", identities=[("wechat_unionid", "u-1")])
    newer = await new_member(brand_a, name="B", identities=[("wechat_openid", "o-2")])
    data = await gql(
        ADD_IDENTITY,
        {"input": {"memberId": newer.id, "kind": "WECHAT_UNIONID", "value": "u-1"}},
        token=admin,
    )
    assert data["addIdentity"]["errors"][0]["code"] == "DUPLICATE_IDENTITY"
    listed = (await gql(CANDIDATES, token=admin))["duplicateCandidates"]
    assert listed["totalCount"] == 1
    node = listed["edges"][0]["node"]
    assert (node["reason"], node["kind"], node["member"]["id"], node["other"]["id"]) == (
        "IDENTITY",
        "wechat_unionid",
        older.id,
        newer.id,
    )
    dismissed = await gql(
        "mutation($id: ID!) { dismissDuplicateCandidate(input: {id: $id}) "
        "{ candidate { status } errors { code } } }",
        {"id": node["id"]},
        token=admin,
    )
    assert dismissed["dismissDuplicateCandidate"] == {
        "candidate": {"status": "DISMISSED"},
        "errors": [],
    }
    assert (await gql(CANDIDATES, token=admin))["duplicateCandidates"]["totalCount"] == 0


async def test_auto_merge_merges_a_verified_clash_into_the_older_member(
    gql, api_key, brand_a, new_member
):
    await update_settings(BrandScope(brand_a), auto_merge=True)
    admin = await api_key(brand_a, "admin")
    older = await new_member(brand_a, name="A", identities=[("wechat_unionid", "u-9")])
    newer = await new_member(brand_a, name="B", identities=[("wechat_openid", "o-9")])
    data = await gql(
        ADD_IDENTITY,
        {"input": {"memberId": newer.id, "kind": "WECHAT_UNIONID", "value": "u-9"}},
        token=admin,
    )
    assert data["addIdentity"] == {"member": {"id": older.id}, "errors": []}
    tomb = await Member.get(id=newer.pk)
    assert (tomb.status, tomb.merged_into_id) == ("merged", older.pk)
    merge = await MemberMerge.get(brand_id=brand_a.id)
    assert merge.automatic and merge.survivor_id == older.pk
    candidate = await DuplicateCandidate.get(brand_id=brand_a.id)
    assert candidate.status == "merged"
    entry = await AuditLogEntry.get(brand_id=brand_a.id, action="member.merge")
    assert entry.details["automatic"] is True
    # An unverified kind (an openid) is only listed, never merged.
    third = await new_member(brand_a, name="C", identities=[("app_user_id", "x")])
    clash = await gql(
        ADD_IDENTITY,
        {"input": {"memberId": third.id, "kind": "WECHAT_OPENID", "value": "o-9"}},
        token=admin,
    )
    assert clash["addIdentity"]["errors"][0]["code"] == "DUPLICATE_IDENTITY"
    assert await MemberMerge.filter(brand_id=brand_a.id).count() == 1


async def test_profile_matches_are_found_in_sql(brand_a, new_member):
    a = await new_member(brand_a, name="Wang Fang", birthday=date(1990, 1, 2), phone="13800138000")
    b = await new_member(
        brand_a, name="Wang Fang", birthday=date(1990, 1, 2), email="w@example.com"
    )
    c = await new_member(brand_a, name="Wang Fang", city="Hangzhou", phone="13900138000")
    d = await new_member(brand_a, name="Wang Fang", city="Hangzhou", phone="13700138000")
    await new_member(brand_a, name="Wang Fang", birthday=date(1991, 1, 2), email="x@example.com")
    found = await scan(BrandScope(brand_a))
    rows = await DuplicateCandidate.filter(brand_id=brand_a.id).order_by("member_id")
    pairs = {(r.member_id, r.other_id, r.reason) for r in rows}
    assert pairs == {(a.pk, b.pk, "name_birthday"), (c.pk, d.pk, "name_city_phone")}
    assert found == 2
    assert await scan(BrandScope(brand_a)) == 2  # found again, stored once
    assert await DuplicateCandidate.filter(brand_id=brand_a.id).count() == 2
