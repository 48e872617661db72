"""The brand wall, checked through every root field of the schema.

The list of fields comes from the schema itself, so a new root field without
an isolation probe here is a failing test, not a forgotten check. These probes
hand brand A brand B's objects wholesale; `test_isolation_references.py` swaps
one reference at a time (the first refusal here would hide a later unscoped
lookup) and lists the planted faults that proved it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from tessera.behaviour.models import BehaviourEvent
from tessera.config import Environment, Settings
from tessera.features.models import BrandFeature
from tessera.members.models import AttributeDefinition, Member, MemberIdentity, MemberSettings
from tessera.orders.models import Order, Refund
from tessera.schema import build_schema
from tessera.tags.models import Tag, TagAssignment, TagGroup
from tessera.tenancy.models import Brand


@dataclass
class World:
    """Two brands with data; probes act with brand A's admin key on brand B's data."""

    brand_a: Brand
    brand_b: Brand
    as_a: Callable[..., Awaitable[dict[str, Any]]]
    as_b: Callable[..., Awaitable[dict[str, Any]]]
    seeded: dict[str, Any]

    async def b(self, what: str) -> Any:
        """Brand B's object of a kind, created through B's own key on first use."""
        if what not in self.seeded:
            self.seeded[what] = await SEEDS[what](self)
        return self.seeded[what]

    async def a_errors(self, query: str, variables: dict[str, Any]) -> list[dict[str, Any]]:
        """Run a mutation as A and return its payload's `errors` (or GraphQL errors)."""
        body = await self.as_a(query, variables, errors_ok=True)
        if body.get("errors"):
            return list(body["errors"])
        payload = next(iter(body["data"].values()))
        return list(payload.get("errors") or [])


Probe = Callable[[World], Awaitable[None]]
PROBES: dict[str, Probe] = {}


def probe(*fields: str) -> Callable[[Probe], Probe]:
    def register(fn: Probe) -> Probe:
        for field in fields:
            PROBES[field] = fn
        return fn

    return register


def root_fields() -> list[str]:
    schema = build_schema(Settings(environment=Environment.TEST, secret_key="x" * 32))  # type: ignore[arg-type]
    graphql_schema = schema._schema
    names = [f"Query.{n}" for n in graphql_schema.query_type.fields]
    if graphql_schema.mutation_type:
        names += [f"Mutation.{n}" for n in graphql_schema.mutation_type.fields]
    return sorted(names)


@pytest.fixture
async def world(brand_a, brand_b, api_key, gql) -> World:
    token_a = await api_key(brand_a, "admin")
    token_b = await api_key(brand_b, "admin")

    async def as_a(
        query: str, variables: dict[str, Any] | None = None, **kw: Any
    ) -> dict[str, Any]:
        # ``token=`` overrides A's admin key (a probe of another key of A's).
        return await gql(query, variables, **{"token": token_a, **kw})

    async def as_b(
        query: str, variables: dict[str, Any] | None = None, **kw: Any
    ) -> dict[str, Any]:
        return await gql(query, variables, token=token_b, **kw)

    w = World(brand_a, brand_b, as_a, as_b, {})
    await as_b(
        'mutation { setFeature(input: {component: "console_sms", config: {channel_label: "b-only"}})'
        " { errors { message } } }"
    )
    return w


@pytest.mark.parametrize("field", root_fields())
async def test_brand_a_cannot_reach_brand_b_through(field: str, world: World) -> None:
    check = PROBES.get(field)
    assert check is not None, f"{field} has no isolation probe in {__name__}; add one"
    await check(world)


# --- probes -----------------------------------------------------------------


@probe("Query.brand")
async def _brand(w: World) -> None:
    data = await w.as_a("{ brand { id code } }")
    assert data["brand"]["code"] == w.brand_a.code


@probe("Query.plugins")
async def _plugins(w: World) -> None:
    # Installed plugins are the same for every brand; nothing brand-specific shows.
    assert await w.as_a("{ plugins { name components { key } } }") == await w.as_b(
        "{ plugins { name components { key } } }"
    )


@probe("Query.features")
async def _features(w: World) -> None:
    data = await w.as_a("{ features { component config } }")
    assert data["features"] == []
    assert "b-only" not in str(data)


@probe("Mutation.setFeature")
async def _set_feature(w: World) -> None:
    await w.as_a(
        'mutation { setFeature(input: {component: "console_sms", enabled: false}) { errors { code } } }'
    )
    b_feature = await BrandFeature.get(brand_id=w.brand_b.id, component_key="console_sms")
    assert b_feature.enabled and b_feature.config == {"channel_label": "b-only"}


# --- brand B's data, created through B's own key ------------------------------

MEMBER_B = {"name": "Bea", "phone": "+12025550143", "externalId": "b-1", "email": "bea@b.example"}


async def _seed_member(w: World) -> dict[str, Any]:
    data = await w.as_b(
        "mutation($i: CreateMemberInput!) { createMember(input: $i) { member { id cardNumber }"
        " errors { message } } }",
        {"i": MEMBER_B},
    )
    assert not data["createMember"]["errors"], data
    return data["createMember"]["member"]


async def _seed_group(w: World) -> dict[str, Any]:
    data = await w.as_b(
        'mutation { createTagGroup(input: {code: "b-group", name: "B group"}) { tagGroup { id } errors { message } } }'
    )
    return data["createTagGroup"]["tagGroup"]


async def _seed_tag(w: World) -> dict[str, Any]:
    group = await w.b("group")
    data = await w.as_b(
        'mutation($g: ID) { createTag(input: {code: "vip", name: "B VIP", groupId: $g}) { tag { id } errors { message } } }',
        {"g": group["id"]},
    )
    tag = data["createTag"]["tag"]
    member = await w.b("member")
    await w.as_b(
        'mutation($m: ID!) { tagMembers(input: {tags: ["vip"], memberIds: [$m]}) { errors { message } } }',
        {"m": member["id"]},
    )
    return tag


async def _seed_attribute(w: World) -> dict[str, Any]:
    await w.as_b(
        'mutation { createAttributeDefinition(input: {key: "shoe_size", type: NUMBER, label: "B size"})'
        " { errors { message } } }"
    )
    return {"key": "shoe_size"}


async def _seed_order(w: World) -> dict[str, Any]:
    member = await w.b("member")
    data = await w.as_b(
        "mutation($i: RecordOrderInput!) { recordOrder(input: $i) { order { id } errors { message } } }",
        {
            "i": {
                "externalId": "b-order-1",
                "occurredAt": "2026-01-02T03:04:05+00:00",
                "memberId": member["id"],
                "amountPaid": {"amount": "100.00", "currency": "USD"},
                "lines": [
                    {
                        "sku": "b-sku",
                        "quantity": 1,
                        "unitPrice": {"amount": "100.00", "currency": "USD"},
                    }
                ],
            }
        },
    )
    assert not data["recordOrder"]["errors"], data
    return data["recordOrder"]["order"]


async def _seed_event(w: World) -> dict[str, Any]:
    member = await w.b("member")
    await w.as_b(
        "mutation($i: RecordEventInput!) { recordEvent(input: $i) { errors { message } } }",
        {
            "i": {
                "eventId": "b-ev-1",
                "type": "view",
                "occurredAt": "2026-01-02T03:04:05+00:00",
                "memberId": member["id"],
                "properties": {"sku": "b-secret-sku"},
            }
        },
    )
    return {"eventId": "b-ev-1"}


SEEDS: dict[str, Callable[[World], Awaitable[Any]]] = {
    "member": _seed_member,
    "group": _seed_group,
    "tag": _seed_tag,
    "attribute": _seed_attribute,
    "order": _seed_order,
    "event": _seed_event,
}


async def _b_member_unchanged(w: World) -> None:
    member = await Member.get(brand_id=w.brand_b.id, external_id="b-1")
    assert (member.name, member.phone, member.status) == ("Bea", "+12025550143", "active")
    kinds = sorted(await MemberIdentity.filter(member_id=member.id).values_list("kind", flat=True))
    assert "phone" in [k.lower() for k in kinds]


# --- member probes ---------------------------------------------------------------


@probe("Query.member")
async def _member(w: World) -> None:
    member = await w.b("member")
    assert (await w.as_a("query($id: ID!) { member(id: $id) { id } }", {"id": member["id"]}))[
        "member"
    ] is None


@probe("Query.memberByIdentity")
async def _member_by_identity(w: World) -> None:
    await w.b("member")
    for kind, value in (
        ("PHONE", MEMBER_B["phone"]),
        ("EMAIL", MEMBER_B["email"]),
        ("EXTERNAL_ID", MEMBER_B["externalId"]),
    ):
        data = await w.as_a(
            "query($k: IdentityKind!, $v: String!) { memberByIdentity(kind: $k, value: $v) { id } }",
            {"k": kind, "v": value},
        )
        assert data["memberByIdentity"] is None, kind


@probe("Query.members")
async def _members(w: World) -> None:
    await w.b("tag")
    # A has its own "vip" tag (on no one), so the tag filter runs rather than
    # being refused as an unknown code.
    await w.as_a('mutation { createTag(input: {code: "vip", name: "A vip"}) { errors { code } } }')
    for flt in ({}, {"text": "Bea"}, {"tags": {"any": ["vip"]}}, {"tags": {"all": ["vip"]}}):
        data = await w.as_a(
            "query($f: MemberFilterInput) { members(filter: $f) { totalCount edges { node { id } } } }",
            {"f": flt},
        )
        assert data["members"] == {"totalCount": 0, "edges": []}, flt


@probe("Query.me")
async def _me(w: World) -> None:
    # `me` needs a member token; an API key (of any brand) gets no member from it.
    body = await w.as_a("{ me { id } }", errors_ok=True)
    assert body.get("errors") and not (body.get("data") or {}).get("me")


@probe("Query.attributeDefinitions")
async def _attribute_definitions(w: World) -> None:
    await w.b("attribute")
    assert (await w.as_a("{ attributeDefinitions { key } }"))["attributeDefinitions"] == []


