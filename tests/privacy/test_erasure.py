"""Erasure keeps the books and leaves no personal value anywhere."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from scan import find_anywhere

from tessera.assets.verify import verify_brand
from tessera.audit import service as audit
from tessera.audit.models import AuditLogEntry
from tessera.behaviour.service import EventInput, record_events
from tessera.errors import DomainError
from tessera.members import service as members
from tessera.members.models import Member
from tessera.members.scheme import JoinRule, update_settings
from tessera.orders.inputs import LineInput, MemberRef, OrderInput
from tessera.orders.models import MemberStats, Order, Refund
from tessera.orders.money import MoneyAmount
from tessera.pipeline.orders import record_order
from tessera.privacy.erasure import ErasureReason, erase_member, set_legal_hold
from tessera.privacy.identities import identity_values
from tessera.privacy.models import ErasedIdentity
from tessera.scope import Actor, BrandScope
from tessera.webhooks.models import WebhookDelivery, WebhookSubscription


async def totals(scope: BrandScope) -> tuple[object, ...]:
    """What the brand's reports add up: sales, refunds, per-member statistics."""
    orders = await scope.query(Order).all()
    refunds = await scope.query(Refund).all()
    stats = (
        await scope.query(MemberStats)
        .order_by("member_id")
        .values_list("member_id", "orders_count", "gross_spent", "refunded_total")
    )
    return (
        len(orders),
        sum(o.amount_paid for o in orders),
        sum(o.units for o in orders),
        sum(r.amount for r in refunds),
        stats,
    )


async def personal_values(scope: BrandScope, member: Member) -> set[str]:
    identities = await identity_values(scope, member.id)
    values = {member.name, member.phone, member.email, member.external_id, member.card_number}
    values |= {i.value for i in identities}
    return {v for v in values if v}


async def logs_quoting(scope: BrandScope, member: Member) -> None:
    """The log rows a real history leaves with personal values in them."""
    await audit.record(
        scope, "createMember", "ok", {"input": {"name": member.name, "phone": member.phone}}
    )
    subscription = await scope.create(
        WebhookSubscription, url="https://example.com/hook", event_types=["*"], secrets="x"
    )
    await scope.create(
        WebhookDelivery,
        delivery_id="00000000-0000-0000-0000-000000000001",
        subscription_id=subscription.id,
        event_type="member.joined",
        payload={"data": {"member_id": member.id, "card_number": member.card_number}},
    )


@pytest.mark.parametrize("seed", [1, 2])
async def test_erasure_leaves_no_personal_value_and_keeps_the_books(brand_a, rich_member, seed):
    rich = await rich_member(brand_a, seed)
    scope, member = rich.scope, rich.member
    values = await personal_values(scope, member)
    assert member.phone and member.email and member.external_id and member.card_number
    other = await scope.query(Member).get(id=rich.others[0])
    await logs_quoting(scope, member)
    await audit.record(scope, "createMember", "ok", {"input": {"phone": other.phone}})
    assert await find_anywhere(values)  # the scan sees them before
    books = await totals(scope)
    identities = len(await identity_values(scope, member.id))
    assert [p async for p in verify_brand(scope)] == []

    erased = await erase_member(
        scope.acting_as(Actor("admin_user", "7")), member.id, ErasureReason.MEMBER_REQUEST
    )

    assert erased.status == "erased"
    assert await find_anywhere(values) == []
    assert await totals(scope) == books
    assert [p async for p in verify_brand(scope)] == []
    # Other members keep theirs, in the log too.
    assert await find_anywhere({other.phone}) != []
    assert await members.find_by_identity(scope, "phone", other.phone) is not None
    for kind, value in (("phone", member.phone), ("email", member.email)):
        assert await members.find_by_identity(scope, kind, value) is None
    assert await scope.query(ErasedIdentity).count() == identities
    entry = await scope.query(AuditLogEntry).filter(action="member.erased").get()
    assert entry.details == {"member_id": member.id, "reason": "member_request"}
    assert entry.actor_kind == "admin_user" and entry.actor_id == "7"


