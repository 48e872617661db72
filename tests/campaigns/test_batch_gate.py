"""The gate's set-based decision for a campaign batch gives every member the
same decision (status, reason, send_after) as the one-member gate does: the
same members in two brands, one decided message by message, the other as
one batch."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tessera.campaigns import sending, service
from tessera.campaigns.models import Campaign, CampaignRecipient
from tessera.channels import gate
from tessera.channels import service as channels
from tessera.channels.models import (
    Channel,
    DoNotContactReason,
    Message,
    MessageStatus,
    Purpose,
)
from tessera.scope import BrandScope
from tessera.uow import unit_of_work

# What each member is, by index: (has an address, do-not-contact, consent
# recorded, earlier marketing messages on the channel within the cap window).
KINDS: list[tuple[bool, DoNotContactReason | None, bool | None, int]] = [
    (True, None, True, 0),
    (True, None, None, 0),
    (True, None, False, 0),
    (False, None, True, 0),
    (False, DoNotContactReason.BOUNCED, False, 0),
    (True, DoNotContactReason.UNSUBSCRIBED, True, 0),
    (True, DoNotContactReason.MANUAL, None, 2),
    (True, None, True, 1),
    (True, None, True, 2),
    (True, None, True, 3),
    (True, None, False, 3),
]


async def _setup(
    brand: Any, bulk_members: Any, channel: Channel, now: datetime, quiet: bool
) -> tuple[list[int], int]:
    scope = BrandScope(brand)
    template = await channels.create_template(
        scope,
        name="t",
        channel=channel,
        subject="s" if channel is Channel.EMAIL else "",
        body="Hi {{ member.name }}",
    )
    profiles = []
    for i, (has_address, *_rest) in enumerate(KINDS):
        address = {"email": f"m{i}@example.com", "phone": f"+861380000{i:04d}"}
        profiles.append(address if has_address else {})
    ids = await bulk_members(brand, profiles)
    for member_id, (_, blocked, consent, earlier) in zip(ids, KINDS, strict=True):
        if blocked is not None:
            await channels.add_do_not_contact(scope, member_id, channel, blocked)
        for purpose in Purpose:
            if consent is not None:
                await channels.set_consent(scope, member_id, channel, purpose, consent, "test")
        for k in range(earlier):
            await scope.create(
                Message,
                member_id=member_id,
                channel=channel if k % 2 == 0 else Channel.PUSH,
                purpose=Purpose.MARKETING,
                template_id=template.id,
                source="earlier",
                idempotency_key=f"earlier-{k}",
                status=MessageStatus.SENT,
                send_after=now - timedelta(hours=1 + k),
            )
    # Quiet hours around now, in the brand's time.
    local = now.astimezone(ZoneInfo(brand.timezone))
    start, end = (local - timedelta(hours=1)).time(), (local + timedelta(hours=2)).time()
    await channels.set_contact_rules(
        scope,
        quiet_start=time(start.hour, start.minute) if quiet else None,
        quiet_end=time(end.hour, end.minute) if quiet else None,
        caps=[
            channels.Cap(channel=channel.value, limit=2, hours=24),
            channels.Cap(channel="*", limit=3, hours=24),
        ],
    )
    return ids, template.id


def _decisions(messages: list[Message], ids: list[int]) -> list[tuple[str, str, datetime]]:
    by_member = {m.member_id: m for m in messages}
    return [(by_member[i].status.value, by_member[i].reason, by_member[i].send_after) for i in ids]


@pytest.mark.parametrize(
    ("channel", "purpose", "quiet"),
    [
        (Channel.EMAIL, Purpose.MARKETING, False),
        (Channel.SMS, Purpose.MARKETING, True),
        (Channel.EMAIL, Purpose.TRANSACTIONAL, True),
        (Channel.PUSH, Purpose.MARKETING, False),
    ],
)
async def test_a_batch_decides_as_the_gate_does_member_by_member(
    brand_a: Any,
    brand_b: Any,
    bulk_members: Any,
    static_segment: Any,
    channel: Channel,
    purpose: Purpose,
    quiet: bool,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    # Quiet hours are brand-local: both brands on one clock.
    brand_b.timezone = brand_a.timezone
    await brand_b.save(update_fields=["timezone"])
    one, template_one = await _setup(brand_a, bulk_members, channel, now, quiet)
    two, template_two = await _setup(brand_b, bulk_members, channel, now, quiet)
    scope_one, scope_two = BrandScope(brand_a), BrandScope(brand_b)

    for member_id in one:
        async with unit_of_work(scope_one) as uow:
            await gate.submit(
                uow,
                gate.SendRequest(member_id, template_one, purpose, "api", "same-key"),
                now=now,
            )

    segment = await static_segment(brand_b, "everyone", two)
    campaign = await service.create_campaign(
        scope_two,
        service.CampaignInput(
            name="c", segment_id=segment.id, template_id=template_two, purpose=purpose
        ),
    )
    async with unit_of_work(scope_two) as uow:
        await sending.snapshot(uow, campaign, now)
    key = sending.idempotency_key(campaign.id)

    def members(p: gate.SqlParams) -> str:
        return (
            f'SELECT member_id FROM "campaign_recipient" WHERE campaign_id = '
            f"{p(campaign.id, 'bigint')} AND NOT holdout"
        )

    async with unit_of_work(scope_two) as uow:
        await gate.decide_batch(
            uow, gate.BatchRequest(members, template_two, channel, purpose, key, key), now
        )

    expected = _decisions(await scope_one.query(Message).filter(idempotency_key="same-key"), one)
    got = _decisions(await scope_two.query(Message).filter(idempotency_key=key), two)
    assert got == expected
    statuses = {status for status, _, _ in got}
    # The cases reach every outcome the gate has for this purpose.
    assert MessageStatus.HELD.value in statuses
    assert (MessageStatus.DEFERRED.value in statuses) == (quiet and purpose is Purpose.MARKETING)
    # Both queued their deliveries: one channels_send per message that may go.
    assert await scope_two.query(CampaignRecipient).count() == len(two)
    assert await scope_two.query(Campaign).count() == 1