@probe("Query.memberSettings")
async def _member_settings(w: World) -> None:
    await w.as_b(
        'mutation { updateMemberSettings(input: {cardPrefix: "88"}) { errors { message } } }'
    )
    data = await w.as_a("{ memberSettings { cardPrefix } }")
    assert data["memberSettings"]["cardPrefix"] != "88"


@probe("Mutation.createMember")
async def _create_member(w: World) -> None:
    await w.b("member")
    # Same identities in brand A are not duplicates of brand B's: A gets its own member.
    errors = await w.a_errors(
        "mutation($i: CreateMemberInput!) { createMember(input: $i) { member { id } errors { message } } }",
        {"i": MEMBER_B},
    )
    assert errors == []
    assert await Member.filter(brand_id=w.brand_b.id).count() == 1
    await _b_member_unchanged(w)


@probe("Mutation.updateMember")
async def _update_member(w: World) -> None:
    member = await w.b("member")
    errors = await w.a_errors(
        'mutation($id: ID!) { updateMember(input: {id: $id, name: "Hacked"}) { errors { code } } }',
        {"id": member["id"]},
    )
    assert errors and errors[0]["code"] == "NOT_FOUND"
    await _b_member_unchanged(w)


@probe("Mutation.activateMember")
async def _activate_member(w: World) -> None:
    member = await w.b("member")
    errors = await w.a_errors(
        "mutation($id: ID!) { activateMember(input: {memberId: $id}) { errors { code } } }",
        {"id": member["id"]},
    )
    assert errors and errors[0]["code"] == "NOT_FOUND"
    await _b_member_unchanged(w)


@probe("Mutation.addIdentity")
async def _add_identity(w: World) -> None:
    member = await w.b("member")
    errors = await w.a_errors(
        'mutation($id: ID!) { addIdentity(input: {memberId: $id, kind: APP_USER_ID, value: "x"})'
        " { errors { code } } }",
        {"id": member["id"]},
    )
    assert errors and errors[0]["code"] == "NOT_FOUND"
    assert not await MemberIdentity.filter(
        brand_id=w.brand_b.id, kind__in=["app_user_id", "APP_USER_ID"]
    ).exists()


@probe("Mutation.removeIdentity")
async def _remove_identity(w: World) -> None:
    member = await w.b("member")
    errors = await w.a_errors(
        "mutation($id: ID!, $v: String!) { removeIdentity(input: {memberId: $id, kind: EMAIL, value: $v})"
        " { errors { code } } }",
        {"id": member["id"], "v": MEMBER_B["email"]},
    )
    assert errors and errors[0]["code"] == "NOT_FOUND"
    member_row = await Member.get(brand_id=w.brand_b.id, external_id="b-1")
    assert member_row.email == MEMBER_B["email"]


@probe("Mutation.issueMemberToken")
async def _issue_member_token(w: World) -> None:
    member = await w.b("member")
    body = await w.as_a(
        "mutation($id: ID!) { issueMemberToken(input: {memberId: $id}) { token errors { code } } }",
        {"id": member["id"]},
    )
    payload = body["issueMemberToken"]
    assert payload["token"] is None and payload["errors"][0]["code"] == "NOT_FOUND"


@probe("Mutation.createAttributeDefinition")
async def _create_attribute(w: World) -> None:
    await w.b("attribute")
    errors = await w.a_errors(
        'mutation { createAttributeDefinition(input: {key: "shoe_size", type: STRING}) { errors { code } } }',
        {},
    )
    assert errors == []  # A's own definition: keys are per brand
    b_def = await AttributeDefinition.get(brand_id=w.brand_b.id, key="shoe_size")
    assert (b_def.type, b_def.label) == ("number", "B size")


@probe("Mutation.updateAttributeDefinition")
async def _update_attribute(w: World) -> None:
    await w.b("attribute")
    errors = await w.a_errors(
        'mutation { updateAttributeDefinition(input: {key: "shoe_size", label: "hacked"}) { errors { code } } }',
        {},
    )
    assert errors and errors[0]["code"] == "NOT_FOUND"
    assert (await AttributeDefinition.get(brand_id=w.brand_b.id, key="shoe_size")).label == "B size"


@probe("Mutation.deleteAttributeDefinition")
async def _delete_attribute(w: World) -> None:
    await w.b("attribute")
    errors = await w.a_errors(
        'mutation { deleteAttributeDefinition(input: {key: "shoe_size"}) { errors { code } } }', {}
    )
    assert errors and errors[0]["code"] == "NOT_FOUND"
    assert await AttributeDefinition.filter(brand_id=w.brand_b.id, key="shoe_size").exists()


@probe("Mutation.updateMemberSettings")
async def _update_member_settings(w: World) -> None:
    await w.as_b(
        'mutation { updateMemberSettings(input: {cardPrefix: "88", joinRule: FIRST_PURCHASE}) { errors { message } } }'
    )
    await w.as_a(
        'mutation { updateMemberSettings(input: {cardPrefix: "77", joinRule: REGISTRATION}) { errors { message } } }'
    )
    b_settings = await MemberSettings.get(brand_id=w.brand_b.id)
    assert (b_settings.card_prefix, b_settings.join_rule) == ("88", "first_purchase")


# --- merge and duplicate probes ----------------------------------------------------


async def _b_merge(w: World) -> dict[str, Any]:
    """Two members of B merged by B, and a duplicate candidate of B's."""
    made = []
    for n in (2, 3):
        data = await w.as_b(
            "mutation($i: CreateMemberInput!) { createMember(input: $i) { member { id } } }",
            {"i": {"name": "Bea", "externalId": f"b-{n}"}},
        )
        made.append(data["createMember"]["member"]["id"])
    merged = await w.as_b(
        "mutation($i: MergeMembersInput!) { mergeMembers(input: $i) { merge { id } errors { code } } }",
        {"i": {"survivorId": made[0], "mergedId": made[1], "idempotencyKey": "b"}},
    )
    assert merged["mergeMembers"]["errors"] == [], merged
    return {"members": made, "merge": merged["mergeMembers"]["merge"]}


@probe("Mutation.mergeMembers")
async def _merge_members(w: World) -> None:
    b_member = await w.b("member")
    own = await w.as_a(
        "mutation($i: CreateMemberInput!) { createMember(input: $i) { member { id } } }",
        {"i": {"name": "Ann", "externalId": "a-1"}},
    )
    a_member = own["createMember"]["member"]["id"]
    for survivor, merged in ((a_member, b_member["id"]), (b_member["id"], a_member)):
        errors = await w.a_errors(
            "mutation($i: MergeMembersInput!) { mergeMembers(input: $i) { errors { code } } }",
            {"i": {"survivorId": survivor, "mergedId": merged, "idempotencyKey": survivor}},
        )
        assert [e["code"] for e in errors] == ["NOT_FOUND"], errors
    await _b_member_unchanged(w)


@probe("Query.memberMerge", "Mutation.undoMemberMerge")
async def _member_merge(w: World) -> None:
    from tessera.members.models import MemberMerge

    seeded = await _b_merge(w)
    merge_id = seeded["merge"]["id"]
    data = await w.as_a("query($id: ID!) { memberMerge(id: $id) { id } }", {"id": merge_id})
    assert data["memberMerge"] is None
    errors = await w.a_errors(
        "mutation($i: UndoMemberMergeInput!) { undoMemberMerge(input: $i) { errors { code } } }",
        {"i": {"mergeId": merge_id}},
    )
    assert [e["code"] for e in errors] == ["NOT_FOUND"], errors
    assert (await MemberMerge.get(brand_id=w.brand_b.id)).undone_at is None


@probe(
    "Query.duplicateCandidates",
    "Mutation.dismissDuplicateCandidate",
    "Mutation.scanDuplicateCandidates",
)
async def _duplicates(w: World) -> None:
    from tessera.members.duplicates import scan
    from tessera.members.models import DuplicateCandidate
    from tessera.schema.ids import encode_id
    from tessera.scope import BrandScope

    for n in (4, 5):
        await w.as_b(
            "mutation($i: CreateMemberInput!) { createMember(input: $i) { member { id } } }",
            {"i": {"name": "Twin", "birthday": "1990-01-01", "externalId": f"b-{n}"}},
        )
    assert await scan(BrandScope(w.brand_b)) == 1
    candidate = await DuplicateCandidate.get(brand_id=w.brand_b.id)
    listed = await w.as_a("query { duplicateCandidates { totalCount } }")
    assert listed["duplicateCandidates"]["totalCount"] == 0
    errors = await w.a_errors(
        "mutation($i: DismissDuplicateCandidateInput!) { dismissDuplicateCandidate(input: $i) "
        "{ errors { code } } }",
        {"i": {"id": encode_id("DuplicateCandidate", candidate.id)}},
    )
    assert [e["code"] for e in errors] == ["NOT_FOUND"], errors
    scanned = await w.as_a(
        "mutation { scanDuplicateCandidates(input: {}) { found errors { code } } }"
    )
    assert scanned["scanDuplicateCandidates"] == {"found": 0, "errors": []}
    assert (await DuplicateCandidate.get(id=candidate.id)).status == "open"
    assert await DuplicateCandidate.filter(brand_id=w.brand_a.id).count() == 0


# --- tag probes ---------------------------------------------------------------------


@probe("Query.tags")
async def _tags(w: World) -> None:
    await w.b("tag")
    data = await w.as_a("{ tags { totalCount edges { node { id code } } } }")
    assert data["tags"]["totalCount"] == 0


@probe("Query.tag")
async def _tag(w: World) -> None:
    tag = await w.b("tag")
    assert (await w.as_a("query($id: ID!) { tag(id: $id) { id } }", {"id": tag["id"]}))[
        "tag"
    ] is None


@probe("Query.tagGroups")
async def _tag_groups(w: World) -> None:
    await w.b("group")
    assert (await w.as_a("{ tagGroups { id } }"))["tagGroups"] == []


@probe("Mutation.createTag")
async def _create_tag(w: World) -> None:
    group = await w.b("group")
    errors = await w.a_errors(
        'mutation($g: ID) { createTag(input: {code: "x", name: "x", groupId: $g}) { errors { code } } }',
        {"g": group["id"]},
    )
    assert errors and errors[0]["code"] == "NOT_FOUND"  # B's group is not A's to use
    assert not await Tag.filter(brand_id=w.brand_a.id).exists()


