"""The loyalty pages in a real Chromium against the real app (uvicorn),
offline: an operator defines a tier and a coupon template from the menu."""

from __future__ import annotations

from admin_session import admin_user, sign_in, watch_csp
from playwright.async_api import Page, expect

from tessera.coupons.models import CouponTemplate
from tessera.scope import BrandScope
from tessera.tiers.models import TierDefinition


async def test_an_operator_creates_a_tier_and_a_coupon_template_and_sees_them_listed(
    browser_page: Page, brand_a
):
    user = await admin_user(brand_a, "operator", "ops@example.com")
    page = browser_page
    violations = watch_csp(page)
    await sign_in(page, user.email)

    await page.get_by_role("link", name="Tiers", exact=True).click()
    await expect(page.get_by_text("No tier policy is switched on")).to_be_visible()
    await page.get_by_role("link", name="New tier").click()
    await page.get_by_label("Code").fill("gold")
    await page.get_by_label("Name").fill("Gold")
    await page.get_by_label("Rank").fill("20")
    await page.get_by_label("Member price").check()
    await page.get_by_label("Percent off").fill("100")  # the service allows 1-99
    await page.get_by_role("button", name="Create").click()
    await expect(page.locator(".field-error")).to_contain_text("less than or equal to 99")
    await page.get_by_label("Percent off").fill("10")
    await page.get_by_role("button", name="Create").click()
    await expect(page.get_by_role("status")).to_have_text("Tier created.")
    await page.get_by_role("link", name="← Tiers").click()
    row = page.locator("#tiers tbody tr").filter(has_text="gold")
    await expect(row).to_contain_text("Gold")
    await expect(row).to_contain_text("Member price")

    await page.get_by_role("link", name="Coupon templates", exact=True).click()
    await page.get_by_role("link", name="New coupon template").click()
    await page.get_by_label("Kind").select_option(label="Amount off")
    await page.get_by_label("Title").fill("20 off 200")
    await page.get_by_label("Amount off (CNY)").fill("20.00")
    await page.get_by_label("Minimum spend (CNY)").fill("200")
    await page.get_by_label("Days after issue").fill("30")
    await page.get_by_label("Stock").fill("500")
    await page.get_by_role("button", name="Create").click()
    await expect(page.get_by_role("status")).to_have_text("Coupon template created.")
    await page.get_by_role("link", name="← Coupon templates").click()
    row = page.locator("#templates tbody tr").filter(has_text="20 off 200")
    await expect(row).to_contain_text("¥20.00")
    await expect(row.locator("td.num").first).to_have_text("500")

    scope = BrandScope(brand_a)
    assert await scope.query(TierDefinition).values_list("code", flat=True) == ["gold"]
    assert await scope.query(CouponTemplate).values_list("title", flat=True) == ["20 off 200"]
    assert violations == [] and page.blocked == []  # type: ignore[attr-defined]
