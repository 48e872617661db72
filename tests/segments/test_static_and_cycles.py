"""Static segments (snapshots and uploaded lists) and refusing cycles."""

from __future__ import annotations

import pytest

from tessera.errors import DomainError
from tessera.members.service import update_member
from tessera.scope import BrandScope
from tessera.segments import imports, service
from tessera.segments.models import SegmentMembership
from tessera.segments.service import SegmentKind

IN_HANGZHOU = {"type": "profile", "field": "city", "in": ["Hangzhou"]}


async def members_of(segment_id: int) -> set[int]:
    return set(
        await SegmentMembership.filter(segment_id=segment_id).values_list("member_id", flat=True)
    )


async def test_an_uploaded_list_stores_the_matched_members_and_reports_the_rest(
    brand_a, make_member
):
    scope = BrandScope(brand_a)
    alice = await make_member(brand_a, phone="+8613800138000")
    bob = await make_member(brand_a, email="bob@example.com")
    segment = await service.create_segment(scope, "Fair visitors", SegmentKind.STATIC)
    csv = (
        "kind,value\n"
        "phone,138 0013 8000\n"  # normalised like on writes
        "email,BOB@example.com\n"
        "email,nobody@example.com\n"
        "phone,not a phone\n"
        "fax,123\n"
    )

    result = await imports.import_list(scope, segment.id, csv)

    assert (result.rows, result.matched, result.rejected_count) == (5, 2, 3)
    assert [(r.line, r.reason) for r in result.rejected] == [
        (5, "'not a phone' is not a valid phone number"),
        (6, "unknown identity kind 'fax'"),
        (4, "no member has it"),
    ]
    assert await members_of(segment.id) == {alice.id, bob.id}
    assert result.refresh is not None
    assert (result.refresh.entered, result.refresh.exited, result.refresh.size) == (2, 0, 2)

    # A second list replaces the first; "add" keeps what is there.
    replaced = await imports.import_list(scope, segment.id, "email\nbob@example.com\n")
    assert (replaced.refresh.entered, replaced.refresh.exited) == (0, 1)
    assert await members_of(segment.id) == {bob.id}
    await imports.import_list(scope, segment.id, "phone\n+8613800138000\n", add=True)
    assert await members_of(segment.id) == {alice.id, bob.id}


async def test_a_list_with_a_bad_header_changes_nothing(brand_a, make_member):
    scope = BrandScope(brand_a)
    segment = await service.create_segment(scope, "List", SegmentKind.STATIC)
    with pytest.raises(DomainError) as caught:
        await imports.import_list(scope, segment.id, "telephone\n123\n")
    assert caught.value.field == ["csv"]
    assert await members_of(segment.id) == set()


async def test_a_static_snapshot_is_frozen_after_it_is_taken(brand_a, make_member):
    scope = BrandScope(brand_a)
    member = await make_member(brand_a, city="Hangzhou")
    segment = await service.create_segment(
        scope, "Hangzhou in March", SegmentKind.STATIC, rule=IN_HANGZHOU
    )
    await service.refresh_segment(scope, segment.id)
    later = await make_member(brand_a, city="Hangzhou")
    await update_member(scope, member.id, {"city": "Ningbo"})

    with pytest.raises(DomainError) as caught:
        await service.refresh_segment(scope, segment.id)
    assert caught.value.code == "STATIC_SEGMENT"
    assert await members_of(segment.id) == {member.id}
    assert later.id not in await members_of(segment.id)


async def test_a_dynamic_segment_takes_no_uploaded_list(brand_a):
    scope = BrandScope(brand_a)
    segment = await service.create_segment(scope, "Local", SegmentKind.DYNAMIC, rule=IN_HANGZHOU)
    with pytest.raises(DomainError) as caught:
        await imports.import_list(scope, segment.id, "phone\n+8613800138000\n")
    assert (caught.value.code, caught.value.field) == ("DYNAMIC_SEGMENT", ["segmentId"])


async def test_segments_reading_each_other_in_a_circle_are_refused(brand_a):
    scope = BrandScope(brand_a)
    a = await service.create_segment(scope, "A", SegmentKind.DYNAMIC, rule=IN_HANGZHOU)
    b = await service.create_segment(
        scope, "B", SegmentKind.DYNAMIC, rule={"type": "segment", "segment": a.id}
    )
    c = await service.create_segment(
        scope, "C", SegmentKind.DYNAMIC, rule={"not": {"type": "segment", "segment": b.id}}
    )

    with pytest.raises(DomainError) as caught:
        await service.update_segment(
            scope, a.id, {"rule": {"all": [IN_HANGZHOU, {"type": "segment", "segment": c.id}]}}
        )
    assert caught.value.code == "CYCLE"
    assert caught.value.field == ["rule", "all", "1", "segment"]
    assert "A" in caught.value.message and "C" in caught.value.message
    with pytest.raises(DomainError) as itself:
        await service.update_segment(scope, a.id, {"rule": {"type": "segment", "segment": a.id}})
    assert itself.value.code == "CYCLE"
    await a.refresh_from_db()
    assert a.rule == IN_HANGZHOU and a.depends_on == []


async def test_a_segment_read_by_another_cannot_be_deleted(brand_a):
    scope = BrandScope(brand_a)
    a = await service.create_segment(scope, "A", SegmentKind.DYNAMIC, rule=IN_HANGZHOU)
    await service.create_segment(
        scope, "B", SegmentKind.DYNAMIC, rule={"type": "segment", "segment": a.id}
    )
    with pytest.raises(DomainError) as caught:
        await service.delete_segment(scope, a.id)
    assert caught.value.code == "IN_USE" and "B" in caught.value.message


async def test_a_rule_naming_another_brands_segment_is_refused(brand_a, brand_b):
    theirs = await service.create_segment(
        BrandScope(brand_b), "Theirs", SegmentKind.DYNAMIC, rule=IN_HANGZHOU
    )
    with pytest.raises(DomainError) as caught:
        await service.create_segment(
            BrandScope(brand_a),
            "Mine",
            SegmentKind.DYNAMIC,
            rule={"type": "segment", "segment": theirs.id},
        )
    assert caught.value.field[:1] == ["rule"]