@probe("Mutation.updateTag")
async def _update_tag(w: World) -> None:
    tag = await w.b("tag")
    errors = await w.a_errors(
        'mutation($id: ID!) { updateTag(input: {id: $id, name: "hacked"}) { errors { code } } }',
        {"id": tag["id"]},
    )
    assert errors and errors[0]["code"] == "NOT_FOUND"
    assert (await Tag.get(brand_id=w.brand_b.id, code="vip")).name == "B VIP"


@probe("Mutation.deleteTag")
async def _delete_tag(w: World) -> None:
    tag = await w.b("tag")
    errors = await w.a_errors(
        "mutation($id: ID!) { deleteTag(input: {id: $id}) { errors { code } } }", {"id": tag["id"]}
    )
    assert errors and errors[0]["code"] == "NOT_FOUND"
    assert await Tag.filter(brand_id=w.brand_b.id, code="vip").exists()


@probe("Mutation.createTagGroup")
async def _create_tag_group(w: World) -> None:
    await w.b("group")
    assert (
        await w.a_errors(
            'mutation { createTagGroup(input: {code: "b-group", name: "A"}) { errors { code } } }',
            {},
        )
        == []
    )
    assert (await TagGroup.get(brand_id=w.brand_b.id, code="b-group")).name == "B group"


@probe("Mutation.updateTagGroup")
async def _update_tag_group(w: World) -> None:
    group = await w.b("group")
    errors = await w.a_errors(
        'mutation($id: ID!) { updateTagGroup(input: {id: $id, name: "hacked"}) { errors { code } } }',
        {"id": group["id"]},
    )
    assert errors and errors[0]["code"] == "NOT_FOUND"
    assert (await TagGroup.get(brand_id=w.brand_b.id, code="b-group")).name == "B group"


@probe("Mutation.deleteTagGroup")
async def _delete_tag_group(w: World) -> None:
    group = await w.b("group")
    errors = await w.a_errors(
        "mutation($id: ID!) { deleteTagGroup(input: {id: $id}) { errors { code } } }",
        {"id": group["id"]},
    )
    assert errors and errors[0]["code"] == "NOT_FOUND"
    assert await TagGroup.filter(brand_id=w.brand_b.id).exists()


@probe("Mutation.tagMembers")
async def _tag_members(w: World) -> None:
    member = await w.b("member")
    await w.as_a('mutation { createTag(input: {code: "a-tag", name: "A"}) { errors { code } } }')
    body = await w.as_a(
        'mutation($m: ID!, $p: String!) { tagMembers(input: {tags: ["a-tag"], memberIds: [$m],'
        " identities: [{kind: PHONE, value: $p}]}) { matchedCount changedCount unmatched"
        " { __typename } errors { code } } }",
        {"m": member["id"], "p": MEMBER_B["phone"]},
    )
    # Each of B's references is an unmatched member of A, not a batch error.
    assert body["tagMembers"]["errors"] == []
    assert (body["tagMembers"]["matchedCount"], body["tagMembers"]["changedCount"]) == (0, 0)
    assert len(body["tagMembers"]["unmatched"]) == 2
    assert not await TagAssignment.filter(brand_id=w.brand_b.id).exists()
    assert not await TagAssignment.filter(member_id=int(await _b_member_pk(w))).exists()


async def _b_member_pk(w: World) -> int:
    return (await Member.get(brand_id=w.brand_b.id, external_id="b-1")).id


@probe("Mutation.untagMembers")
async def _untag_members(w: World) -> None:
    member = await w.b("member")
    await w.b("tag")
    await w.as_a('mutation { createTag(input: {code: "vip", name: "A vip"}) { errors { code } } }')
    body = await w.as_a(
        'mutation($m: ID!, $p: String!) { untagMembers(input: {tags: ["vip"], memberIds: [$m],'
        " identities: [{kind: PHONE, value: $p}], anySource: true}) { matchedCount changedCount"
        " unmatched { __typename } errors { code } } }",
        {"m": member["id"], "p": MEMBER_B["phone"]},
    )
    assert body["untagMembers"]["errors"] == []
    assert (body["untagMembers"]["matchedCount"], body["untagMembers"]["changedCount"]) == (0, 0)
    assert len(body["untagMembers"]["unmatched"]) == 2
    assert await TagAssignment.filter(brand_id=w.brand_b.id).count() == 1


# --- fact probes ----------------------------------------------------------------------


ORDER_A = {
    "externalId": "b-order-1",
    "occurredAt": "2026-01-02T03:04:05+00:00",
    "amountPaid": {"amount": "1.00", "currency": "CNY"},
    "lines": [{"sku": "s", "quantity": 1, "unitPrice": {"amount": "1.00", "currency": "CNY"}}],
}


@probe("Query.order")
async def _order(w: World) -> None:
    order = await w.b("order")
    assert (await w.as_a("query($id: ID!) { order(id: $id) { id } }", {"id": order["id"]}))[
        "order"
    ] is None


@probe("Mutation.recordOrder")
async def _record_order(w: World) -> None:
    member = await w.b("member")
    await w.b("order")
    errors = await w.a_errors(
        "mutation($i: RecordOrderInput!) { recordOrder(input: $i) { errors { code } } }",
        {"i": {**ORDER_A, "memberId": member["id"]}},
    )
    assert errors and errors[0]["code"] in {"NOT_FOUND", "UNKNOWN_MEMBER"}
    errors = await w.a_errors(
        "mutation($i: RecordOrderInput!) { recordOrder(input: $i) { errors { code } } }",
        {"i": {**ORDER_A, "identity": {"kind": "PHONE", "value": MEMBER_B["phone"]}}},
    )
    assert errors and errors[0]["code"] in {"NOT_FOUND", "UNKNOWN_MEMBER"}
    assert await Order.filter(brand_id=w.brand_b.id).count() == 1
    assert not await Order.filter(brand_id=w.brand_a.id).exists()


@probe("Mutation.recordOrders")
async def _record_orders(w: World) -> None:
    member = await w.b("member")
    body = await w.as_a(
        "mutation($i: RecordOrdersInput!) { recordOrders(input: $i) { errors { code }"
        " results { errors { code field } } } }",
        {"i": {"orders": [{**ORDER_A, "memberId": member["id"]}]}},
    )
    assert body["recordOrders"] == {
        "errors": [],
        "results": [
            {"errors": [{"code": "UNKNOWN_MEMBER", "field": ["input", "orders", "0", "memberId"]}]}
        ],
    }
    assert not await Order.filter(member_id=await _b_member_pk(w)).exists()


@probe("Mutation.recordRefund")
async def _record_refund(w: World) -> None:
    order = await w.b("order")
    for ref in ({"orderId": order["id"]}, {"orderExternalId": "b-order-1"}):
        errors = await w.a_errors(
            "mutation($i: RecordRefundInput!) { recordRefund(input: $i) { errors { code } } }",
            {"i": {"externalId": "r-1", "occurredAt": "2026-01-03T00:00:00+00:00", **ref}},
        )
        assert errors and errors[0]["code"] == "NOT_FOUND", ref
    assert not await Refund.filter(brand_id=w.brand_b.id).exists()
    assert (await Order.get(brand_id=w.brand_b.id)).refunded_amount == 0


EVENT_A = {"eventId": "b-ev-1", "type": "view", "occurredAt": "2026-01-02T03:04:05+00:00"}


@probe("Mutation.recordEvent")
async def _record_event(w: World) -> None:
    member = await w.b("member")
    await w.b("event")
    for who in (
        {"memberId": member["id"]},
        {"identity": {"kind": "PHONE", "value": MEMBER_B["phone"]}},
    ):
        errors = await w.a_errors(
            "mutation($i: RecordEventInput!) { recordEvent(input: $i) { errors { code } } }",
            {"i": {**EVENT_A, **who}},
        )
        assert errors and errors[0]["code"] in {"NOT_FOUND", "UNKNOWN_MEMBER"}, who
    assert await BehaviourEvent.filter(brand_id=w.brand_b.id).count() == 1
    assert not await BehaviourEvent.filter(brand_id=w.brand_a.id).exists()


@probe("Mutation.recordEvents")
async def _record_events(w: World) -> None:
    member = await w.b("member")
    body = await w.as_a(
        "mutation($i: RecordEventsInput!) { recordEvents(input: $i) { errors { code }"
        " results { errors { code field } } } }",
        {"i": {"events": [{**EVENT_A, "memberId": member["id"]}]}},
    )
    assert body["recordEvents"] == {
        "errors": [],
        "results": [
            {"errors": [{"code": "UNKNOWN_MEMBER", "field": ["input", "events", "0", "memberId"]}]}
        ],
    }
    assert not await BehaviourEvent.filter(member_id=await _b_member_pk(w)).exists()


# --- coupon probes ---------------------------------------------------------------


async def _b_coupon(w: World) -> dict[str, Any]:
    """Brand B's coupon template, and a coupon of it held by B's member."""
    if "coupon" not in w.seeded:
        member = await w.b("member")
        made = await w.as_b(
            'mutation { createCouponTemplate(input: {kind: AMOUNT_OFF, title: "B 5 off",'
            ' amountOff: {amount: "5", currency: "USD"}, validDays: 30}) {'
            " template { id } errors { message } } }"
        )
        template = made["createCouponTemplate"]["template"]
        issued = await w.as_b(
            "mutation($t: ID!, $m: ID!) { issueCoupon(input: {templateId: $t, memberId: $m,"
            ' idempotencyKey: "b-1"}) { coupon { id code } errors { message } } }',
            {"t": template["id"], "m": member["id"]},
        )
        w.seeded["coupon"] = {
            "template": template,
            "member": member,
            **issued["issueCoupon"]["coupon"],
        }
    return w.seeded["coupon"]  # type: ignore[no-any-return]