async def test_later_facts_do_not_bring_the_person_back(brand_a, rich_member):
    rich = await rich_member(brand_a, 5)
    scope, member = rich.scope, rich.member
    await update_settings(scope, join_rule=JoinRule.FIRST_PURCHASE)
    phone = member.phone
    assert phone is not None
    await erase_member(scope, member.id, ErasureReason.CONSENT_WITHDRAWN)
    members_before = await scope.query(Member).count()

    def order(external_id: str, ref: MemberRef) -> OrderInput:
        money = MoneyAmount(Decimal("12.00"), brand_a.currency)
        return OrderInput(
            external_id,
            ref,
            datetime.now(UTC),
            money,
            lines=[LineInput("SKU-1", 1, money)],
        )

    with pytest.raises(DomainError) as by_phone:
        await record_order(scope, order("after-1", MemberRef(None, "phone", phone)))
    assert by_phone.value.code == "ERASED_IDENTITY"
    with pytest.raises(DomainError) as by_id:
        await record_order(scope, order("after-2", MemberRef(member_id=member.id)))
    assert by_id.value.code == "MEMBER_ERASED"
    [event] = await record_events(
        scope,
        [EventInput("after-ev", MemberRef(member_id=member.id), "page.view", datetime.now(UTC))],
    )
    assert isinstance(event, DomainError) and event.code == "UNKNOWN_MEMBER"
    with pytest.raises(DomainError) as edit:
        await members.update_member(scope, member.id, {"name": "Back again"})
    assert edit.value.code == "MEMBER_ERASED"
    assert await scope.query(Member).count() == members_before
    assert await scope.query(Order).filter(external_id__startswith="after-").count() == 0

    # Joining again is the person's own act: a new member, nothing of the old one.
    again = await members.create_member(scope, {"phone": phone, "name": "New start"})
    assert again.id != member.id
    result = await record_order(scope, order("after-3", MemberRef(None, "phone", phone)))
    assert result.order.member_id == again.id


async def test_legal_hold_blocks_erasure_until_cleared(brand_a, rich_member):
    rich = await rich_member(brand_a, 7)
    scope, member = rich.scope, rich.member
    with pytest.raises(DomainError) as no_reason:
        await set_legal_hold(scope, member.id, True, "  ")
    assert no_reason.value.code == "REQUIRED"
    hold = await set_legal_hold(scope, member.id, True, "case 2025-17")
    assert hold is not None and hold.reason == "case 2025-17"

    with pytest.raises(DomainError) as held:
        await erase_member(scope, member.id, ErasureReason.MEMBER_REQUEST)
    assert held.value.code == "LEGAL_HOLD"
    assert (await scope.query(Member).get(id=member.id)).name == member.name

    assert await set_legal_hold(scope, member.id, False) is None
    await erase_member(scope, member.id, ErasureReason.MEMBER_REQUEST)
    with pytest.raises(DomainError) as twice:
        await erase_member(scope, member.id, ErasureReason.MEMBER_REQUEST)
    assert twice.value.code == "ALREADY_ERASED"


async def test_erasure_emits_member_erased_without_personal_data(
    brand_a, rich_member, record_events
):
    log = await record_events(brand_a)
    rich = await rich_member(brand_a, 9)
    await erase_member(rich.scope, rich.member.id, ErasureReason.OTHER)
    [event] = log.named("member.erased")
    assert event.payload == {"member_id": rich.member.id, "reason": "other"}


async def test_another_brand_cannot_erase(brand_a, brand_b, rich_member):
    rich = await rich_member(brand_a, 11)
    with pytest.raises(DomainError) as refused:
        await erase_member(BrandScope(brand_b), rich.member.id, ErasureReason.OTHER)
    assert refused.value.code == "NOT_FOUND"
    assert (await rich.scope.query(Member).get(id=rich.member.id)).status != "erased"


