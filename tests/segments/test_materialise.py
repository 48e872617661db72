"""Materialising segments: who entered and who left, counted in SQL, recorded
per refresh, announced to plugins; and members entering as their facts change."""

from __future__ import annotations

from datetime import UTC, datetime

from tessera.members.service import update_member
from tessera.scope import BrandScope
from tessera.segments import service
from tessera.segments.models import SegmentMembership, SegmentRefresh, SegmentSizeHistory
from tessera.segments.service import SegmentKind

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
IN_HANGZHOU = {"type": "profile", "field": "city", "in": ["Hangzhou"]}
BOUGHT = {"type": "stats", "metric": "ordersCount", "min": 1}


async def members_of(segment_id: int) -> set[int]:
    return set(
        await SegmentMembership.filter(segment_id=segment_id).values_list("member_id", flat=True)
    )


async def test_a_refresh_stores_the_matching_members_and_counts_who_entered_and_left(
    brand_a, make_member, events, drain_outbox
):
    scope = BrandScope(brand_a)
    hz = [await make_member(brand_a, city="Hangzhou") for _ in range(3)]
    sh = await make_member(brand_a, city="Shanghai")
    segment = await service.create_segment(scope, "Hangzhou", SegmentKind.DYNAMIC, rule=IN_HANGZHOU)

    first = await service.refresh_segment(scope, segment.id, now=T0)

    assert (first.size, first.entered, first.exited) == (3, 3, 0)
    assert await members_of(segment.id) == {m.id for m in hz}
    entered = events.named("segment.entered")
    assert [(e.payload["segment_id"], sorted(e.payload["member_ids"])) for e in entered] == [
        (segment.id, sorted(m.id for m in hz))
    ]

    # Two move away, one arrives: the second refresh sees the difference only.
    await update_member(scope, hz[0].id, {"city": "Ningbo"})
    await update_member(scope, hz[1].id, {"city": "Ningbo"})
    await update_member(scope, sh.id, {"city": "Hangzhou"})
    await drain_outbox()
    events.received.clear()
    second = await service.refresh_segment(scope, segment.id, now=T0.replace(hour=11))

    assert (second.size, second.entered, second.exited) == (2, 0, 0)  # already applied
    assert await members_of(segment.id) == {hz[2].id, sh.id}
    refreshes = await SegmentRefresh.filter(segment_id=segment.id).order_by("id")
    assert [(r.size, r.entered, r.exited) for r in refreshes] == [(3, 3, 0), (2, 0, 0)]
    assert all(r.duration_ms >= 0 for r in refreshes)
    history = await SegmentSizeHistory.filter(segment_id=segment.id).order_by("recorded_at")
    assert [h.size for h in history] == [3, 2]
    await segment.refresh_from_db()
    assert segment.size == 2


async def test_a_full_refresh_catches_up_on_changes_the_incremental_path_missed(
    brand_a, make_member
):
    scope = BrandScope(brand_a)
    members = [await make_member(brand_a, city="Hangzhou") for _ in range(4)]
    segment = await service.create_segment(scope, "Hangzhou", SegmentKind.DYNAMIC, rule=IN_HANGZHOU)
    await service.refresh_segment(scope, segment.id, now=T0)
    # Written behind the services' back: only a full refresh can notice.
    from tessera.members.models import Member

    await Member.filter(id__in=[members[0].id, members[1].id]).update(city="Suzhou")

    refresh = await service.refresh_segment(scope, segment.id, now=T0.replace(hour=12))

    assert (refresh.size, refresh.entered, refresh.exited) == (2, 0, 2)
    assert await members_of(segment.id) == {members[2].id, members[3].id}


async def test_a_member_enters_a_segment_once_their_order_is_recorded(
    brand_a, make_member, buy, events, drain_outbox
):
    scope = BrandScope(brand_a)
    buyer, other = await make_member(brand_a), await make_member(brand_a)
    segment = await service.create_segment(scope, "Buyers", SegmentKind.DYNAMIC, rule=BOUGHT)
    await service.refresh_segment(scope, segment.id)
    assert await members_of(segment.id) == set()

    await buy(brand_a, buyer, "59.00", at=datetime.now(UTC))
    assert await members_of(segment.id) == set()  # the follow-up work waits in the outbox
    await drain_outbox()

    assert await members_of(segment.id) == {buyer.id}
    await segment.refresh_from_db()
    assert segment.size == 1
    assert [e.payload["member_ids"] for e in events.named("segment.entered")] == [[buyer.id]]
    assert other.id not in await members_of(segment.id)


async def test_a_segment_reading_another_follows_it_incrementally(
    brand_a, make_member, buy, drain_outbox
):
    scope = BrandScope(brand_a)
    member = await make_member(brand_a, city="Hangzhou")
    buyers = await service.create_segment(scope, "Buyers", SegmentKind.DYNAMIC, rule=BOUGHT)
    local_buyers = await service.create_segment(
        scope,
        "Hangzhou buyers",
        SegmentKind.DYNAMIC,
        rule={"all": [IN_HANGZHOU, {"type": "segment", "segment": buyers.id}]},
    )
    for segment in (buyers, local_buyers):
        await service.refresh_segment(scope, segment.id)

    await buy(brand_a, member, at=datetime.now(UTC))
    await drain_outbox()

    assert await members_of(buyers.id) == {member.id}
    assert await members_of(local_buyers.id) == {member.id}


async def test_a_member_enters_a_tag_segment_when_an_operator_tags_them(
    brand_a, make_member, drain_outbox
):
    from tessera.tags.service import create_tag, tag_members, untag_members

    scope = BrandScope(brand_a)
    member = await make_member(brand_a)
    await create_tag(scope, "vip", "VIP")
    segment = await service.create_segment(
        scope, "VIPs", SegmentKind.DYNAMIC, rule={"type": "tags", "has": "any", "codes": ["vip"]}
    )
    await service.refresh_segment(scope, segment.id)

    await tag_members(scope, ["vip"], member_ids=[member.id])
    await drain_outbox()
    assert await members_of(segment.id) == {member.id}

    await untag_members(scope, ["vip"], member_ids=[member.id])
    await drain_outbox()
    assert await members_of(segment.id) == set()
