"""Segments over GraphQL: defining, reading, refreshing, uploading; the
members' lifecycle fields; and the queries they cost."""

from __future__ import annotations

from datetime import UTC, datetime

from tessera.schema.ids import decode_id, encode_id
from tessera.testing import record_database

HZ = {"type": "profile", "field": "city", "in": ["Hangzhou"]}
SEGMENT_FIELDS = """
    id name kind count refreshedAt readsClock rule
    lastRefresh { trigger size entered exited durationMs }
    sizeHistory { size }
    members(first: 10) { totalCount edges { node { id city } } }
"""


async def create(gql, token, name, rule=None, kind="DYNAMIC"):
    data = await gql(
        "mutation($i: CreateSegmentInput!) { createSegment(input: $i) { segment {"
        + SEGMENT_FIELDS
        + "} errors { field message code } } }",
        {"i": {"name": name, "rule": rule, "kind": kind}},
        token=token,
    )
    return data["createSegment"]


async def test_a_segment_is_created_refreshed_and_read_with_its_members(
    brand_a, api_key, gql, make_member
):
    token = await api_key(brand_a, "admin")
    locals_ = [await make_member(brand_a, city="Hangzhou") for _ in range(2)]
    await make_member(brand_a, city="Shanghai")

    created = await create(gql, token, "Hangzhou", HZ)

    assert created["errors"] == []
    segment = created["segment"]
    assert (segment["kind"], segment["count"], segment["rule"]) == ("DYNAMIC", 2, HZ)
    assert segment["lastRefresh"]["trigger"] == "created"
    assert (segment["lastRefresh"]["entered"], segment["lastRefresh"]["exited"]) == (2, 0)
    assert segment["sizeHistory"] == [{"size": 2}]
    assert {e["node"]["id"] for e in segment["members"]["edges"]} == {
        encode_id("Member", m.id) for m in locals_
    }

    data = await gql(
        'query($id: ID!) { members(segmentId: $id, filter: {text: "Member"}) { totalCount } }',
        {"id": segment["id"]},
        token=token,
    )
    assert data["members"]["totalCount"] == 2

    refreshed = await gql(
        "mutation($id: ID!) { refreshSegment(input: {id: $id}) { segment { count "
        "lastRefresh { trigger } sizeHistory { size } } errors { code } } }",
        {"id": segment["id"]},
        token=token,
    )
    assert refreshed["refreshSegment"]["segment"] == {
        "count": 2,
        "lastRefresh": {"trigger": "manual"},
        "sizeHistory": [{"size": 2}, {"size": 2}],
    }


async def test_a_bad_rule_and_a_cycle_come_back_as_user_errors_with_paths(brand_a, api_key, gql):
    token = await api_key(brand_a, "admin")
    bad = await create(gql, token, "Bad", {"all": [HZ, {"type": "stats", "metric": "nope"}]})
    assert bad["segment"] is None
    assert bad["errors"][0]["field"][:5] == ["input", "rule", "all", "1", "metric"]

    a = (await create(gql, token, "A", HZ))["segment"]
    b = (
        await create(gql, token, "B", {"type": "segment", "segment": decode_id(a["id"], "Segment")})
    )["segment"]
    data = await gql(
        "mutation($id: ID!, $r: JSON) { updateSegment(input: {id: $id, rule: $r}) "
        "{ segment { id } errors { field code message } } }",
        {"id": a["id"], "r": {"type": "segment", "segment": decode_id(b["id"], "Segment")}},
        token=token,
    )
    assert data["updateSegment"]["segment"] is None
    assert data["updateSegment"]["errors"][0]["code"] == "CYCLE"
    assert data["updateSegment"]["errors"][0]["field"] == ["input", "rule", "segment"]


