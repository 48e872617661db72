"""The campaign results page: figures, the groups, the curve for ECharts,
a changed window and margin, refused input, and another brand's campaign."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from decimal import Decimal

from tessera.campaigns.models import Campaign, CampaignRecipient
from tessera.channels.models import Channel, Message, MessageStatus, MessageTemplate, Purpose
from tessera.members.models import Member
from tessera.orders.models import Order
from tessera.scope import BrandScope

SENT = datetime(2025, 3, 1, 10, tzinfo=UTC)


async def results_campaign(brand) -> int:
    """Two members: one sent the message who buys 100.00 the next morning,
    one in the holdout who buys nothing."""
    scope = BrandScope(brand)
    await scope.insert_many(
        Member,
        [scope.build(Member, external_id=n, joined_at=SENT) for n in ("sent", "kept")],
    )
    sent = await scope.query(Member).get(external_id="sent")
    kept = await scope.query(Member).get(external_id="kept")
    template = await scope.create(MessageTemplate, name="push", channel=Channel.SMS, body="Hi")
    campaign = await scope.create(
        Campaign,
        name="Spring sale",
        template_id=template.id,
        channel=Channel.SMS,
        cost_per_message=Decimal("0.10"),
        launched_at=SENT,
    )
    message = await scope.create(
        Message,
        member_id=sent.id,
        channel=Channel.SMS,
        purpose=Purpose.MARKETING,
        source=f"campaign:{campaign.id}",
        idempotency_key=f"campaign:{campaign.id}",
        status=MessageStatus.SENT,
        send_after=SENT,
        sent_at=SENT,
    )
    for member, message_id in ((sent, message.id), (kept, None)):
        await scope.create(
            CampaignRecipient,
            campaign_id=campaign.id,
            member_id=member.id,
            holdout=message_id is None,
            batch=0,
            message_id=message_id,
        )
    await scope.insert_many(
        Order,
        [
            scope.build(
                Order,
                member_id=sent.id,
                external_id="o1",
                occurred_at=datetime(2025, 3, 2, 9, tzinfo=UTC),
                amount_paid=10000,
                retail_amount=10000,
                discount=0,
                units=1,
                fingerprint="t",
            )
        ],
    )
    return campaign.id


async def test_the_results_page(admin_client, brand_a, brand_b):
    campaign_id = await results_campaign(brand_a)
    client = await admin_client(brand_a, "viewer")
    campaign_page = await client.get(f"/admin/brands/brand-a/campaigns/{campaign_id}")
    assert f'href="/admin/brands/brand-a/campaigns/{campaign_id}/results"' in campaign_page.text
    page = await client.get(f"/admin/brands/brand-a/campaigns/{campaign_id}/results")
    assert page.status_code == 200
    assert "echarts.min.js" in page.text and "Spring sale" in page.text
    assert "100.00 CNY" in page.text  # revenue and incremental revenue
    assert "0.10 CNY" in page.text  # one message × 0.10
    assert re.search(
        r'id="group-treated"><td>Members reached</td><td class="num">1</td>', page.text
    )
    chart = json.loads(html.unescape(re.findall(r"data-chart='(.*?)'", page.text)[0]))
    assert [line["values"] for line in chart["lines"]] == [[1.0] * 7, [0.0] * 7]  # 23 hours: day 0
    assert chart["percent"] is True and len(chart["labels"]) == 7

    one_day = await client.get(
        f"/admin/brands/brand-a/campaigns/{campaign_id}/results?days=1&margin=0.3"
    )
    chart = json.loads(html.unescape(re.findall(r"data-chart='(.*?)'", one_day.text)[0]))
    assert chart["lines"][0]["values"] == [1.0]
    assert "30.00 CNY" in one_day.text  # profit: 100.00 × 0.3

    refused = await client.get(
        f"/admin/brands/brand-a/campaigns/{campaign_id}/results?days=365&margin=x"
    )
    assert refused.status_code == 200 and "data-chart" not in refused.text
    assert "field-error" in refused.text

    # Brand B's owner cannot see brand A's campaign, under either brand's path.
    owner_b = await admin_client(brand_b, "owner")
    for path in (
        f"/admin/brands/brand-b/campaigns/{campaign_id}/results",
        f"/admin/brands/brand-a/campaigns/{campaign_id}/results",
    ):
        assert (await owner_b.get(path)).status_code in (403, 404)


async def test_the_results_page_in_chinese(admin_client, brand_a):
    campaign_id = await results_campaign(brand_a)
    client = await admin_client(brand_a, "viewer")
    await client.post("/admin/locale", {"locale": "zh_Hans"})
    page = await client.get(f"/admin/brands/brand-a/campaigns/{campaign_id}/results")
    assert page.status_code == 200
    assert "“Spring sale”的效果" in page.text and "对照组" in page.text
    chart = json.loads(html.unescape(re.findall(r"data-chart='(.*?)'", page.text)[0]))
    assert chart["labels"][0] == "第 0 天" and chart["title"] == "推送后转化"
