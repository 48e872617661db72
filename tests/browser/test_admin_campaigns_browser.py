"""A campaign in a real Chromium: a draft refused at its field, saved,
launched, and its page showing the live counts once the server's jobs have
sent it (no email sender: every message fails with the reason, none lost)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from admin_session import admin_user, sign_in, watch_csp
from playwright.async_api import Page, expect

from tessera.channels import service as channels
from tessera.channels.models import Channel, ChannelConsent, Purpose
from tessera.members.models import Member
from tessera.scope import BrandScope
from tessera.segments.models import Segment, SegmentMembership


async def test_an_operator_runs_a_campaign_and_watches_its_counts(browser_page: Page, brand_a):
    scope = BrandScope(brand_a)
    now = datetime.now(UTC)
    await scope.insert_many(
        Member, [scope.build(Member, external_id=f"c{i}", joined_at=now) for i in range(3)]
    )
    ids = [m.id for m in await scope.query(Member).order_by("id")]
    segment = await scope.create(Segment, name="Everyone", kind="static", size=3)
    await scope.insert_many(
        SegmentMembership,
        [
            scope.build(SegmentMembership, segment_id=segment.id, member_id=m, entered_at=now)
            for m in ids
        ],
    )
    await scope.insert_many(
        ChannelConsent,
        [
            scope.build(
                ChannelConsent,
                member_id=m,
                channel=Channel.PUSH,
                purpose=Purpose.MARKETING,
                granted=m != ids[0],
                source="test",
                updated_at=now,
            )
            for m in ids
        ],
    )
    await channels.create_template(scope, name="Hello", channel=Channel.PUSH, body="Hi")
    user = await admin_user(brand_a, "owner", "campaigns@example.com")
    page = browser_page
    violations = watch_csp(page)
    await sign_in(page, user.email)
    await page.get_by_role("link", name="Campaigns").click()
    await page.get_by_label("Name").fill("Spring")
    await page.get_by_label("Holdout share (0 to 0.5)").fill("0.9")
    await page.get_by_role("button", name="Save draft").click()
    await expect(page.locator("#holdoutShare-error")).to_contain_text("0 to 0.5")
    await page.get_by_label("Holdout share (0 to 0.5)").fill("0")
    await page.get_by_role("button", name="Save draft").click()
    await expect(page.locator("#campaign-status")).to_have_text("draft")
    await page.get_by_role("button", name="Launch").click()
    for _ in range(100):  # the server's own jobs send it; a bounded wait
        # Completed once every member is decided; the deliveries fail after.
        done = await page.locator("#campaign-status").inner_text() == "completed"
        if done and await page.locator("#count-failed").inner_text() == "2":
            break
        await asyncio.sleep(0.2)
        await page.reload()
    await expect(page.locator("#campaign-status")).to_have_text("completed")
    await expect(page.locator("#count-audience")).to_have_text("3")
    await expect(page.locator("#count-held")).to_have_text("1")
    await expect(page.locator("#count-failed")).to_have_text("2")
    await expect(page.locator("#campaign-error")).to_contain_text("no push sender is enabled")
    await expect(page.locator("#campaign-actions")).to_have_count(0)
    assert violations == []