async def _b_coupon_state(w: World) -> tuple[Any, ...]:
    from tessera.coupons.models import Coupon, CouponTemplate

    template = await CouponTemplate.get(brand_id=w.brand_b.id)
    coupons = await Coupon.filter(brand_id=w.brand_b.id).values_list("status", flat=True)
    return (template.title, template.active, template.issued_count, tuple(coupons))


B_COUPON_STATE = ("B 5 off", True, 1, ("available",))


@probe("Query.coupon")
async def _coupon(w: World) -> None:
    coupon = await _b_coupon(w)
    data = await w.as_a("query($c: String!) { coupon(code: $c) { id } }", {"c": coupon["code"]})
    assert data["coupon"] is None


@probe("Query.couponTemplate")
async def _coupon_template(w: World) -> None:
    coupon = await _b_coupon(w)
    data = await w.as_a(
        "query($id: ID!) { couponTemplate(id: $id) { id } }", {"id": coupon["template"]["id"]}
    )
    assert data["couponTemplate"] is None


@probe("Query.couponTemplates")
async def _coupon_templates(w: World) -> None:
    await _b_coupon(w)
    data = await w.as_a("{ couponTemplates { totalCount edges { node { id } } } }")
    assert data["couponTemplates"] == {"totalCount": 0, "edges": []}


@probe("Mutation.createCouponTemplate")
async def _create_coupon_template(w: World) -> None:
    from tessera.coupons.models import CouponTemplate

    await _b_coupon(w)
    await w.as_a(
        'mutation { createCouponTemplate(input: {kind: FREE_SHIPPING, title: "A ship",'
        " validDays: 3}) { errors { code } } }"
    )
    assert await _b_coupon_state(w) == B_COUPON_STATE
    assert await CouponTemplate.filter(brand_id=w.brand_a.id).count() == 1


@probe("Mutation.updateCouponTemplate")
async def _update_coupon_template(w: World) -> None:
    coupon = await _b_coupon(w)
    errors = await w.a_errors(
        'mutation($id: ID!) { updateCouponTemplate(input: {id: $id, title: "mine",'
        " active: false}) { errors { code } } }",
        {"id": coupon["template"]["id"]},
    )
    assert errors and errors[0]["code"] == "NOT_FOUND"
    assert await _b_coupon_state(w) == B_COUPON_STATE


@probe("Mutation.deleteCouponTemplate")
async def _delete_coupon_template(w: World) -> None:
    coupon = await _b_coupon(w)
    errors = await w.a_errors(
        "mutation($id: ID!) { deleteCouponTemplate(input: {id: $id}) { errors { code } } }",
        {"id": coupon["template"]["id"]},
    )
    assert errors and errors[0]["code"] == "NOT_FOUND"
    assert await _b_coupon_state(w) == B_COUPON_STATE


@probe("Mutation.issueCoupon")
async def _issue_coupon(w: World) -> None:
    coupon = await _b_coupon(w)
    errors = await w.a_errors(
        "mutation($t: ID!, $m: ID!) { issueCoupon(input: {templateId: $t, memberId: $m,"
        ' idempotencyKey: "a-1"}) { errors { code } } }',
        {"t": coupon["template"]["id"], "m": coupon["member"]["id"]},
    )
    assert errors and errors[0]["code"] == "NOT_FOUND"
    assert await _b_coupon_state(w) == B_COUPON_STATE


@probe("Mutation.issueCoupons")
async def _issue_coupons(w: World) -> None:
    coupon = await _b_coupon(w)
    body = await w.as_a(
        "mutation($t: ID!, $m: ID!) { issueCoupons(input: {templateId: $t, memberIds: [$m],"
        ' idempotencyKey: "a-bulk"}) { results { errors { code } } errors { code } } }',
        {"t": coupon["template"]["id"], "m": coupon["member"]["id"]},
    )
    assert body["issueCoupons"]["errors"][0]["code"] == "NOT_FOUND"
    assert await _b_coupon_state(w) == B_COUPON_STATE


@probe("Mutation.redeemCoupon")
async def _redeem_coupon(w: World) -> None:
    coupon = await _b_coupon(w)
    errors = await w.a_errors(
        "mutation($c: String!, $m: ID!) { redeemCoupon(input: {code: $c, memberId: $m,"
        ' orderAmount: {amount: "100", currency: "CNY"}, idempotencyKey: "a-r"})'
        " { errors { code } } }",
        {"c": coupon["code"], "m": coupon["member"]["id"]},
    )
    assert errors and errors[0]["code"] == "NOT_FOUND"
    assert await _b_coupon_state(w) == B_COUPON_STATE


@probe("Mutation.holdRewards")
async def _hold_rewards(w: World) -> None:
    coupon = await _b_coupon(w)
    errors = await w.a_errors(
        "mutation($c: String!, $m: ID!) { holdRewards(input: {memberId: $m, couponCodes: [$c],"
        ' orderAmount: {amount: "100", currency: "CNY"}, idempotencyKey: "a-h"})'
        " { errors { code } } }",
        {"c": coupon["code"], "m": coupon["member"]["id"]},
    )
    assert errors and errors[0]["code"] == "NOT_FOUND"
    assert await _b_coupon_state(w) == B_COUPON_STATE


@probe("Mutation.releaseHold")
async def _release_hold(w: World) -> None:
    coupon = await _b_coupon(w)
    held = await w.as_b(
        "mutation($c: String!, $m: ID!) { holdRewards(input: {memberId: $m, couponCodes: [$c],"
        ' orderAmount: {amount: "100", currency: "USD"}, idempotencyKey: "b-h"})'
        " { hold { id } errors { code } } }",
        {"c": coupon["code"], "m": coupon["member"]["id"]},
    )
    hold_id = held["holdRewards"]["hold"]["id"]
    errors = await w.a_errors(
        'mutation($h: ID!) { releaseHold(input: {holdId: $h, idempotencyKey: "a-r"})'
        " { errors { code } } }",
        {"h": hold_id},
    )
    assert errors and errors[0]["code"] == "NOT_FOUND"
    a_member = await w.as_a(
        'mutation { createMember(input: {name: "A", identities: [{kind: APP_USER_ID, value: "a-h"}]})'
        " { member { id } errors { message } } }"
    )
    errors = await w.a_errors(
        'mutation($m: ID!, $h: ID!) { recordOrder(input: {externalId: "a-o", memberId: $m,'
        ' occurredAt: "2026-01-01T00:00:00Z", amountPaid: {amount: "1", currency: "CNY"},'
        " holdId: $h}) { errors { field code } } }",
        {"m": a_member["createMember"]["member"]["id"], "h": hold_id},
    )
    assert errors == [{"field": ["input", "holdId"], "code": "NOT_FOUND"}]
    assert (await _b_coupon_state(w))[3] == ("held",)


@probe("Mutation.voidCoupon")
async def _void_coupon(w: World) -> None:
    coupon = await _b_coupon(w)
    for ref in ({"code": coupon["code"]}, {"couponId": coupon["id"]}):
        errors = await w.a_errors(
            "mutation($i: VoidCouponInput!) { voidCoupon(input: $i) { errors { code } } }",
            {"i": {**ref, "reason": "not yours"}},
        )
        assert errors and errors[0]["code"] == "NOT_FOUND", ref
    assert await _b_coupon_state(w) == B_COUPON_STATE


# --- segments, rule tags, lifecycle ---------------------------------------------

B_SEGMENT_RULE = {"type": "tags", "has": "any", "codes": ["vip"]}


async def _seed_segment(w: World) -> dict[str, Any]:
    await w.b("tag")
    data = await w.as_b(
        'mutation($r: JSON) { createSegment(input: {name: "B VIPs", rule: $r})'
        " { segment { id count } errors { message } } }",
        {"r": B_SEGMENT_RULE},
    )
    assert not data["createSegment"]["errors"], data
    assert data["createSegment"]["segment"]["count"] == 1
    return data["createSegment"]["segment"]


async def _seed_static_segment(w: World) -> dict[str, Any]:
    data = await w.as_b(
        'mutation { createSegment(input: {name: "B list", kind: STATIC}) { segment { id } } }'
    )
    return data["createSegment"]["segment"]


SEEDS["segment"] = _seed_segment
SEEDS["static_segment"] = _seed_static_segment


async def _b_segment_unchanged(w: World) -> None:
    from tessera.segments.models import Segment, SegmentMembership

    segment = await Segment.get(brand_id=w.brand_b.id, name="B VIPs")
    assert (segment.rule, segment.size) == (B_SEGMENT_RULE, 1)
    assert await SegmentMembership.filter(segment_id=segment.id).count() == 1


@probe("Query.segments")
async def _segments(w: World) -> None:
    await w.b("segment")
    data = await w.as_a("{ segments { totalCount edges { node { id } } } }")
    assert data["segments"] == {"totalCount": 0, "edges": []}


@probe("Query.segment")
async def _segment(w: World) -> None:
    segment = await w.b("segment")
    data = await w.as_a(
        "query($id: ID!) { segment(id: $id) { id members { totalCount } } }", {"id": segment["id"]}
    )
    assert data["segment"] is None
    # Nor through the members list filtered by B's segment.
    body = await w.as_a(
        "query($id: ID!) { members(segmentId: $id) { totalCount } }",
        {"id": segment["id"]},
        errors_ok=True,
    )
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


@probe("Mutation.createSegment")
async def _create_segment(w: World) -> None:
    segment = await w.b("segment")
    from tessera.schema.ids import decode_id
    from tessera.segments.models import Segment

    errors = await w.a_errors(
        'mutation($r: JSON) { createSegment(input: {name: "Mine", rule: $r}) { errors { code field } } }',
        {"r": {"type": "segment", "segment": decode_id(segment["id"], "Segment")}},
    )
    assert errors and errors[0]["code"] == "NOT_FOUND"
    assert not await Segment.filter(brand_id=w.brand_a.id).exists()


@probe("Mutation.updateSegment")
async def _update_segment(w: World) -> None:
    segment = await w.b("segment")
    errors = await w.a_errors(
        'mutation($id: ID!) { updateSegment(input: {id: $id, name: "hacked",'
        ' rule: {type: "stats", metric: "ordersCount", min: 0}}) { errors { code } } }',
        {"id": segment["id"]},
    )
    assert errors and errors[0]["code"] == "NOT_FOUND"
    await _b_segment_unchanged(w)


