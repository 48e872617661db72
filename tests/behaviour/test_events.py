"""recordEvent(s): open vocabulary, validated properties, idempotency on the
event id, never joining unknown members, batches, brand walls, the
event.recorded domain event and the member's timeline."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from tessera import DomainEvent, PointsRule, hookimpl
from tessera.behaviour.models import BehaviourEvent
from tessera.behaviour.service import MAX_BATCH, EventInput, record_event, record_events
from tessera.errors import DomainError
from tessera.features.service import set_feature
from tessera.members.models import Member
from tessera.members.scheme import JoinRule, update_settings
from tessera.orders.inputs import MemberRef
from tessera.schema.ids import encode_id
from tessera.scope import BrandScope

RECORD = """
mutation($input: RecordEventInput!) {
  recordEvent(input: $input) {
    replayed
    event { id eventId memberId type occurredAt properties }
    errors { field code message }
  }
}
"""
RECORD_MANY = """
mutation($input: RecordEventsInput!) {
  recordEvents(input: $input) {
    results { index replayed event { eventId } errors { field code } }
    errors { field code }
  }
}
"""


def event_vars(member_id: int, event_id: str = "ev-1", **over: Any) -> dict[str, Any]:
    values = {
        "eventId": event_id,
        "memberId": encode_id("Member", member_id),
        "type": "add_to_cart",
        "occurredAt": "2025-05-01T12:00:00+08:00",
        "properties": {"sku": "TEA-1", "quantity": 2},
    }
    values.update(over)
    return {"input": values}


async def stored(brand) -> int:
    return await BrandScope(brand).query(BehaviourEvent).count()


async def test_record_event_stores_it(brand_a, api_key, gql, make_member):
    member = await make_member(brand_a)
    token = await api_key(brand_a, "write")

    data = (await gql(RECORD, event_vars(member.id), token=token))["recordEvent"]

    assert data["errors"] == [] and data["replayed"] is False
    event = data["event"]
    assert (event["eventId"], event["type"]) == ("ev-1", "add_to_cart")
    assert event["memberId"] == encode_id("Member", member.id)
    assert event["occurredAt"].startswith("2025-05-01T04:00:00")
    assert event["properties"] == {"sku": "TEA-1", "quantity": 2}


async def test_an_event_type_outside_the_common_ones_is_accepted(
    brand_a, api_key, gql, make_member
):
    member = await make_member(brand_a)
    token = await api_key(brand_a, "write")

    data = await gql(RECORD, event_vars(member.id, type="live_stream.watch"), token=token)

    assert data["recordEvent"]["event"]["type"] == "live_stream.watch"


async def test_replay_returns_the_first_event_and_a_changed_one_conflicts(
    brand_a, api_key, gql, make_member
):
    member = await make_member(brand_a)
    token = await api_key(brand_a, "write")
    first = await gql(RECORD, event_vars(member.id), token=token)

    again = await gql(RECORD, event_vars(member.id), token=token)
    changed = await gql(RECORD, event_vars(member.id, type="view"), token=token)

    assert again["recordEvent"]["replayed"] is True
    assert again["recordEvent"]["event"] == first["recordEvent"]["event"]
    assert changed["recordEvent"]["errors"] == [
        {
            "field": ["input", "eventId"],
            "code": "IDEMPOTENCY_CONFLICT",
            "message": "event 'ev-1' was recorded before with other details",
        }
    ]
    assert await stored(brand_a) == 1


async def test_identical_events_racing_are_stored_once(brand_a, make_member):
    member = await make_member(brand_a)
    scope = BrandScope(brand_a)
    event = EventInput("race", MemberRef(member_id=member.id), "view", datetime.now(UTC), {})

    results = await asyncio.gather(*(record_event(scope, event) for _ in range(3)))

    assert sorted(r.replayed for r in results) == [False, True, True]
    assert await stored(brand_a) == 1


async def test_bad_input_names_the_field_and_stores_nothing(brand_a, api_key, gql, make_member):
    member = await make_member(brand_a)
    token = await api_key(brand_a, "write")
    cases = [
        ({"type": "Add To Cart"}, ["input", "type"], "INVALID_TYPE"),
        ({"properties": [1, 2]}, ["input", "properties"], "INVALID_PROPERTIES"),
        ({"properties": {"blob": "x" * 9000}}, ["input", "properties"], "INVALID_PROPERTIES"),
        ({"eventId": ""}, ["input", "eventId"], "REQUIRED"),
        ({"occurredAt": "2999-01-01T00:00:00Z"}, ["input", "occurredAt"], "INVALID_TIME"),
        ({"memberId": encode_id("Member", 10**9)}, ["input", "memberId"], "UNKNOWN_MEMBER"),
        ({"memberId": "not-an-id"}, ["input", "memberId"], "UNKNOWN_MEMBER"),
    ]
    for over, field, code in cases:
        data = (await gql(RECORD, event_vars(member.id, **over), token=token))["recordEvent"]
        assert data["event"] is None, over
        assert [(e["field"], e["code"]) for e in data["errors"]] == [(field, code)], over
    assert await stored(brand_a) == 0


async def test_events_never_create_members_even_under_first_purchase(brand_a, api_key, gql):
    await update_settings(BrandScope(brand_a), join_rule=JoinRule.FIRST_PURCHASE)
    token = await api_key(brand_a, "write")
    unknown = event_vars(0, memberId=None, identity={"kind": "APP_USER_ID", "value": "nobody"})

    data = (await gql(RECORD, unknown, token=token))["recordEvent"]

    assert [(e["field"], e["code"]) for e in data["errors"]] == [
        (["input", "identity"], "UNKNOWN_MEMBER")
    ]
    assert await BrandScope(brand_a).query(Member).count() == 0
    assert await stored(brand_a) == 0


async def test_an_event_by_identity(brand_a, api_key, gql, make_member):
    member = await make_member(brand_a, "known-uid")
    token = await api_key(brand_a, "write")
    by_identity = event_vars(
        0, memberId=None, identity={"kind": "APP_USER_ID", "value": "known-uid"}
    )

    data = (await gql(RECORD, by_identity, token=token))["recordEvent"]

    assert data["event"]["memberId"] == encode_id("Member", member.id)


async def test_brand_a_cannot_record_for_brand_b_member(
    brand_a, brand_b, api_key, gql, make_member
):
    theirs = await make_member(brand_b, "shared-uid")
    token = await api_key(brand_a, "write")

    by_id = await gql(RECORD, event_vars(theirs.id), token=token)
    by_identity = await gql(
        RECORD,
        event_vars(
            0, "ev-2", memberId=None, identity={"kind": "APP_USER_ID", "value": "shared-uid"}
        ),
        token=token,
    )

    assert [e["code"] for e in by_id["recordEvent"]["errors"]] == ["UNKNOWN_MEMBER"]
    assert [e["code"] for e in by_identity["recordEvent"]["errors"]] == ["UNKNOWN_MEMBER"]
    assert await stored(brand_a) == 0 and await stored(brand_b) == 0


async def test_a_batch_reports_each_event_with_its_index(brand_a, api_key, gql, make_member):
    member = await make_member(brand_a)
    token = await api_key(brand_a, "write")
    events = [event_vars(member.id, f"b-{i}")["input"] for i in range(4)]
    events[2]["type"] = "BAD TYPE"
    events[3] = dict(events[0])  # a repeat of item 0 inside the batch

    data = (await gql(RECORD_MANY, {"input": {"events": events}}, token=token))["recordEvents"]

    results = data["results"]
    assert [r["event"] and r["event"]["eventId"] for r in results] == ["b-0", "b-1", None, "b-0"]
    assert [r["replayed"] for r in results] == [False, False, False, True]
    assert results[2]["errors"] == [
        {"field": ["input", "events", "2", "type"], "code": "INVALID_TYPE"}
    ]
    assert await stored(brand_a) == 2


async def test_an_over_limit_batch_is_refused_whole(brand_a, make_member):
    member = await make_member(brand_a)
    now = datetime.now(UTC)
    events = [
        EventInput(f"e-{i}", MemberRef(member_id=member.id), "view", now)
        for i in range(MAX_BATCH + 1)
    ]

    try:
        await record_events(BrandScope(brand_a), events)
    except DomainError as error:
        assert (error.code, error.field) == ("BATCH_TOO_LARGE", ["events"])
    else:
        raise AssertionError("an over-limit batch was accepted")
    assert await stored(brand_a) == 0


class _Rule(PointsRule):
    key = "events_listener_rule"
    title = "Records domain events"

    async def points_for(self, fact: Any) -> int:
        return 0


class _Listener:
    def __init__(self) -> None:
        self.received: list[DomainEvent] = []

    @hookimpl
    def tessera_register_points_rules(self) -> list[type[PointsRule]]:
        return [_Rule]

    @hookimpl
    def tessera_on_event(self, event: DomainEvent) -> None:
        self.received.append(event)


async def test_event_recorded_reaches_plugins(brand_a, api_key, gql, make_member, register_plugin):
    listener = _Listener()
    register_plugin(listener, "events-listener")
    await set_feature(BrandScope(brand_a), _Rule.key, enabled=True)
    member = await make_member(brand_a)
    token = await api_key(brand_a, "write")

    await gql(RECORD, event_vars(member.id), token=token)

    [event] = [e for e in listener.received if e.name == "event.recorded"]
    stored_event = await BrandScope(brand_a).query(BehaviourEvent).get()
    assert event.payload == {
        "event_id": stored_event.id,
        "external_id": "ev-1",
        "member_id": member.id,
        "type": "add_to_cart",
        "occurred_at": "2025-05-01T04:00:00+00:00",
    }


TIMELINE = """
query($id: ID!, $after: String) {
  member(id: $id) {
    events(first: 2, after: $after) {
      totalCount
      edges { node { eventId } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""


async def test_the_member_timeline_is_newest_first_and_pages(brand_a, api_key, gql, make_member):
    member = await make_member(brand_a)
    scope = BrandScope(brand_a)
    for day in (3, 1, 4, 2):
        await record_event(
            scope,
            EventInput(
                f"d{day}",
                MemberRef(member_id=member.id),
                "view",
                datetime(2025, 1, day, tzinfo=UTC),
            ),
        )
    token = await api_key(brand_a, "read")
    member_id = encode_id("Member", member.id)

    first = (await gql(TIMELINE, {"id": member_id}, token=token))["member"]["events"]
    after = first["pageInfo"]["endCursor"]
    second = (await gql(TIMELINE, {"id": member_id, "after": after}, token=token))["member"][
        "events"
    ]

    assert first["totalCount"] == 4
    assert [e["node"]["eventId"] for e in first["edges"]] == ["d4", "d3"]
    assert first["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["eventId"] for e in second["edges"]] == ["d2", "d1"]
    assert second["pageInfo"]["hasNextPage"] is False
