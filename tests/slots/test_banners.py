"""Banner slots end to end through GraphQL: creatives by audience, window
and priority, A/B splits, fallbacks, bad input, deleted segments, events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from documents import CREATE, RESOLVE, creative

from tessera.schema.ids import encode_id
from tessera.scope import BrandScope
from tessera.segments.models import SegmentMembership
from tessera.segments.service import SegmentKind, create_segment, delete_segment
from tessera.tags.service import create_tag, tag_members


async def _create(gql: Any, token: str, **values: Any) -> dict[str, Any]:
    payload = (await gql(CREATE, {"i": creative(**values)}, token=token))["createSlotCreative"]
    assert payload["errors"] == [], payload
    return payload["creative"]


async def _shown(gql: Any, token: str, member: str | None = None) -> list[str]:
    data = await gql(RESOLVE, {"k": "home_top", "m": member}, token=token)
    return [e["banner"]["title"] for e in data["slot"]["entries"]]


async def test_highest_priority_audience_wins_and_fallback_catches_the_rest(
    brand_a, banner_slot, api_key, gql, person
):
    token = await api_key(brand_a, "manage")
    scope = BrandScope(brand_a)
    await create_tag(scope, "vip", "VIP")
    vip, plain = await person(brand_a), await person(brand_a)
    await tag_members(scope, ["vip"], member_ids=[vip.pk])
    await _create(gql, token, title="Fallback", fallback=True)
    await _create(
        gql, token, title="For VIPs", priority=10, audience={"kind": "TAGS", "values": ["vip"]}
    )
    await _create(gql, token, title="For everyone", priority=5)
    await _create(
        gql,
        token,
        title="Later",
        priority=100,
        startsAt=(datetime.now(UTC) + timedelta(days=1)).isoformat(),
    )

    assert await _shown(gql, token, vip.id) == ["For VIPs"]
    assert await _shown(gql, token, plain.id) == ["For everyone"]

    member_token = (
        await gql(
            "mutation($m: ID!) { issueMemberToken(input: {memberId: $m}) { token } }",
            {"m": vip.id},
            token=await api_key(brand_a, "write"),
        )
    )["issueMemberToken"]["token"]
    assert await _shown(gql, member_token) == ["For VIPs"]


async def test_a_banner_view_takes_three_round_trips_and_shows_a_changed_creative_at_once(
    brand_a, banner_slot, api_key, gql, person, assert_round_trips
):
    token = await api_key(brand_a, "manage")
    member = await person(brand_a)
    member_token = (
        await gql(
            "mutation($m: ID!) { issueMemberToken(input: {memberId: $m}) { token } }",
            {"m": member.id},
            token=await api_key(brand_a, "write"),
        )
    )["issueMemberToken"]["token"]
    shown = await _create(gql, token, title="Before", priority=5)
    assert await _shown(gql, member_token) == ["Before"]  # warms this process's slot
    # The token's member with its brand; one statement (the slot's config,
    # the member and every fact an audience may use); the creatives.
    async with assert_round_trips(3):
        assert await _shown(gql, member_token) == ["Before"]
    changed = await gql(
        "mutation($i: UpdateSlotCreativeInput!) { updateSlotCreative(input: $i) "
        "{ errors { code } } }",
        {"i": {"id": shown["id"], "title": "After"}},
        token=token,
    )
    assert changed["updateSlotCreative"]["errors"] == []
    assert await _shown(gql, member_token) == ["After"]
    await _create(gql, token, title="Higher", priority=9)
    assert await _shown(gql, member_token) == ["Higher"]


async def test_fallback_when_nothing_fits(brand_a, banner_slot, api_key, gql, person):
    token = await api_key(brand_a, "manage")
    await create_tag(BrandScope(brand_a), "vip", "VIP")
    member = await person(brand_a)
    await _create(gql, token, title="Fallback", fallback=True)
    await _create(gql, token, title="VIP", audience={"kind": "TAGS", "values": ["vip"]})
    data = await gql(RESOLVE, {"k": "home_top", "m": member.id}, token=token)
    assert [(e["banner"]["title"], e["reason"]) for e in data["slot"]["entries"]] == [
        ("Fallback", "fallback")
    ]


async def test_window_in_the_brands_timezone(brand_a, banner_slot, api_key, gql):
    token = await api_key(brand_a, "manage")
    # Brand A is Asia/Shanghai (UTC+8): a naive 08:00 is 00:00 UTC.
    made = await _create(gql, token, startsAt="2030-01-01T08:00:00", endsAt="2030-01-02T08:00:00")
    assert made["startsAt"].startswith("2030-01-01T00:00:00")
    query = 'query($at: DateTime) { previewSlot(key: "home_top", at: $at) { entries { banner { title } } } }'
    before = await gql(query, {"at": "2029-12-31T23:59:00+00:00"}, token=token)
    inside = await gql(query, {"at": "2030-01-01T00:00:00+00:00"}, token=token)
    after = await gql(query, {"at": "2030-01-02T00:00:00+00:00"}, token=token)
    assert [len(r["previewSlot"]["entries"]) for r in (before, inside, after)] == [0, 1, 0]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"imageUrl": "javascript:alert(1)"}, (["input", "imageUrl"], "UNSAFE_URL")),
        ({"link": "javascript:alert(1)"}, (["input", "link"], "UNSAFE_URL")),
        ({"imageUrl": "data:image/png;base64,AAAA"}, (["input", "imageUrl"], "UNSAFE_URL")),
        ({"altText": "  "}, (["input", "altText"], "REQUIRED")),
        ({"title": ""}, (["input", "title"], "REQUIRED")),
        ({"splitWeight": 0}, (["input", "splitWeight"], "OUT_OF_RANGE")),
        (
            {"startsAt": "2030-01-02T00:00:00Z", "endsAt": "2030-01-01T00:00:00Z"},
            (["input", "endsAt"], "INVALID"),
        ),
        (
            {"audience": {"kind": "TAGS", "values": ["nope"]}},
            (["input", "audience", "values"], "NOT_FOUND"),
        ),
        (
            {"audience": {"kind": "LIFECYCLE", "values": ["bored"]}},
            (["input", "audience", "values"], "NOT_FOUND"),
        ),
        ({"slot": "nowhere"}, (["input", "slot"], "NOT_FOUND")),
    ],
)
async def test_bad_input_is_refused_naming_the_field(
    brand_a, banner_slot, api_key, gql, values, expected
):
    token = await api_key(brand_a, "manage")
    payload = (await gql(CREATE, {"i": creative(**values)}, token=token))["createSlotCreative"]
    assert payload["creative"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [expected]
    listed = await gql('{ slotCreatives(slot: "home_top") { id } }', token=token)
    assert listed["slotCreatives"] == []


async def test_deleted_segment_refused_at_save_and_hidden_with_last_error_later(
    brand_a, banner_slot, api_key, gql, person
):
    token = await api_key(brand_a, "manage")
    scope = BrandScope(brand_a)
    member = await person(brand_a)
    segment = await create_segment(scope, "Hand picked", SegmentKind.STATIC)
    await scope.create(
        SegmentMembership, segment_id=segment.id, member_id=member.pk, entered_at=datetime.now(UTC)
    )
    gone = await create_segment(scope, "Gone", SegmentKind.STATIC)
    await delete_segment(scope, gone.id)

    refused = (
        await gql(
            CREATE,
            {
                "i": creative(
                    audience={"kind": "SEGMENT", "segmentId": encode_id("Segment", gone.id)}
                )
            },
            token=token,
        )
    )["createSlotCreative"]
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [
        (["input", "audience", "segmentId"], "NOT_FOUND")
    ]

    await _create(gql, token, title="Fallback", fallback=True)
    await _create(
        gql,
        token,
        title="Picked",
        priority=5,
        audience={"kind": "SEGMENT", "segmentId": encode_id("Segment", segment.id)},
    )
    assert await _shown(gql, token, member.id) == ["Picked"]
    slots = await gql("{ slots { key kind lastError } }", token=token)
    assert slots["slots"] == [{"key": "home_top", "kind": "slots.banner", "lastError": None}]

    await delete_segment(scope, segment.id)
    assert await _shown(gql, token, member.id) == ["Fallback"]
    error = (await gql("{ slots { lastError } }", token=token))["slots"][0]["lastError"]
    assert f"deleted segments {segment.id}" in error


async def test_ab_split_is_fixed_per_member_and_results_have_intervals(
    brand_a, banner_slot, api_key, gql, person
):
    token = await api_key(brand_a, "manage")
    a = await _create(gql, token, title="A", splitGroup="hero", priority=1)
    b = await _create(gql, token, title="B", splitGroup="hero", priority=1)
    members = [await person(brand_a) for n in range(24)]
    first = [await _shown(gql, token, m.id) for m in members]
    again = [await _shown(gql, token, m.id) for m in members]
    assert first == again
    assert {t for (t,) in first} == {"A", "B"}

    record = """mutation($i: RecordSlotEventsInput!) {
      recordSlotEvents(input: $i) { recorded replayed errors { field code } } }"""
    events = [
        {
            "eventId": f"i-{n}",
            "slot": "home_top",
            "kind": "IMPRESSION",
            "creativeId": a["id"],
            "memberId": members[0].id,
        }
        for n in range(10)
    ] + [
        {
            "eventId": "c-1",
            "slot": "home_top",
            "kind": "CLICK",
            "creativeId": a["id"],
            "memberId": members[0].id,
        }
    ]
    writer = await api_key(brand_a, "write")
    done = (await gql(record, {"i": {"events": events}}, token=writer))["recordSlotEvents"]
    assert (done["recorded"], done["replayed"], done["errors"]) == (11, 0, [])
    again_done = (await gql(record, {"i": {"events": events}}, token=writer))["recordSlotEvents"]
    assert (again_done["recorded"], again_done["replayed"]) == (0, 11)

    results = (
        await gql(
            '{ slotResults(slot: "home_top") { creativeId impressions clicks clickThrough low high } }',
            token=token,
        )
    )["slotResults"]
    by_id = {r["creativeId"]: r for r in results}
    assert (by_id[a["id"]]["impressions"], by_id[a["id"]]["clicks"]) == (10, 1)
    assert by_id[a["id"]]["clickThrough"] == pytest.approx(0.1)
    assert 0 < by_id[a["id"]]["low"] < 0.1 < by_id[a["id"]]["high"] < 1
    assert by_id[b["id"]]["impressions"] == 0


async def test_bad_events_refuse_the_batch(brand_a, banner_slot, api_key, gql):
    token = await api_key(brand_a, "write")
    record = """mutation($i: RecordSlotEventsInput!) {
      recordSlotEvents(input: $i) { recorded errors { field code } } }"""
    payload = (
        await gql(
            record,
            {
                "i": {
                    "events": [
                        {"eventId": "ok-1", "slot": "home_top", "kind": "IMPRESSION"},
                        {"eventId": "bad id!", "slot": "elsewhere", "kind": "CLICK"},
                    ]
                }
            },
            token=token,
        )
    )["recordSlotEvents"]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        (["input", "events", "1", "eventId"], "INVALID"),
        (["input", "events", "1", "slot"], "NOT_FOUND"),
    ]
    assert payload["recorded"] == 0


async def test_unknown_slot_and_foreign_member(brand_a, brand_b, banner_slot, api_key, gql, person):
    token = await api_key(brand_a, "read")
    stranger = await person(brand_b)
    for variables in ({"k": "nowhere", "m": None}, {"k": "home_top", "m": stranger.id}):
        body = await gql(RESOLVE, variables, token=token, errors_ok=True)
        assert body["data"] is None or body["data"]["slot"] is None
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