@probe("Mutation.deleteSegment")
async def _delete_segment(w: World) -> None:
    segment = await w.b("segment")
    errors = await w.a_errors(
        "mutation($id: ID!) { deleteSegment(input: {id: $id}) { errors { code } } }",
        {"id": segment["id"]},
    )
    assert errors and errors[0]["code"] == "NOT_FOUND"
    await _b_segment_unchanged(w)


@probe("Mutation.refreshSegment")
async def _refresh_segment(w: World) -> None:
    from tessera.segments.models import SegmentRefresh

    segment = await w.b("segment")
    before = await SegmentRefresh.filter(brand_id=w.brand_b.id).count()
    errors = await w.a_errors(
        "mutation($id: ID!) { refreshSegment(input: {id: $id}) { errors { code } } }",
        {"id": segment["id"]},
    )
    assert errors and errors[0]["code"] == "NOT_FOUND"
    assert await SegmentRefresh.filter(brand_id=w.brand_b.id).count() == before


@probe("Mutation.importSegmentMembers")
async def _import_segment_members(w: World) -> None:
    from tessera.segments.models import SegmentMembership

    segment = await w.b("static_segment")
    await w.b("member")
    errors = await w.a_errors(
        "mutation($id: ID!, $csv: String!) { importSegmentMembers(input: {segmentId: $id, "
        "csv: $csv}) { errors { code field } } }",
        {"id": segment["id"], "csv": "phone\n+12025550143\n"},
    )
    assert errors and errors[0]["code"] == "NOT_FOUND"
    assert not await SegmentMembership.filter(brand_id=w.brand_b.id).exists()


@probe("Mutation.setTagRule")
async def _set_tag_rule(w: World) -> None:
    tag = await w.b("tag")
    errors = await w.a_errors(
        "mutation($t: ID!) { setTagRule(input: {tagId: $t, "
        'rule: {type: "stats", metric: "ordersCount", min: 0}}) { errors { code } } }',
        {"t": tag["id"]},
    )
    assert errors and errors[0]["code"] == "NOT_FOUND"
    assert (await Tag.get(brand_id=w.brand_b.id, code="vip")).rule is None
    assert not await TagAssignment.filter(brand_id=w.brand_b.id, source="rule").exists()


@probe("Query.lifecycleSettings")
async def _lifecycle_settings(w: World) -> None:
    await w.as_b("mutation { updateLifecycleSettings(input: {activeDays: 7}) { errors { code } } }")
    data = await w.as_a("{ lifecycleSettings { activeDays } }")
    assert data["lifecycleSettings"]["activeDays"] == 90


@probe("Mutation.updateLifecycleSettings")
async def _update_lifecycle_settings(w: World) -> None:
    from tessera.segments.models import LifecycleSettings

    await w.as_b("mutation { updateLifecycleSettings(input: {activeDays: 7}) { errors { code } } }")
    await w.as_a(
        "mutation { updateLifecycleSettings(input: {activeDays: 30}) { errors { code } } }"
    )
    assert (await LifecycleSettings.get(brand_id=w.brand_b.id)).active_days == 7
    assert (await LifecycleSettings.get(brand_id=w.brand_a.id)).active_days == 30


@probe("Mutation.recomputeLifecycle")
async def _recompute_lifecycle(w: World) -> None:
    from tessera.segments.models import MemberLifecycle

    await w.b("member")
    await w.as_b("mutation { recomputeLifecycle(input: {}) { errors { code } } }")
    before = await MemberLifecycle.filter(brand_id=w.brand_b.id).values_list("computed_at")
    done = await w.as_a(
        'mutation { recomputeLifecycle(input: {asOf: "2020-01-01"}) { errors { code } } }'
    )
    assert done["recomputeLifecycle"]["errors"] == []
    after = await MemberLifecycle.filter(brand_id=w.brand_b.id).values_list("computed_at")
    assert before and after == before


# --- member assets (points, stored value, points policy) --------------------------


async def _seed_assets(w: World) -> dict[str, Any]:
    member = await w.b("member")
    earned = await w.as_b(
        "mutation($m: ID!) { earnPoints(input: {memberId: $m, points: 100,"
        ' idempotencyKey: "b-points"}) { errors { message } } }',
        {"m": member["id"]},
    )
    topped = await w.as_b(
        'mutation($m: ID!) { topUpStoredValue(input: {memberId: $m, amount: {amount: "50",'
        ' currency: "USD"}, idempotencyKey: "b-value"}) { errors { message } } }',
        {"m": member["id"]},
    )
    policy = await w.as_b(
        "mutation { setPointsPolicy(input: {pendingDays: 5}) { errors { code } } }"
    )
    assert not (
        earned["earnPoints"]["errors"]
        or topped["topUpStoredValue"]["errors"]
        or policy["setPointsPolicy"]["errors"]
    )
    return member


SEEDS["assets"] = _seed_assets


async def _b_assets_unchanged(w: World) -> None:
    from tessera.assets.models import AssetAccount, LedgerEntry, PointsPolicy

    balances = dict(await AssetAccount.filter(brand_id=w.brand_b.id).values_list("kind", "balance"))
    assert balances == {"points": 100, "stored_value": 5000}
    assert await LedgerEntry.filter(brand_id=w.brand_b.id).count() == 2
    assert not await AssetAccount.filter(brand_id=w.brand_a.id).exists()
    assert (await PointsPolicy.get(brand_id=w.brand_b.id)).pending_days == 5


@probe("Query.pointsPolicy")
async def _points_policy(w: World) -> None:
    await w.b("assets")
    data = await w.as_a("{ pointsPolicy { pendingDays } }")
    assert data["pointsPolicy"] == {"pendingDays": 0}


@probe("Mutation.setPointsPolicy")
async def _set_points_policy(w: World) -> None:
    await w.b("assets")
    await w.as_a("mutation { setPointsPolicy(input: {pendingDays: 9}) { errors { code } } }")
    await _b_assets_unchanged(w)


@probe(
    "Mutation.earnPoints",
    "Mutation.redeemPoints",
    "Mutation.adjustPoints",
    "Mutation.topUpStoredValue",
    "Mutation.spendStoredValue",
)
async def _move_assets(w: World) -> None:
    member = await w.b("assets")
    points = '{memberId: $m, points: 10, idempotencyKey: "b-points"'
    value = '{memberId: $m, amount: {amount: "1", currency: "CNY"}, idempotencyKey: "b-value"}'
    for mutation, arguments in (
        ("earnPoints", points + "}"),
        ("redeemPoints", points + "}"),
        ("adjustPoints", points + ', reason: "take"}'),
        ("topUpStoredValue", value),
        ("spendStoredValue", value),
    ):
        # B's member id, and B's idempotency keys: neither reaches B's ledger.
        errors = await w.a_errors(
            f"mutation($m: ID!) {{ {mutation}(input: {arguments}) {{ errors {{ code field }} }} }}",
            {"m": member["id"]},
        )
        assert [(e["code"], e["field"]) for e in errors] == [("NOT_FOUND", ["input", "memberId"])]
    await _b_assets_unchanged(w)


# --- tiers and rewards --------------------------------------------------------------


async def _seed_tiers(w: World) -> dict[str, Any]:
    """Brand B's tier, policy and rules, and B's member in that tier with points."""
    member = await w.b("member")
    created = await w.as_b(
        'mutation { createTier(input: {code: "gold", name: "B Gold", rank: 1, giftPoints: 7})'
        " { tier { id } errors { message } } }"
    )
    assert not created["createTier"]["errors"], created
    for component, config in (
        ("tiers.cumulative_spend", '{thresholds: {gold: "1"}}'),
        ("points.purchase", "{}"),
        ("points.activity", "{check_in: 3}"),
        ("points.redemption", "{points_per_unit: 1}"),
    ):
        done = await w.as_b(
            f'mutation {{ setFeature(input: {{component: "{component}", config: {config}}})'
            " { errors { message } } }"
        )
        assert not done["setFeature"]["errors"], done
    recorded = await w.as_b(
        "mutation($i: RecordOrderInput!) { recordOrder(input: $i) { order { id } errors { message } } }",
        {
            "i": {
                "externalId": "b-tier-order",
                "occurredAt": "2026-01-02T03:04:05+00:00",
                "memberId": member["id"],
                "amountPaid": {"amount": "50.00", "currency": "USD"},
            }
        },
    )
    assert not recorded["recordOrder"]["errors"], recorded
    return {
        "tier": created["createTier"]["tier"],
        "member": member,
        "order": recorded["recordOrder"]["order"],
    }


SEEDS["tiers"] = _seed_tiers


async def _b_tiers_unchanged(w: World) -> None:
    from tessera.assets.models import LedgerEntry
    from tessera.rewards.models import CheckIn, Referral
    from tessera.schema.ids import decode_id
    from tessera.tiers.models import MemberTierState, TierDefinition

    tiers = await TierDefinition.filter(brand_id=w.brand_b.id).values_list("code", "name", "rank")
    assert tiers == [("gold", "B Gold", 1)]
    # B's other members (a referral probe's new one) have a tier state from
    # joining, but no tier: only the seeded member's order reached gold.
    seeded = decode_id(w.seeded["tiers"]["member"]["id"], "Member")
    states = await MemberTierState.filter(brand_id=w.brand_b.id).select_related("tier")
    held = {s.member_id: s.tier.code for s in states if s.tier is not None}
    assert held == {seeded: "gold"}
    amounts = sorted(
        await LedgerEntry.filter(brand_id=w.brand_b.id, kind="points").values_list(
            "amount", flat=True
        )
    )
    assert amounts == [7, 50]
    assert not await CheckIn.filter(brand_id=w.brand_b.id).exists()
    assert not await Referral.exists()


@probe("Query.tiers", "Query.tier")
async def _tiers(w: World) -> None:
    seeded = await w.b("tiers")
    assert (await w.as_a("{ tiers { id code } }"))["tiers"] == []
    data = await w.as_a("query($id: ID!) { tier(id: $id) { id } }", {"id": seeded["tier"]["id"]})
    assert data["tier"] is None
    member = await w.as_a(
        "query($id: ID!) { member(id: $id) { tier { id } } }", {"id": seeded["member"]["id"]}
    )
    assert member["member"] is None