async def test_an_import_does_not_bring_an_erased_person_back(brand_a, tmp_path):
    import csv

    from tessera.importing.csv_rows import CsvSource
    from tessera.importing.members import check_header, import_members
    from tessera.importing.rejects import RejectsFile
    from tessera.members.attributes import definitions_by_key

    scope = BrandScope(brand_a)
    gone = await members.create_member(scope, {"name": "Gone", "phone": "+8613811112222"})
    await erase_member(scope, gone.id, ErasureReason.MEMBER_REQUEST)
    path = tmp_path / "members.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["external_id", "name", "phone"])
        writer.writerow(["old-1", "Gone again", "138 1111 2222"])
        writer.writerow(["old-2", "Someone else", "138 3333 4444"])
    source = CsvSource(path)
    check_header(source.header, await definitions_by_key(scope))
    with RejectsFile(tmp_path / "rejects.csv", source.header) as rejects:
        report = await import_members(scope, source, rejects)

    assert (report.created, report.rejected) == (1, 1)
    assert await members.find_by_identity(scope, "phone", "+8613811112222") is None
    assert await members.find_by_identity(scope, "phone", "+8613833334444") is not None
    assert "erased" in (tmp_path / "rejects.csv").read_text()


async def test_no_segment_or_lifecycle_profiles_an_erased_member(brand_a, rich_member):
    from tessera.segments.lifecycle import recompute_brand
    from tessera.segments.models import MemberLifecycle, SegmentMembership
    from tessera.segments.service import SegmentKind, create_segment, refresh_segment

    rich = await rich_member(brand_a, 12)
    scope = rich.scope
    segment = await create_segment(
        scope,
        "Everyone",
        SegmentKind.DYNAMIC,
        rule={"type": "stats", "metric": "ordersCount", "min": 0},
    )
    await erase_member(scope, rich.member.id, ErasureReason.MEMBER_REQUEST)
    await refresh_segment(scope, segment.id)
    await recompute_brand(scope)

    in_segment = await scope.query(SegmentMembership).filter(segment_id=segment.id)
    assert {m.member_id for m in in_segment} == set(rich.others)
    assert not await scope.query(MemberLifecycle).filter(member_id=rich.member.id).exists()
    assert await scope.query(MemberLifecycle).count() == len(rich.others)


async def test_the_books_go_on_after_an_erasure(brand_a, rich_member):
    """A refund of an erased member's order is bookkeeping, not a fact about
    the person: it is recorded, and the ledger still verifies."""
    from tessera.orders.inputs import RefundInput
    from tessera.orders.refunds import record_refund

    rich = await rich_member(brand_a, 13)
    scope = rich.scope
    order = (
        await scope.query(Order)
        .filter(member_id=rich.member.id, refunded_amount=0)
        .order_by("id")
        .first()
    )
    assert order is not None
    await erase_member(scope, rich.member.id, ErasureReason.MEMBER_REQUEST)

    result = await record_refund(
        scope, RefundInput("refund-after-erasure", datetime.now(UTC), order_id=order.id)
    )

    assert result.refund.member_id == rich.member.id
    stats = await scope.query(MemberStats).get(member_id=rich.member.id)
    assert stats.refunded_total >= order.amount_paid
    assert [p async for p in verify_brand(scope)] == []


async def test_erasing_a_merged_pair_scrubs_the_merge_record_and_ends_its_undo(brand_a):
    from tessera.members import merge
    from tessera.members.models import DuplicateCandidate, MemberMerge

    scope = BrandScope(brand_a)
    kept = await members.create_member(scope, {"name": "Kept Li", "phone": "13800138011"})
    gone = await members.create_member(scope, {"name": "Gone Wang", "email": "gone@example.com"})
    await scope.create(
        DuplicateCandidate,
        member_id=kept.id,
        other_id=gone.id,
        reason="name_birthday",
        found_at=kept.joined_at,
    )
    done = await merge.merge_members(scope, kept.id, gone.id, idempotency_key="m")
    assert done.conflicts  # the names differed: "Gone Wang" is quoted in the record
    await erase_member(scope, kept.id, ErasureReason.MEMBER_REQUEST)
    record = await scope.get(MemberMerge, done.merge.id)
    assert record is not None and record.conflicts == [] and record.previous == {}
    assert not await scope.query(DuplicateCandidate).exists()
    assert await merge.undo_blocker(scope, record) == "the member's personal data was erased since"
    other = await members.create_member(scope, {"name": "Other", "email": "o@example.com"})
    with pytest.raises(DomainError) as refused:
        await merge.merge_members(scope, other.id, kept.id, idempotency_key="m2")
    assert (refused.value.code, refused.value.field) == ("MEMBER_ERASED", ["mergedId"])
