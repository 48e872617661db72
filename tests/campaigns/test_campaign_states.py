"""Campaign drafts are validated field by field; the state machine refuses
bad transitions; a campaign whose channel has no sender shows it as its
``last_error`` and its messages as failed, never lost."""

from __future__ import annotations

from typing import Any

import pytest

from tessera.campaigns import sending, service
from tessera.campaigns.models import Campaign, CampaignStatus
from tessera.channels import service as channels
from tessera.channels.models import Channel, ChannelConsent, Message, MessageStatus, Purpose
from tessera.errors import DomainError, DomainErrors
from tessera.scope import BrandScope


async def _draft(brand: Any, bulk_members: Any, static_segment: Any, n: int = 5) -> Campaign:
    scope = BrandScope(brand)
    ids = await bulk_members(brand, [{"email": f"s{i}@example.com"} for i in range(n)])
    await scope.insert_many(
        ChannelConsent,
        [
            scope.build(
                ChannelConsent,
                member_id=m,
                channel=Channel.EMAIL,
                purpose=Purpose.MARKETING,
                granted=True,
                source="test",
                updated_at=service.datetime.now(service.UTC),
            )
            for m in ids
        ],
    )
    segment = await static_segment(brand, "seg", ids)
    template = await channels.create_template(
        scope, name="t", channel=Channel.EMAIL, subject="s", body="Hi"
    )
    return await service.create_campaign(
        scope, service.CampaignInput(name="c", segment_id=segment.id, template_id=template.id)
    )


async def test_a_draft_is_refused_field_by_field_and_nothing_is_stored(
    brand_a: Any, brand_b: Any, static_segment: Any
) -> None:
    scope = BrandScope(brand_a)
    other = await static_segment(brand_b, "theirs", [])
    with pytest.raises(DomainErrors) as refused:
        await service.create_campaign(
            scope,
            service.CampaignInput(
                name=" ",
                segment_id=other.id,
                template_id=999999,
                holdout_share="0.6",
                throttle_per_minute=0,
                attribution_days=91,
                cost_per_message="-1",
            ),
        )
    fields = {(e.code, tuple(e.field or [])) for e in refused.value.errors}
    assert fields == {
        ("REQUIRED", ("name",)),
        ("NOT_FOUND", ("segmentId",)),  # another brand's segment is no segment here
        ("NOT_FOUND", ("templateId",)),
        ("OUT_OF_RANGE", ("holdoutShare",)),
        ("OUT_OF_RANGE", ("throttlePerMinute",)),
        ("OUT_OF_RANGE", ("attributionDays",)),
        ("OUT_OF_RANGE", ("costPerMessage",)),
    }
    assert await scope.query(Campaign).count() == 0


async def test_the_state_machine_allows_only_its_transitions(
    brand_a: Any, bulk_members: Any, static_segment: Any, drain_outbox: Any
) -> None:
    scope = BrandScope(brand_a)
    campaign = await _draft(brand_a, bulk_members, static_segment)
    for action in (service.pause_campaign, service.resume_campaign, service.cancel_campaign):
        with pytest.raises(DomainError) as refused:
            await action(scope, campaign.id)
        assert (refused.value.code, refused.value.field) == ("INVALID_STATE", ["id"])
    updated = await service.update_campaign(
        scope, campaign.id, service.CampaignInput(holdout_share="0.2", throttle_per_minute=60)
    )
    assert updated.holdout_share == service.Decimal("0.2000")

    launched = await service.launch_campaign(scope, campaign.id)
    assert launched.status is CampaignStatus.PREPARING
    for refused_action in (
        service.launch_campaign(scope, campaign.id),
        service.update_campaign(scope, campaign.id, service.CampaignInput(name="x")),
        service.delete_campaign(scope, campaign.id),
        service.resume_campaign(scope, campaign.id),
    ):
        with pytest.raises(DomainError) as refused:
            await refused_action
        assert refused.value.code == "INVALID_STATE"
    cancelled = await service.cancel_campaign(scope, campaign.id)
    assert cancelled.status is CampaignStatus.CANCELLED
    await drain_outbox()  # the start job finds it cancelled: nothing is copied or sent
    assert (await sending.counts(scope, campaign.id)).audience == 0
    assert await scope.query(Message).count() == 0


async def test_pause_stops_at_a_batch_boundary_and_cancel_holds_what_was_not_sent(
    brand_a: Any, bulk_members: Any, static_segment: Any, drain_outbox: Any
) -> None:
    scope = BrandScope(brand_a)
    campaign = await _draft(brand_a, bulk_members, static_segment, n=6)
    await service.launch_campaign(scope, campaign.id)
    # The start job alone: the snapshot, batch 0 queued.
    assert await sending.campaigns_start({}, brand_a.id, campaign.id) == "started"
    await service.pause_campaign(scope, campaign.id)
    assert await sending.campaigns_batch({}, brand_a.id, campaign.id, 0) == 0
    counts = await sending.counts(scope, campaign.id)
    assert (counts.audience, counts.undecided) == (6, 6)
    await service.resume_campaign(scope, campaign.id)
    assert await sending.campaigns_batch({}, brand_a.id, campaign.id, 0) == 6
    assert await sending.campaigns_batch({}, brand_a.id, campaign.id, 0) == 0  # a rerun
    counts = await sending.counts(scope, campaign.id)
    assert (counts.queued, counts.undecided) == (6, 0)
    # No email sender is enabled: the campaign says so.
    fresh = await scope.get(Campaign, campaign.id)
    assert fresh is not None and fresh.status is CampaignStatus.COMPLETED
    assert fresh.last_error == "no email sender is enabled for the brand"