@probe("Mutation.createTier")
async def _create_tier(w: World) -> None:
    await w.b("tiers")
    # B's code and rank do not count as taken in A.
    errors = await w.a_errors(
        'mutation { createTier(input: {code: "gold", name: "A Gold", rank: 1}) { errors { code } } }',
        {},
    )
    assert errors == []
    await _b_tiers_unchanged(w)


@probe("Mutation.updateTier", "Mutation.deleteTier")
async def _change_tier(w: World) -> None:
    seeded = await w.b("tiers")
    tier_id = seeded["tier"]["id"]
    for mutation in (
        'updateTier(input: {id: $id, name: "taken"})',
        "deleteTier(input: {id: $id})",
    ):
        errors = await w.a_errors(
            f"mutation($id: ID!) {{ {mutation} {{ errors {{ code field }} }} }}", {"id": tier_id}
        )
        assert [(e["code"], e["field"]) for e in errors] == [("NOT_FOUND", ["input", "id"])]
    await _b_tiers_unchanged(w)


@probe("Mutation.checkIn")
async def _check_in(w: World) -> None:
    seeded = await w.b("tiers")
    errors = await w.a_errors(
        "mutation($m: ID) { checkIn(input: {memberId: $m}) { errors { code field } } }",
        {"m": seeded["member"]["id"]},
    )
    assert [(e["code"], e["field"]) for e in errors] == [("NOT_FOUND", ["input", "memberId"])]
    await _b_tiers_unchanged(w)


@probe("Mutation.redeemPointsForOrder")
async def _redeem_for_order(w: World) -> None:
    seeded = await w.b("tiers")
    await w.as_a(
        'mutation { setFeature(input: {component: "points.redemption", config: {points_per_unit: 1}})'
        " { errors { message } } }"
    )
    errors = await w.a_errors(
        "mutation($m: ID!, $o: ID) { redeemPointsForOrder(input: {memberId: $m, points: 10, "
        'idempotencyKey: "b-redeem", orderId: $o}) { errors { code field } } }',
        {"m": seeded["member"]["id"], "o": seeded["order"]["id"]},
    )
    assert [(e["code"], e["field"]) for e in errors] == [("NOT_FOUND", ["input", "orderId"])]
    await _b_tiers_unchanged(w)


@probe("Mutation.recordReferral")
async def _record_referral(w: World) -> None:
    seeded = await w.b("tiers")
    other = await w.as_b(
        'mutation { createMember(input: {name: "Bob", externalId: "b-2"}) { member { id } } }'
    )
    errors = await w.a_errors(
        "mutation($r: ID!, $e: ID!) { recordReferral(input: {referrerId: $r, refereeId: $e})"
        " { errors { code field } } }",
        {"r": seeded["member"]["id"], "e": other["createMember"]["member"]["id"]},
    )
    assert [(e["code"], e["field"]) for e in errors] == [("NOT_FOUND", ["input", "referrerId"])]
    await _b_tiers_unchanged(w)


@probe("Query.previewOrderRewards")
async def _preview_order_rewards(w: World) -> None:
    seeded = await w.b("tiers")
    body = await w.as_a(
        "query($o: RecordOrderInput!) { previewOrderRewards(order: $o) { totalPoints } }",
        {
            "o": {
                "externalId": "b-tier-order",
                "occurredAt": "2026-01-02T03:04:05+00:00",
                "memberId": seeded["member"]["id"],
                "amountPaid": {"amount": "50.00", "currency": "CNY"},
            }
        },
        errors_ok=True,
    )
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"]
    await _b_tiers_unchanged(w)


# --- segment rules (previewSegment, segmentRuleSchema) --------------------------


@probe("Query.segmentRuleSchema")
async def _segment_rule_schema(w: World) -> None:
    # The language is the same for every brand; nothing brand-specific shows.
    query = "{ segmentRuleSchema }"
    assert await w.as_a(query) == await w.as_b(query)


@probe("Query.previewSegment")
async def _preview_segment(w: World) -> None:
    segment = await w.b("segment")
    query = (
        "query($r: JSON!) { previewSegment(rule: $r) "
        "{ count sample { id } errors { code field } } }"
    )
    everyone = await w.as_a(query, {"r": {"not": {"type": "coupons"}}})
    assert everyone["previewSegment"] == {"count": 0, "sample": [], "errors": []}
    by_tag = await w.as_a(query, {"r": B_SEGMENT_RULE})
    assert by_tag["previewSegment"]["errors"] == [
        {"code": "UNKNOWN_TAG", "field": ["rule", "codes"]}
    ]
    by_segment = await w.as_a(query, {"r": {"type": "segment", "segment": segment["id"]}})
    assert by_segment["previewSegment"]["errors"] == [
        {"code": "NOT_FOUND", "field": ["rule", "segment"]}
    ]
    await _b_segment_unchanged(w)


# --- webhook probes -------------------------------------------------------------------


async def _seed_webhook(w: World) -> Any:
    from tessera.schema.ids import decode_id, encode_id
    from tessera.scope import BrandScope
    from tessera.webhooks.models import WebhookDelivery

    data = await w.as_b(
        'mutation { createWebhookSubscription(input: {url: "http://127.0.0.1:9/b",'
        ' eventTypes: ["*"], description: "B hook"}) { subscription { id } errors { code } } }'
    )
    subscription = data["createWebhookSubscription"]["subscription"]
    # A delivery that failed, as the replay probe needs (no sending here).
    delivery = await BrandScope(w.brand_b).create(
        WebhookDelivery,
        delivery_id="00000000-0000-4000-8000-00000000000b",
        subscription_id=decode_id(subscription["id"], "WebhookSubscription"),
        event_type="member.joined",
        payload={"b": "only"},
        status="failed",
    )
    return {"id": subscription["id"], "delivery": encode_id("WebhookDelivery", delivery.id)}


SEEDS["webhook"] = _seed_webhook


async def _b_webhook_unchanged(w: World) -> None:
    from tessera.webhooks.models import WebhookDelivery, WebhookSubscription

    [hook] = await WebhookSubscription.filter(brand_id=w.brand_b.id)
    assert (hook.url, hook.description, hook.active) == ("http://127.0.0.1:9/b", "B hook", True)
    [delivery] = await WebhookDelivery.filter(brand_id=w.brand_b.id)
    assert (delivery.status, delivery.attempts) == ("failed", 0)
    assert not await WebhookSubscription.filter(brand_id=w.brand_a.id).exists()


@probe("Query.webhookSubscriptions")
async def _webhook_subscriptions(w: World) -> None:
    await w.b("webhook")
    assert (await w.as_a("{ webhookSubscriptions { id url } }"))["webhookSubscriptions"] == []


@probe("Query.webhookEventTypes")
async def _webhook_event_types(w: World) -> None:
    # The catalogue is the same for every brand.
    query = "{ webhookEventTypes { name } }"
    assert await w.as_a(query) == await w.as_b(query)


@probe("Query.webhookDeliveries")
async def _webhook_deliveries(w: World) -> None:
    hook = await w.b("webhook")
    data = await w.as_a("{ webhookDeliveries { totalCount edges { node { id } } } }")
    assert data["webhookDeliveries"] == {"totalCount": 0, "edges": []}
    body = await w.as_a(
        "query($s: ID) { webhookDeliveries(subscriptionId: $s) { totalCount } }",
        {"s": hook["id"]},
        errors_ok=True,
    )
    assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"]


@probe("Mutation.createWebhookSubscription")
async def _create_webhook(w: World) -> None:
    await w.b("webhook")
    errors = await w.a_errors(
        'mutation { createWebhookSubscription(input: {url: "http://127.0.0.1:9/a",'
        ' eventTypes: ["order.recorded"]}) { errors { code } } }',
        {},
    )
    assert errors == []
    from tessera.webhooks.models import WebhookSubscription

    assert await WebhookSubscription.filter(brand_id=w.brand_b.id).count() == 1


@probe(
    "Mutation.updateWebhookSubscription",
    "Mutation.rotateWebhookSecret",
    "Mutation.deleteWebhookSubscription",
)
async def _change_webhook(w: World) -> None:
    hook = await w.b("webhook")
    for document in (
        'updateWebhookSubscription(input: {id: $id, url: "http://127.0.0.1:9/x", active: false})',
        "rotateWebhookSecret(input: {id: $id})",
        "deleteWebhookSubscription(input: {id: $id})",
    ):
        errors = await w.a_errors(
            f"mutation($id: ID!) {{ {document} {{ errors {{ code }} }} }}", {"id": hook["id"]}
        )
        assert [e["code"] for e in errors] == ["NOT_FOUND"], document
    await _b_webhook_unchanged(w)


@probe("Mutation.replayWebhookDelivery")
async def _replay_webhook(w: World) -> None:
    hook = await w.b("webhook")
    errors = await w.a_errors(
        "mutation($id: ID!) { replayWebhookDelivery(input: {id: $id}) { errors { code } } }",
        {"id": hook["delivery"]},
    )
    assert [e["code"] for e in errors] == ["NOT_FOUND"]
    await _b_webhook_unchanged(w)


# --- privacy probes -------------------------------------------------------------------


async def _b_member_untouched_by_privacy(w: World) -> None:
    from tessera.privacy.models import LegalHold, MemberExport

    await _b_member_unchanged(w)
    assert not await MemberExport.filter(brand_id=w.brand_a.id).exists()
    assert await LegalHold.filter(brand_id=w.brand_b.id).count() == len(
        [k for k in w.seeded if k == "held"]
    )


@probe("Mutation.exportMemberData", "Mutation.eraseMember", "Mutation.setLegalHold")
async def _privacy_on_b_member(w: World) -> None:
    member = await w.b("member")
    for document in (
        "exportMemberData(input: {memberId: $m})",
        "eraseMember(input: {memberId: $m, reason: MEMBER_REQUEST})",
        'setLegalHold(input: {memberId: $m, hold: true, reason: "a"})',
    ):
        errors = await w.a_errors(
            f"mutation($m: ID!) {{ {document} {{ errors {{ code }} }} }}", {"m": member["id"]}
        )
        assert [e["code"] for e in errors] == ["NOT_FOUND"], document
    await _b_member_untouched_by_privacy(w)


