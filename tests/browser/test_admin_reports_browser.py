"""A report page in a real Chromium: ECharts, served by Tessera, draws the
series on a canvas (and as SVG with the SVG renderer) within the CSP, with
nothing fetched from outside."""

from __future__ import annotations

from datetime import UTC, datetime

from admin_session import admin_user, sign_in, watch_csp
from playwright.async_api import Page, expect

from tessera.features.service import set_feature
from tessera.members.models import Member
from tessera.orders.models import Order
from tessera.scope import BrandScope


async def test_a_report_draws_its_charts_within_the_csp(browser_page: Page, brand_a):
    scope = BrandScope(brand_a)
    await set_feature(scope, "reports.sales", enabled=True)
    joined = datetime(2024, 1, 1, tzinfo=UTC)
    await scope.insert_many(
        Member, [scope.build(Member, external_id="m1", card_number="C1", joined_at=joined)]
    )
    member = await scope.query(Member).get(external_id="m1")
    await scope.insert_many(
        Order,
        [
            scope.build(
                Order,
                member_id=member.id,
                external_id=f"o{day}",
                store_code="S1",
                occurred_at=datetime(2025, 3, day, 4, tzinfo=UTC),
                amount_paid=1000 * day,
                retail_amount=1000 * day,
                discount=0,
                units=1,
                fingerprint="t",
            )
            for day in (2, 9, 20)
        ],
    )
    user = await admin_user(brand_a, "viewer", "viewer@example.com")
    page = browser_page
    violations = watch_csp(page)
    await sign_in(page, user.email)
    await page.get_by_role("link", name="Reports").click()
    await page.get_by_role("link", name="Sales overview").click()
    await page.get_by_label("From", exact=True).fill("2025-03-01")
    await page.get_by_label("To", exact=True).fill("2025-03-31")
    await page.get_by_label("Compare with").select_option("mom")
    await page.get_by_role("button", name="Show").click()
    await expect(page.locator("#report-figures")).to_contain_text("310.00 CNY")
    charts = page.locator(".report-chart")
    await expect(charts).to_have_count(3)
    await expect(charts.first.locator("canvas").first).to_be_visible()
    box = await charts.first.locator("canvas").first.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 200

    await page.get_by_label("Charts as").select_option("svg")
    await page.get_by_role("button", name="Show").click()
    await expect(charts.first.locator("svg").first).to_be_visible()
    assert await charts.first.locator("svg path").count() > 5
    assert violations == []
    assert page.blocked == []  # type: ignore[attr-defined]
