"""The message log, consents and do-not-contact under the member's rights and
the brand's housekeeping: retention prunes settled messages, erasure leaves
none of them, a member merge moves them to the survivor (never losing a
do-not-contact) and its undo moves them back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tessera.channels import service
from tessera.channels.models import (
    Channel,
    ChannelConsent,
    DoNotContact,
    DoNotContactReason,
    Message,
    MessageStatus,
    Purpose,
)
from tessera.members.merge import merge_members, undo_merge
from tessera.privacy import retention
from tessera.privacy.erasure import ErasureReason, erase_member
from tessera.privacy.settings import update_settings
from tessera.scope import BrandScope

NOW = datetime(2026, 6, 1, tzinfo=UTC)


async def _message(scope: BrandScope, member_id: int, status: MessageStatus, days: int) -> None:
    at = NOW - timedelta(days=days)
    row = await scope.create(
        Message,
        member_id=member_id,
        channel=Channel.SMS,
        purpose=Purpose.TRANSACTIONAL,
        source="api",
        idempotency_key=f"{status.value}-{days}",
        status=status,
        send_after=at,
    )
    await scope.query(Message).filter(id=row.id).update(created_at=at)


async def test_retention_prunes_settled_messages_only(brand_a: Any, new_member: Any) -> None:
    scope = BrandScope(brand_a)
    member = await new_member(brand_a, name="Ann", phone="+8613800000001")
    for status in (MessageStatus.DELIVERED, MessageStatus.HELD, MessageStatus.QUEUED):
        await _message(scope, member.pk, status, 90)
    await _message(scope, member.pk, MessageStatus.DELIVERED, 1)
    await update_settings(scope, {"message_log_days": 30})
    report = await retention.run_retention(scope, NOW)
    assert report.message_logs == 2
    left = await scope.query(Message).values_list("status", "idempotency_key")
    assert sorted(left) == [("delivered", "delivered-1"), ("queued", "queued-90")]


async def _contact(scope: BrandScope, member_id: int, granted: bool, days: int = 2) -> None:
    await _message(scope, member_id, MessageStatus.DELIVERED, days)
    await service.set_consent(scope, member_id, Channel.EMAIL, Purpose.MARKETING, granted, "api")


async def test_erasure_leaves_no_message_consent_or_do_not_contact(
    brand_a: Any, new_member: Any
) -> None:
    scope = BrandScope(brand_a)
    member = await new_member(brand_a, name="Ann", phone="+8613800000001")
    await _contact(scope, member.pk, True)
    await service.add_do_not_contact(scope, member.pk, Channel.SMS, DoNotContactReason.MANUAL)
    await erase_member(scope, member.pk, ErasureReason.MEMBER_REQUEST)
    for model in (Message, ChannelConsent, DoNotContact):
        assert not await scope.query(model).filter(member_id=member.pk).exists(), model


async def test_a_merge_moves_them_keeping_the_survivors_word_and_undo_moves_them_back(
    brand_a: Any, new_member: Any
) -> None:
    scope = BrandScope(brand_a)
    survivor = await new_member(brand_a, name="Ann", phone="+8613800000001")
    merged = await new_member(brand_a, name="Ann L", phone="+8613800000002")
    await _contact(scope, survivor.pk, False)
    await _contact(scope, merged.pk, True, days=3)
    # Under a key the survivor has too: it stays the tombstone's (unique per member).
    await _message(scope, merged.pk, MessageStatus.DELIVERED, 2)
    await service.add_do_not_contact(scope, merged.pk, Channel.SMS, DoNotContactReason.BOUNCED)

    done = await merge_members(scope, survivor.pk, merged.pk, idempotency_key="m")
    assert await scope.query(Message).filter(member_id=survivor.pk).count() == 2
    [consent] = await service.consents(scope, survivor.pk)
    assert consent.granted is False  # the survivor's own word stands
    [blocked] = await service.do_not_contact(scope, survivor.pk)
    assert (blocked.channel, blocked.reason) == (Channel.SMS, DoNotContactReason.BOUNCED)

    await undo_merge(scope, done.merge.id)
    assert await scope.query(Message).filter(member_id=merged.pk).count() == 2
    assert not await service.do_not_contact(scope, survivor.pk)
    assert [c.granted for c in await service.consents(scope, merged.pk)] == [True]