async def test_cancel_holds_the_messages_not_yet_sent(
    brand_a: Any, bulk_members: Any, static_segment: Any, drain_outbox: Any
) -> None:
    scope = BrandScope(brand_a)
    campaign = await service.update_campaign(
        BrandScope(brand_a),
        (await _draft(brand_a, bulk_members, static_segment, n=4)).id,
        service.CampaignInput(throttle_per_minute=2),  # batches of two
    )
    await service.launch_campaign(scope, campaign.id)
    await sending.campaigns_start({}, brand_a.id, campaign.id)
    assert await sending.campaigns_batch({}, brand_a.id, campaign.id, 0) == 2
    await service.cancel_campaign(scope, campaign.id)
    assert await sending.campaigns_batch({}, brand_a.id, campaign.id, 1) == 0
    await drain_outbox()
    counts = await sending.counts(scope, campaign.id)
    assert counts.held_by_reason == {service.CANCELLED_REASON: 2}
    assert counts.undecided == 2 and counts.sent == 0
    statuses = await scope.query(Message).values_list("status", flat=True)
    assert set(statuses) == {MessageStatus.HELD}


async def test_a_message_at_the_provider_when_the_campaign_is_cancelled_is_logged_as_sent(
    brand_a: Any, bulk_members: Any, static_segment: Any
) -> None:
    from tessera.channels import delivery
    from tessera.plugin_host.components import SendResult

    scope = BrandScope(brand_a)
    campaign = await service.update_campaign(
        scope,
        (await _draft(brand_a, bulk_members, static_segment, n=3)).id,
        service.CampaignInput(throttle_per_minute=2),  # batches of two: still sending after one
    )
    await service.launch_campaign(scope, campaign.id)
    await sending.campaigns_start({}, brand_a.id, campaign.id)
    assert await sending.campaigns_batch({}, brand_a.id, campaign.id, 0) == 2
    in_flight, waiting = await scope.query(Message).order_by("id")
    # channels_send's claim of one attempt, then the cancel while it is at
    # the provider, then the provider's answer.
    await scope.query(Message).filter(id=in_flight.id).update(attempts=1)
    in_flight.attempts = 1
    await service.cancel_campaign(scope, campaign.id)
    answer = SendResult.delivered("p-1")
    assert await delivery._record(scope, in_flight, None, answer) == "sent"
    sent = await scope.get(Message, in_flight.id)
    assert sent is not None and sent.status is MessageStatus.SENT and sent.provider_id == "p-1"
    held = await scope.get(Message, waiting.id)
    assert held is not None and held.status is MessageStatus.HELD
    assert held.reason == service.CANCELLED_REASON
    # A held message no attempt claimed stays held whatever a stray answer says.
    assert await delivery._record(scope, held, None, answer) == "skipped"
    counts = await sending.counts(scope, campaign.id)
    assert counts.sent == 1 and counts.held_by_reason == {service.CANCELLED_REASON: 1}


async def test_without_a_sender_messages_fail_with_the_reason(
    brand_a: Any, bulk_members: Any, static_segment: Any, drain_outbox: Any
) -> None:
    scope = BrandScope(brand_a)
    campaign = await _draft(brand_a, bulk_members, static_segment, n=3)
    await service.launch_campaign(scope, campaign.id)
    await drain_outbox()
    counts = await sending.counts(scope, campaign.id)
    reason = "no email sender is enabled for the brand"
    assert counts.failed_by_reason == {reason: 3} and counts.sent == 0
    fresh = await scope.get(Campaign, campaign.id)
    assert fresh is not None and fresh.last_error == reason
    assert fresh.status is CampaignStatus.COMPLETED


async def test_the_throttle_spaces_the_batches(
    brand_a: Any, bulk_members: Any, static_segment: Any
) -> None:
    from datetime import UTC, datetime, timedelta

    from tessera.campaigns.models import CampaignRecipient
    from tessera.outbox.models import OutboxEntry

    scope = BrandScope(brand_a)
    draft = await _draft(brand_a, bulk_members, static_segment, n=5)
    campaign = await service.update_campaign(
        scope, draft.id, service.CampaignInput(throttle_per_minute=2)
    )
    await service.launch_campaign(scope, campaign.id)
    await sending.campaigns_start({}, brand_a.id, campaign.id)
    batches = (
        await scope.query(CampaignRecipient)
        .filter(campaign_id=campaign.id)
        .values_list("batch", flat=True)
    )
    assert sorted(batches) == [0, 0, 1, 1, 2]  # batches of the throttle's size
    before = datetime.now(UTC)
    assert await sending.campaigns_batch({}, brand_a.id, campaign.id, 0) == 2
    queued = await scope.query(OutboxEntry).filter(kind="campaigns_batch").order_by("-id").first()
    assert queued is not None and queued.payload["args"] == [brand_a.id, campaign.id, 1]
    # Two messages at two a minute: the next batch a minute later.
    assert queued.available_at >= before + timedelta(seconds=59)
