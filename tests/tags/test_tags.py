"""Tags, tag groups and bulk tagging over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tessera.scope import BrandScope
from tessera.tags.models import TagAssignment
from tessera.tags.service import TagSource, create_tag, tag_members
from tessera.testing import record_database
from tessera.webhooks import triggers

TAG = """mutation($tags: [String!]!, $ids: [ID!], $identities: [IdentityInput!], $source: TagSource,
                   $expiresAt: DateTime) {
  tagMembers(input: {tags: $tags, memberIds: $ids, identities: $identities, source: $source,
                     expiresAt: $expiresAt}) {
    matchedCount changedCount unmatched { field reference reason }
    errors { field code message } } }"""
UNTAG = """mutation($tags: [String!]!, $ids: [ID!], $source: TagSource, $any: Boolean) {
  untagMembers(input: {tags: $tags, memberIds: $ids, source: $source, anySource: $any}) {
    matchedCount changedCount errors { field code } } }"""
MEMBER_TAGS = """query($id: ID!) { member(id: $id) {
  tags { code } tagAssignments { tag { code } source expiresAt } } }"""


async def test_tag_crud_with_groups(gql, api_key, brand_a):
    admin = await api_key(brand_a, "admin")
    group = await gql(
        'mutation { createTagGroup(input: {code: "life", name: "Lifecycle"}) '
        "{ tagGroup { id code } errors { code } } }",
        token=admin,
    )
    group_id = group["createTagGroup"]["tagGroup"]["id"]
    created = await gql(
        """mutation($g: ID) { createTag(input: {code: "new", name: "New member", groupId: $g,
             defaultExpiryDays: 30}) {
               tag { id code group { code } defaultExpiryDays } errors { code } } }""",
        {"g": group_id},
        token=admin,
    )
    tag = created["createTag"]["tag"]
    assert tag["group"] == {"code": "life"} and tag["defaultExpiryDays"] == 30
    dup = await gql(
        'mutation { createTag(input: {code: "new", name: "Again"}) { errors { field code } } }',
        token=admin,
    )
    assert dup["createTag"]["errors"] == [{"field": ["input", "code"], "code": "DUPLICATE"}]

    await gql(
        'mutation { createTag(input: {code: "other", name: "Other"}) { errors { code } } }',
        token=admin,
    )
    data = await gql(
        '{ tags(group: "life") { totalCount edges { node { code } } } tagGroups { code name } }',
        token=admin,
    )
    assert data["tags"]["totalCount"] == 1
    assert data["tagGroups"] == [{"code": "life", "name": "Lifecycle"}]

    updated = await gql(
        """mutation($id: ID!) { updateTag(input: {id: $id, name: "Newcomer", groupId: null,
             defaultExpiryDays: null}) { tag { name group { code } defaultExpiryDays } } }""",
        {"id": tag["id"]},
        token=admin,
    )
    assert updated["updateTag"]["tag"] == {
        "name": "Newcomer",
        "group": None,
        "defaultExpiryDays": None,
    }
    deleted = await gql(
        "mutation($id: ID!) { deleteTag(input: {id: $id}) { deletedId errors { code } } }",
        {"id": tag["id"]},
        token=admin,
    )
    assert deleted["deleteTag"]["deletedId"] == tag["id"]
    assert (await gql("{ tags { totalCount } }", token=admin))["tags"]["totalCount"] == 1


async def test_defining_tags_needs_admin_but_tagging_needs_write(gql, api_key, brand_a, new_member):
    member = await new_member(brand_a, phone="13800138000")
    await create_tag(BrandScope(brand_a), "gold", "Gold")
    write = await api_key(brand_a, "write")
    body = await gql(
        'mutation { createTag(input: {code: "x", name: "X"}) { errors { code } } }',
        token=write,
        errors_ok=True,
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    data = await gql(TAG, {"tags": ["gold"], "ids": [member.id]}, token=write)
    assert data["tagMembers"]["changedCount"] == 1


async def test_tagging_by_identity_reports_the_unknown(
    gql, api_key, brand_a, brand_b, new_member, record_events
):
    log = await record_events(brand_a)
    ann = await new_member(brand_a, phone="13800138000")
    bob = await new_member(brand_a, email="bob@example.com")
    stranger = await new_member(brand_b, email="s@example.com")
    await create_tag(BrandScope(brand_a), "gold", "Gold")
    token = await api_key(brand_a, "write")
    data = await gql(
        TAG,
        {
            "tags": ["gold"],
            "ids": [ann.id, stranger.id, "garbage"],
            "identities": [
                {"kind": "EMAIL", "value": "BOB@example.com"},
                {"kind": "EMAIL", "value": "s@example.com"},
                {"kind": "PHONE", "value": "123"},
            ],
        },
        token=token,
    )
    result = data["tagMembers"]
    assert result["errors"] == []
    assert result["matchedCount"] == 2 and result["changedCount"] == 2
    assert [(u["field"], u["reference"]) for u in result["unmatched"]] == [
        (["input", "memberIds", "1"], stranger.id),
        (["input", "memberIds", "2"], "garbage"),
        (["input", "identities", "2"], "PHONE:123"),
        (["input", "identities", "1"], "EMAIL:s@example.com"),
    ]
    assert await TagAssignment.filter(member_id=stranger.pk).count() == 0
    events = log.named("tags.changed")
    assert [e.payload["member_ids"] for e in events] == [sorted([ann.pk, bob.pk])]

    again = await gql(TAG, {"tags": ["gold"], "ids": [ann.id]}, token=token)
    assert again["tagMembers"]["changedCount"] == 0
    assert len(log.named("tags.changed")) == 1


async def test_unknown_tag_and_oversized_calls_are_user_errors(
    gql, api_key, brand_a, brand_b, new_member
):
    member = await new_member(brand_a, phone="13800138000")
    await create_tag(BrandScope(brand_b), "theirs", "Theirs")
    token = await api_key(brand_a, "write")
    data = await gql(TAG, {"tags": ["theirs"], "ids": [member.id]}, token=token)
    assert data["tagMembers"]["errors"] == [
        {"field": ["input", "tags", "0"], "code": "UNKNOWN_TAG", "message": "no tag 'theirs'"}
    ]
    await create_tag(BrandScope(brand_a), "gold", "Gold")
    data = await gql(TAG, {"tags": ["gold"], "ids": ["x"] * 10_001}, token=token)
    assert data["tagMembers"]["errors"][0]["code"] == "TOO_MANY"
    assert await TagAssignment.all().count() == 0


async def test_expired_assignments_are_neither_shown_nor_matched(gql, api_key, brand_a, new_member):
    member = await new_member(brand_a, phone="13800138000")
    scope = BrandScope(brand_a)
    await create_tag(scope, "promo", "Promo")
    await create_tag(scope, "gold", "Gold")
    past = datetime.now(UTC) - timedelta(days=1)
    await tag_members(
        scope, ["promo"], member_ids=[member.pk], expires_at=past + timedelta(hours=1), now=past
    )
    await tag_members(scope, ["gold"], member_ids=[member.pk])
    await create_tag(scope, "vip", "VIP")
    soon = datetime.now(UTC) + timedelta(hours=1)
    await tag_members(scope, ["vip"], member_ids=[member.pk], expires_at=soon)
    token = await api_key(brand_a, "read")
    data = await gql(MEMBER_TAGS, {"id": member.id}, token=token)
    assert data["member"]["tags"] == [{"code": "gold"}, {"code": "vip"}]
    # The members page reads them for the whole page at once (live_tags_of).
    data = await gql("{ members { edges { node { tags { code } } } } }", token=token)
    assert data["members"]["edges"][0]["node"]["tags"] == [{"code": "gold"}, {"code": "vip"}]
    data = await gql('{ members(filter: {tags: {any: ["promo"]}}) { totalCount } }', token=token)
    assert data["members"]["totalCount"] == 0


async def test_default_expiry_and_per_source_untagging(gql, api_key, brand_a, new_member):
    member = await new_member(brand_a, phone="13800138000")
    scope = BrandScope(brand_a)
    tag = await create_tag(scope, "new", "New", default_expiry_days=30)
    await tag_members(scope, ["new"], member_ids=[member.pk], source=TagSource.RULE)
    token = await api_key(brand_a, "write")
    await gql(TAG, {"tags": ["new"], "ids": [member.id]}, token=token)
    data = await gql(MEMBER_TAGS, {"id": member.id}, token=token)
    assignments = data["member"]["tagAssignments"]
    assert {a["source"] for a in assignments} == {"RULE", "MANUAL"}
    expiry = datetime.fromisoformat(assignments[0]["expiresAt"])
    assert timedelta(days=29) < expiry - datetime.now(UTC) <= timedelta(days=30)
    assert data["member"]["tags"] == [{"code": "new"}]
    data = await gql("{ members { edges { node { tags { code } } } } }", token=token)
    assert data["members"]["edges"][0]["node"]["tags"] == [{"code": "new"}]  # once, two sources

    data = await gql(UNTAG, {"tags": ["new"], "ids": [member.id]}, token=token)
    assert data["untagMembers"]["changedCount"] == 1
    remaining = await TagAssignment.filter(tag_id=tag.id).values_list("source", flat=True)
    assert remaining == ["rule"]
    data = await gql(UNTAG, {"tags": ["new"], "ids": [member.id], "any": True}, token=token)
    assert data["untagMembers"]["changedCount"] == 1
    assert await TagAssignment.filter(tag_id=tag.id).count() == 0


async def test_bulk_tagging_uses_the_same_statements_for_ten_or_ten_thousand(brand_a):
    from tessera.members import pii
    from tessera.members.models import Member, MemberIdentity

    scope = BrandScope(brand_a)
    await create_tag(scope, "gold", "Gold")
    await create_tag(scope, "vip", "VIP")
    now = datetime.now(UTC)
    await Member.bulk_create(
        [scope.build(Member, name=f"m{i}", joined_at=now) for i in range(10_000)], batch_size=2000
    )
    ids = list(await Member.filter(brand_id=brand_a.id).order_by("id").values_list("id", flat=True))
    await MemberIdentity.bulk_create(
        [
            scope.build(
                MemberIdentity,
                member_id=i,
                **pii.identity_columns(brand_a.id, 1, "app_user_id", f"u{i}"),
            )
            for i in ids[:5000]
        ],
        batch_size=2000,
    )
    assert len(ids) == 10_000

    # Each run reads whether the brand has webhook subscriptions, as the first
    # change in a while does (tessera.webhooks.triggers).
    triggers.forget()
    async with record_database() as small:
        result = await tag_members(
            scope,
            ["gold", "vip"],
            member_ids=ids[:5],
            identities=[("app_user_id", f"u{ids[5]}")] * 5,
        )
    assert result.changed_count == 12
    triggers.forget()
    async with record_database() as large:
        result = await tag_members(
            scope,
            ["gold", "vip"],
            member_ids=ids[5000:],
            identities=[("app_user_id", f"u{i}") for i in ids[:5000]],
        )
    assert result.changed_count == 2 * 10_000 - 12
    assert len(small.round_trips) == len(large.round_trips)
    assert await TagAssignment.filter(brand_id=brand_a.id).count() == 20_000