async def test_a_list_is_uploaded_through_the_api_with_unmatched_rows_reported(
    brand_a, api_key, gql, make_member
):
    token = await api_key(brand_a, "write", "admin")
    await make_member(brand_a, email="ann@example.com")
    segment = (await create(gql, token, "Newsletter", kind="STATIC"))["segment"]
    assert segment["count"] == 0 and segment["lastRefresh"] is None

    data = await gql(
        "mutation($i: ImportSegmentMembersInput!) { importSegmentMembers(input: $i) {"
        " segment { count } rows matched rejectedCount rejected { line value reason }"
        " refresh { entered exited } errors { code } } }",
        {"i": {"segmentId": segment["id"], "csv": "email\nann@example.com\nzed@example.com\n"}},
        token=token,
    )
    result = data["importSegmentMembers"]
    assert result["errors"] == []
    assert (result["rows"], result["matched"], result["rejectedCount"]) == (2, 1, 1)
    assert result["rejected"] == [
        {"line": 3, "value": "zed@example.com", "reason": "no member has it"}
    ]
    assert result["segment"]["count"] == 1 and result["refresh"] == {"entered": 1, "exited": 0}

    refused = await gql(
        "mutation($id: ID!) { refreshSegment(input: {id: $id}) { errors { code } } }",
        {"id": segment["id"]},
        token=token,
    )
    assert refused["refreshSegment"]["errors"] == [{"code": "STATIC_SEGMENT"}]
    # The refused refresh left the imported member in the list.
    listed = await gql(
        "query($id: ID!) { segment(id: $id) { count } }", {"id": segment["id"]}, token=token
    )
    assert listed["segment"]["count"] == 1


async def test_listing_segments_costs_the_same_queries_for_one_or_many(
    brand_a, api_key, gql, make_member
):
    token = await api_key(brand_a, "admin")
    await make_member(brand_a, city="Hangzhou")
    query = (
        "{ segments(first: 50) { edges { node { name count lastRefresh { size } "
        "sizeHistory { size } } } } }"
    )
    await create(gql, token, "S0", HZ)
    async with record_database() as one:
        await gql(query, token=token)
    for n in range(1, 6):
        await create(gql, token, f"S{n}", HZ)
    async with record_database() as many:
        data = await gql(query, token=token)
    assert len(data["segments"]["edges"]) == 6
    assert len(many.round_trips) == len(one.round_trips)


async def test_members_show_their_lifecycle_stage_and_rfm_through_one_loader(
    brand_a, api_key, gql, make_member, buy, drain_outbox
):
    token = await api_key(brand_a, "read")
    buyers = [await make_member(brand_a) for _ in range(3)]
    for member in buyers:
        await buy(brand_a, member, at=datetime.now(UTC))
    await make_member(brand_a)
    await drain_outbox()

    query = "{ members(first: 10) { edges { node { lifecycleStage rfm { recency frequency } } } } }"
    async with record_database() as counted:
        data = await gql(query, token=token)
    nodes = [e["node"] for e in data["members"]["edges"]]
    assert [n["lifecycleStage"] for n in nodes] == ["NEW"] * 4  # joining counts too
    assert [n["rfm"]["recency"] for n in nodes if n["rfm"]] == [5, 5, 5]
    assert sum('"member_lifecycle"' in q for q in counted.statements) == 1


async def test_a_tag_rule_is_set_through_the_api(brand_a, api_key, gql, make_member):
    token = await api_key(brand_a, "admin")
    member = await make_member(brand_a, city="Hangzhou")
    tag = await gql(
        'mutation { createTag(input: {code: "local", name: "Local"}) { tag { id } } }', token=token
    )
    data = await gql(
        "mutation($t: ID!, $r: JSON) { setTagRule(input: {tagId: $t, rule: $r}) "
        "{ tag { code } rule errors { code } } }",
        {"t": tag["createTag"]["tag"]["id"], "r": HZ},
        token=token,
    )
    assert data["setTagRule"] == {"tag": {"code": "local"}, "rule": HZ, "errors": []}
    tags = await gql(
        "query($id: ID!) { member(id: $id) { tagAssignments { tag { code } source } } }",
        {"id": encode_id("Member", member.id)},
        token=token,
    )
    assert tags["member"]["tagAssignments"] == [{"tag": {"code": "local"}, "source": "RULE"}]