@probe("Mutation.exportMyData")
async def _export_my_data(w: World) -> None:
    # A member token's own data only; an API key has no "own" member.
    await w.b("member")
    body = await w.as_a("mutation { exportMyData { errors { code } } }", errors_ok=True)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    await _b_member_untouched_by_privacy(w)


@probe("Query.memberExport", "Query.legalHold")
async def _privacy_reads(w: World) -> None:
    member = await w.b("member")
    made = await w.as_b(
        "mutation($m: ID!) { exportMemberData(input: {memberId: $m}) { export { id } } }",
        {"m": member["id"]},
    )
    await w.as_b(
        'mutation($m: ID!) { setLegalHold(input: {memberId: $m, hold: true, reason: "b case"})'
        " { errors { code } } }",
        {"m": member["id"]},
    )
    w.seeded["held"] = True
    export_id = made["exportMemberData"]["export"]["id"]
    data = await w.as_a("query($id: ID!) { memberExport(id: $id) { id } }", {"id": export_id})
    assert data["memberExport"] is None
    data = await w.as_a(
        "query($m: ID!) { legalHold(memberId: $m) { reason } }", {"m": member["id"]}
    )
    assert data["legalHold"] is None
    await _b_member_unchanged(w)


@probe("Query.privacySettings", "Mutation.updatePrivacySettings")
async def _privacy_settings(w: World) -> None:
    from tessera.privacy.models import PrivacySettings

    await w.as_b(
        "mutation { updatePrivacySettings(input: {behaviourEventDays: 77}) { errors { code } } }"
    )
    data = await w.as_a("{ privacySettings { behaviourEventDays } }")
    assert data["privacySettings"]["behaviourEventDays"] is None
    errors = await w.a_errors(
        "mutation { updatePrivacySettings(input: {behaviourEventDays: 5}) { errors { code } } }",
        {},
    )
    assert errors == []
    [b] = await PrivacySettings.filter(brand_id=w.brand_b.id)
    assert b.behaviour_event_days == 77


# --- persons (tenant-wide reads, docs/persons.md) ------------------------------


@probe("Query.person", "Query.personByIdentity", "Query.persons")
async def _persons(w: World) -> None:
    from tessera.auth.api_keys import create_api_key
    from tessera.persons.models import PersonMember
    from tessera.testing import drain_outbox

    member = await w.b("member")
    await drain_outbox()
    b_member = await Member.get(brand_id=w.brand_b.id, external_id="b-1")
    b_person = (await PersonMember.get(member_id=b_member.id)).person_id
    query = (
        "query($id: ID!, $v: String!) { person(id: $id) { id members { memberId } }"
        " personByIdentity(kind: PHONE, value: $v) { id } persons { totalCount } }"
    )
    variables = {"id": encode_person(b_person), "v": MEMBER_B["phone"]}
    # A brand key, even an admin one, reads no persons at all.
    body = await w.as_a(query, variables, errors_ok=True)
    assert body["data"] is None
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
    # Brand A's tenant-wide key sees nothing of brand B's tenant.
    issued = await create_api_key(w.brand_a, "a persons", ["persons"], tenant_wide=True)
    body = await w.as_a(query, variables, errors_ok=True, token=issued.token)
    assert body == {
        "data": {"person": None, "personByIdentity": None, "persons": {"totalCount": 0}}
    }, body
    assert member["id"] not in str(body)


def encode_person(pk: int) -> str:
    from tessera.schema.ids import encode_id

    return encode_id("Person", pk)


# --- slot probes ----------------------------------------------------------------------


async def _seed_slot(w: World) -> Any:
    await w.as_b(
        'mutation { setFeature(input: {component: "slots.banner", slot: "home_top", config: {}})'
        " { errors { code } } }"
    )
    data = await w.as_b(
        'mutation { createSlotCreative(input: {slot: "home_top", title: "B only",'
        ' imageUrl: "https://b.example/b.jpg", link: "/b", altText: "B"})'
        " { creative { id } errors { code } } }"
    )
    creative = data["createSlotCreative"]["creative"]
    await w.as_b(
        'mutation($c: ID!) { recordSlotEvents(input: {events: [{eventId: "b-1",'
        ' slot: "home_top", kind: IMPRESSION, creativeId: $c}]}) { errors { code } } }',
        {"c": creative["id"]},
    )
    return creative


SEEDS["slot"] = _seed_slot


async def _b_slot_unchanged(w: World) -> None:
    from tessera.slots.models import SlotCreative, SlotEvent

    [row] = await SlotCreative.filter(brand_id=w.brand_b.id)
    assert (row.title, row.link) == ("B only", "/b")
    assert await SlotEvent.filter(brand_id=w.brand_b.id).count() == 1
    assert not await SlotCreative.filter(brand_id=w.brand_a.id).exists()
    assert not await SlotEvent.filter(brand_id=w.brand_a.id).exists()


@probe("Query.slots", "Query.slotCreatives", "Query.slotResults", "Query.slotCreative")
async def _slot_reads(w: World) -> None:
    creative = await w.b("slot")
    data = await w.as_a(
        'query($c: ID!) { slots { key } slotCreatives(slot: "home_top") { id }'
        ' slotResults(slot: "home_top") { creativeId } slotCreative(id: $c) { id } }',
        {"c": creative["id"]},
    )
    assert data == {"slots": [], "slotCreatives": [], "slotResults": [], "slotCreative": None}


@probe("Query.slot", "Query.previewSlot")
async def _slot_resolve(w: World) -> None:
    await w.b("slot")
    member = await w.b("member")
    for document in (
        'slot(key: "home_top", memberId: $m) { key }',
        'previewSlot(key: "home_top", memberId: $m) { key }',
        'slot(key: "home_top") { key }',
    ):
        variables = {"m": member["id"]} if "$m" in document else {}
        header = "query($m: ID)" if variables else "query"
        body = await w.as_a(f"{header} {{ {document} }}", variables, errors_ok=True)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"], document
    assert "B only" not in str(body)


@probe("Mutation.createSlotCreative")
async def _create_slot_creative(w: World) -> None:
    await w.b("slot")
    errors = await w.a_errors(
        'mutation { createSlotCreative(input: {slot: "home_top", title: "A",'
        ' imageUrl: "https://a.example/a.jpg", link: "/a", altText: "A"}) { errors { code field } } }',
        {},
    )
    assert [(e["code"], e["field"]) for e in errors] == [("NOT_FOUND", ["input", "slot"])]
    await _b_slot_unchanged(w)


@probe("Mutation.updateSlotCreative", "Mutation.deleteSlotCreative")
async def _change_slot_creative(w: World) -> None:
    creative = await w.b("slot")
    for document in (
        'updateSlotCreative(input: {id: $id, title: "hijacked"})',
        "deleteSlotCreative(input: {id: $id})",
    ):
        errors = await w.a_errors(
            f"mutation($id: ID!) {{ {document} {{ errors {{ code }} }} }}", {"id": creative["id"]}
        )
        assert [e["code"] for e in errors] == ["NOT_FOUND"], document
    await _b_slot_unchanged(w)


@probe("Mutation.recordSlotEvents")
async def _record_slot_events(w: World) -> None:
    creative = await w.b("slot")
    member = await w.b("member")
    errors = await w.a_errors(
        'mutation($c: ID!, $m: ID!) { recordSlotEvents(input: {events: [{eventId: "a-1",'
        ' slot: "home_top", kind: CLICK, creativeId: $c, memberId: $m}]}) { errors { code field } } }',
        {"c": creative["id"], "m": member["id"]},
    )
    assert sorted(e["field"][-1] for e in errors) == ["creativeId", "memberId", "slot"]
    await _b_slot_unchanged(w)


@probe("Query.memberClusters")
async def _member_clusters(w: World) -> None:
    from tessera.scope import BrandScope
    from tessera.slots.models import ClusterInfo

    await BrandScope(w.brand_b).create(
        ClusterInfo,
        cluster=0,
        size=3,
        description="B only",
        centre={},
        computed_at=datetime.now(UTC),
    )
    assert (await w.as_a("{ memberClusters { number description } }"))["memberClusters"] == []


async def _b_sales_report(w: World) -> None:
    await w.as_b('mutation { setFeature(input: {component: "reports.sales"}) { errors { code } } }')
    await w.as_b(
        'mutation { setReportTarget(input: {type: "reports.sales", figure: "sales", '
        'start: "2025-03-01", end: "2025-03-31", value: "77"}) { errors { code } } }'
    )


@probe("Query.reportTypes", "Query.report", "Mutation.setReportTarget")
async def _reports(w: World) -> None:
    await _b_sales_report(w)
    assert (await w.as_a("{ reportTypes { key } }"))["reportTypes"] == []
    run = """{ report(type: "reports.sales", params: {start: "2025-03-01", end: "2025-03-31"})
               { figures { key target } errors { code field } } }"""
    data = (await w.as_a(run))["report"]
    assert [(e["code"], e["field"]) for e in data["errors"]] == [("NOT_FOUND", ["type"])]
    errors = await w.a_errors(
        'mutation { setReportTarget(input: {type: "reports.sales", figure: "sales", '
        'start: "2025-03-01", end: "2025-03-31", value: "1"}) { errors { code } } }',
        {},
    )
    assert [e["code"] for e in errors] == ["NOT_FOUND"]
    # Enabled on A too: A's figures carry none of B's target.
    await w.as_a('mutation { setFeature(input: {component: "reports.sales"}) { errors { code } } }')
    data = (await w.as_a(run))["report"]
    assert data["errors"] == [] and all(f["target"] is None for f in data["figures"])
    b_data = (await w.as_b(run))["report"]
    assert next(f for f in b_data["figures"] if f["key"] == "sales")["target"] == "77.00"


