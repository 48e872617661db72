"""A merged member's campaign recipients go to the survivor (except a
campaign the survivor was in already: one recipient per campaign and
member), and undo brings them back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tessera.campaigns import sending, service
from tessera.campaigns.models import CampaignRecipient
from tessera.channels import service as channels
from tessera.channels.models import Channel
from tessera.members import merge
from tessera.scope import BrandScope
from tessera.uow import unit_of_work


async def test_merge_moves_recipients_the_survivor_lacks_and_undo_restores_them(
    brand_a: Any, bulk_members: Any, static_segment: Any
) -> None:
    scope = BrandScope(brand_a)
    survivor, merged = await bulk_members(
        brand_a, [{"email": "s@example.com"}, {"email": "m@example.com"}]
    )
    template = await channels.create_template(
        scope, name="t", channel=Channel.EMAIL, subject="s", body="Hi"
    )
    both = await static_segment(brand_a, "both", [survivor, merged])
    only_merged = await static_segment(brand_a, "merged", [merged])
    ids = []
    for name, segment in (("both", both), ("merged", only_merged)):
        campaign = await service.create_campaign(
            scope, service.CampaignInput(name=name, segment_id=segment.id, template_id=template.id)
        )
        async with unit_of_work(scope) as uow:
            await sending.snapshot(uow, campaign, datetime.now(UTC))
        ids.append(campaign.id)

    async def members_of(campaign_id: int) -> list[int]:
        rows = scope.query(CampaignRecipient).filter(campaign_id=campaign_id)
        return sorted(await rows.values_list("member_id", flat=True))

    done = await merge.merge_members(scope, survivor, merged, idempotency_key="m")
    assert await members_of(ids[0]) == sorted([survivor, merged])  # the tombstone's stays
    assert await members_of(ids[1]) == [survivor]
    await merge.undo_merge(scope, done.merge.id)
    assert await members_of(ids[0]) == sorted([survivor, merged])
    assert await members_of(ids[1]) == [merged]
