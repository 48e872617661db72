"""The dashboard's charts and the admin users page in a real Chromium:
charts drawn without a CSP violation, and an owner adding a colleague who
then signs in with the password shown once."""

from __future__ import annotations

from admin_session import admin_user, sign_in, watch_csp
from playwright.async_api import Page, expect

from tessera.auth.models import AdminRole
from tessera.scope import BrandScope


async def test_the_dashboard_draws_its_charts_within_the_csp(
    browser_page: Page, brand_a, new_member
):
    await new_member(brand_a, name="Lin", phone="13800138000")
    user = await admin_user(brand_a, "viewer", "viewer@example.com")
    page = browser_page
    violations = watch_csp(page)
    await sign_in(page, user.email)
    await expect(
        page.get_by_role("img", name="Members joined per day, last 30 days")
    ).to_be_visible()
    await expect(page.locator("svg.spark")).to_have_count(6)
    box = await page.locator("svg.spark").first.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 20
    figure = page.locator(".figures > div", has_text="New this week")
    await figure.get_by_text("Data").click()
    await expect(figure.locator("table tbody tr")).to_have_count(30)
    assert violations == []
    assert page.blocked == []  # type: ignore[attr-defined]


async def test_an_owner_adds_a_colleague_and_keeps_the_brands_last_owner(
    browser_page: Page, brand_a
):
    owner = await admin_user(brand_a, "owner", "owner@example.com")
    page = browser_page
    violations = watch_csp(page)
    await sign_in(page, owner.email)
    await page.get_by_role("link", name="Admin users and roles").click()
    await page.get_by_label("Email").fill("colleague@example.com")
    await page.get_by_label("Role", exact=True).select_option("operator")
    await page.get_by_role("button", name="Add").click()
    password = (await page.locator("#new-password").text_content() or "").strip()
    assert len(password) >= 10

    row = page.locator("#admin-users tbody tr", has_text="colleague@example.com")
    await row.get_by_label("Role of colleague@example.com").select_option("analyst")
    await row.get_by_role("button", name="Change").click()
    await expect(page.get_by_role("status")).to_have_text("Role changed.")
    await expect(page.locator("#new-password")).to_have_count(0)

    mine = page.locator("#admin-users tbody tr", has_text="owner@example.com")
    await mine.get_by_role("button", name="Remove from this brand").click()
    await expect(page.get_by_role("alert")).to_contain_text("last owner")
    roles = await BrandScope(brand_a).query(AdminRole).order_by("id").values_list("role", flat=True)
    assert roles == ["owner", "analyst"]
    assert violations == []

    await page.context.clear_cookies()
    await sign_in(page, "colleague@example.com", password)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard · Brand BRAND-A")
    await expect(page.get_by_role("link", name="Admin users and roles")).to_have_count(0)