@probe("Query.campaignResults")
async def _campaign_results(w: World) -> None:
    from tessera.campaigns.models import Campaign
    from tessera.channels.models import Channel, MessageTemplate
    from tessera.schema.ids import encode_id
    from tessera.scope import BrandScope

    scope = BrandScope(w.brand_b)
    template = await scope.create(MessageTemplate, name="b-push", channel=Channel.SMS, body="Hi")
    campaign = await scope.create(
        Campaign,
        name="b-spring",
        template_id=template.id,
        channel=Channel.SMS,
        launched_at=datetime(2025, 3, 1, tzinfo=UTC),
    )
    query = "query($id: ID!) { campaignResults(campaignId: $id) { campaignId days } }"
    variables = {"id": encode_id("Campaign", campaign.id)}
    assert (await w.as_a(query, variables))["campaignResults"] is None
    assert (await w.as_b(query, variables))["campaignResults"]["days"] == 7


# --- channel probes -------------------------------------------------------------------


async def _seed_channels(w: World) -> dict[str, Any]:
    member = await w.b("member")
    made = await w.as_b(
        'mutation { createMessageTemplate(input: {name: "b-welcome", channel: SMS,'
        ' body: "Hi {{ member.name }}"}) { template { id } errors { code } } }'
    )
    template = made["createMessageTemplate"]["template"]["id"]
    rule = await w.as_b(
        'mutation($t: ID!) { createTriggerRule(input: {event: "member.joined", templateId: $t,'
        " purpose: TRANSACTIONAL}) { rule { id } errors { code } } }",
        {"t": template},
    )
    await w.as_b(
        'mutation { setContactRules(input: {quietStart: "21:00", quietEnd: "08:00",'
        ' caps: [{channel: "*", limit: 2, hours: 24}]}) { errors { code } } }'
    )
    await w.as_b(
        "mutation($m: ID!) { setConsent(input: {memberId: $m, channel: SMS, purpose: MARKETING,"
        " granted: true}) { errors { code } } }",
        {"m": member["id"]},
    )
    sent = await w.as_b(
        "mutation($m: ID!, $t: ID!) { sendMessage(input: {memberId: $m, templateId: $t,"
        ' purpose: TRANSACTIONAL, idempotencyKey: "b-1"}) { message { id } errors { code } } }',
        {"m": member["id"], "t": template},
    )
    assert sent["sendMessage"]["errors"] == [], sent
    return {
        "member": member["id"],
        "template": template,
        "rule": rule["createTriggerRule"]["rule"]["id"],
    }


SEEDS["channels"] = _seed_channels

_B_CHANNELS = (
    "query($m: ID!) { messageTemplates { id body } triggerRules { id templateId active }"
    " contactRules { quietStart caps { limit } } messages { totalCount }"
    " memberContact(memberId: $m) { consents { granted } doNotContact { channel } } }"
)


async def _b_channels_unchanged(w: World, seeded: dict[str, Any]) -> None:
    after = await w.as_b(_B_CHANNELS, {"m": seeded["member"]})
    assert after["messageTemplates"] == [{"id": seeded["template"], "body": "Hi {{ member.name }}"}]
    assert after["triggerRules"] == [
        {"id": seeded["rule"], "templateId": seeded["template"], "active": True}
    ]
    assert after["contactRules"] == {"quietStart": "21:00", "caps": [{"limit": 2}]}
    assert after["messages"] == {"totalCount": 1}
    assert after["memberContact"] == {"consents": [{"granted": True}], "doNotContact": []}


@probe(
    "Query.messageTemplates",
    "Query.triggerRules",
    "Query.contactRules",
    "Query.messages",
    "Query.memberContact",
    "Query.previewTemplate",
    "Query.triggerEvents",
)
async def _channel_reads(w: World) -> None:
    seeded = await w.b("channels")
    own = await w.as_a(
        "{ messageTemplates { id } triggerRules { id } contactRules { caps { limit } } messages { totalCount } }"
    )
    assert own == {
        "messageTemplates": [],
        "triggerRules": [],
        "contactRules": {"caps": []},
        "messages": {"totalCount": 0},
    }
    for query, variables in (
        (
            "query($m: ID!) { memberContact(memberId: $m) { consents { granted } } }",
            {"m": seeded["member"]},
        ),
        ("query($m: ID!) { messages(memberId: $m) { totalCount } }", {"m": seeded["member"]}),
    ):
        body = await w.as_a(query, variables, errors_ok=True)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"], body
    member_a = await w.as_a(
        "mutation($i: CreateMemberInput!) { createMember(input: $i) { member { id } } }",
        {"i": {"name": "Ann", "email": "ann@a.example"}},
    )
    body = await w.as_a(
        "query($t: ID!, $m: ID!) { previewTemplate(templateId: $t, memberId: $m) { body } }",
        {"t": seeded["template"], "m": member_a["createMember"]["member"]["id"]},
        errors_ok=True,
    )
    assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"], body
    events = "{ triggerEvents { name } }"
    assert await w.as_a(events) == await w.as_b(events)


@probe("Query.myConsent", "Mutation.setMyConsent")
async def _my_consent(w: World) -> None:
    # Needs a member token; an API key (of any brand) has no member.
    body = await w.as_a("{ myConsent { consents { granted } } }", errors_ok=True)
    assert body.get("errors") and not (body.get("data") or {}).get("myConsent")
    body = await w.as_a(
        "mutation { setMyConsent(input: {channel: SMS, purpose: MARKETING, granted: false})"
        " { errors { code } } }",
        errors_ok=True,
    )
    assert body.get("errors") and not (body.get("data") or {}).get("setMyConsent")


@probe(
    "Mutation.createMessageTemplate",
    "Mutation.updateMessageTemplate",
    "Mutation.deleteMessageTemplate",
    "Mutation.sendMessage",
    "Mutation.setConsent",
    "Mutation.setDoNotContact",
    "Mutation.setContactRules",
    "Mutation.createTriggerRule",
    "Mutation.updateTriggerRule",
    "Mutation.deleteTriggerRule",
)
async def _channel_writes(w: World) -> None:
    seeded = await w.b("channels")
    ids = {"m": seeded["member"], "t": seeded["template"], "r": seeded["rule"]}
    for document in (
        'updateMessageTemplate(input: {id: $t, body: "x"})',
        "deleteMessageTemplate(input: {id: $t})",
        'sendMessage(input: {memberId: $m, templateId: $t, purpose: TRANSACTIONAL, idempotencyKey: "a"})',
        "setConsent(input: {memberId: $m, channel: SMS, purpose: MARKETING, granted: false})",
        "setDoNotContact(input: {memberId: $m, channel: SMS, blocked: true})",
        'createTriggerRule(input: {event: "member.joined", templateId: $t, purpose: MARKETING})',
        "updateTriggerRule(input: {id: $r, active: false})",
        "deleteTriggerRule(input: {id: $r})",
    ):
        used = [name for name in ("m", "t", "r") if f"${name}" in document]
        head = ", ".join(f"${name}: ID!" for name in used)
        errors = await w.a_errors(
            f"mutation({head}) {{ {document} {{ errors {{ code }} }} }}",
            {name: ids[name] for name in used},
        )
        assert [e["code"] for e in errors] == ["NOT_FOUND"], document
    # A's own template and rules are A's alone.
    for document in (
        'createMessageTemplate(input: {name: "b-welcome", channel: SMS, body: "A"})',
        'setContactRules(input: {caps: [{channel: "sms", limit: 9, hours: 1}]})',
    ):
        assert await w.a_errors(f"mutation {{ {document} {{ errors {{ code }} }} }}", {}) == []
    await _b_channels_unchanged(w, seeded)


# --- campaign probes ------------------------------------------------------------


async def _seed_campaign(w: World) -> dict[str, Any]:
    channels = await w.b("channels")
    segment = await w.b("segment")
    made = await w.as_b(
        'mutation($s: ID!, $t: ID!) { createCampaign(input: {name: "b-winter", segmentId: $s,'
        " templateId: $t}) { campaign { id } errors { code } } }",
        {"s": segment["id"], "t": channels["template"]},
    )
    assert made["createCampaign"]["errors"] == [], made
    return {
        "campaign": made["createCampaign"]["campaign"]["id"],
        "segment": segment["id"],
        "template": channels["template"],
    }


SEEDS["campaign"] = _seed_campaign


@probe("Query.campaigns", "Query.campaign")
async def _campaign_reads(w: World) -> None:
    seeded = await w.b("campaign")
    own = await w.as_a(
        "query($c: ID!) { campaigns { totalCount } campaign(id: $c) { id } }",
        {"c": seeded["campaign"]},
    )
    assert own == {"campaigns": {"totalCount": 0}, "campaign": None}


@probe(
    "Mutation.createCampaign",
    "Mutation.updateCampaign",
    "Mutation.deleteCampaign",
    "Mutation.launchCampaign",
    "Mutation.pauseCampaign",
    "Mutation.resumeCampaign",
    "Mutation.cancelCampaign",
)
async def _campaign_writes(w: World) -> None:
    seeded = await w.b("campaign")
    ids = {"c": seeded["campaign"], "s": seeded["segment"], "t": seeded["template"]}
    for document in (
        'createCampaign(input: {name: "a", segmentId: $s, templateId: $t})',
        'updateCampaign(input: {id: $c, name: "x"})',
        "deleteCampaign(input: {id: $c})",
        "launchCampaign(input: {id: $c})",
        "pauseCampaign(input: {id: $c})",
        "resumeCampaign(input: {id: $c})",
        "cancelCampaign(input: {id: $c})",
    ):
        used = [name for name in ("c", "s", "t") if f"${name}" in document]
        head = ", ".join(f"${name}: ID!" for name in used)
        errors = await w.a_errors(
            f"mutation({head}) {{ {document} {{ errors {{ code }} }} }}",
            {name: ids[name] for name in used},
        )
        assert {e["code"] for e in errors} == {"NOT_FOUND"}, document
    after = await w.as_b(
        "query($c: ID!) { campaign(id: $c) { name status } }", {"c": seeded["campaign"]}
    )
    assert after["campaign"] == {"name": "b-winter", "status": "DRAFT"}
