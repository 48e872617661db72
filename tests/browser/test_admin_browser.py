"""The admin UI in a real Chromium against the real app (uvicorn), offline:
what an operator does in a day, in English and Chinese."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest_asyncio
from admin_session import PASSWORD, admin_user, sign_in, watch_csp
from playwright.async_api import Browser, Page, expect

from tessera.assets.models import LedgerEntry
from tessera.auth.admin_users import MAX_FAILURES
from tessera.auth.api_keys import authenticate
from tessera.auth.models import AdminUser, ApiKey
from tessera.coupons import service as coupons
from tessera.coupons.models import Coupon
from tessera.features.service import list_features
from tessera.scope import BrandScope
from tessera.segments.models import Segment
from tessera.tags import service as tags
from tessera.tenancy.service import create_brand


async def test_sign_in_refuses_a_wrong_password_then_throttles(browser_page: Page, brand_a):
    user = await admin_user(brand_a, "owner", "owner@example.com")
    page = browser_page
    await sign_in(page, user.email, "not the password")
    await expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    for _ in range(MAX_FAILURES - 1):
        await sign_in(page, user.email, "not the password")
    await sign_in(page, user.email)  # the right password, too late
    await expect(page.get_by_role("alert")).to_contain_text("Too many failed sign-ins")
    assert page.url.endswith("/admin/login")

    other = await admin_user(brand_a, "viewer", "viewer@example.com")
    await sign_in(page, other.email)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard · Brand BRAND-A")
    assert page.blocked == []  # type: ignore[attr-defined]


async def test_switching_brand(browser_page: Page, brand_a):
    sister = await create_brand("t-brand-a", "brand-a2", "Sister brand")
    user = await admin_user(brand_a, "operator", "ops@example.com", sister)
    page = browser_page
    await sign_in(page, user.email)
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Brand BRAND-A")
    await page.get_by_label("Brand").select_option(label="Sister brand")
    await page.get_by_role("button", name="Switch").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard · Sister brand")
    assert page.url.endswith("/admin/brands/brand-a2/")


async def test_find_a_member_by_phone_and_adjust_points_with_a_reason(
    browser_page: Page, brand_a, new_member
):
    member = await new_member(brand_a, name="Lin Wei", phone="13800138000")
    await coupons.create_template(
        BrandScope(brand_a), {"kind": "free_shipping", "title": "Free shipping", "valid_days": 7}
    )
    await new_member(brand_a, name="Zhang San", phone="13900139000")
    user = await admin_user(brand_a, "owner", "owner@example.com")
    page = browser_page
    violations = watch_csp(page)
    await sign_in(page, user.email)
    await page.get_by_role("link", name="Members").click()
    await page.get_by_label("Phone, card number, name or external id").fill("138 0013 8000")
    await page.get_by_role("button", name="Search").click()
    results = page.locator("#results")
    await expect(results.get_by_role("link", name="Lin Wei")).to_be_visible()
    await expect(results.get_by_role("link", name="Zhang San")).to_have_count(0)
    await results.get_by_role("link", name="Lin Wei").click()

    await expect(page.get_by_role("heading", level=1)).to_have_text("Lin Wei")
    await page.get_by_label("Points (negative takes points away)").fill("120")
    await page.get_by_label("Reason").fill("apology for a late delivery")
    form = page.locator("form", has=page.get_by_role("button", name="Adjust points"))
    sent = {
        name: await form.locator(f'input[name="{name}"]').input_value()
        for name in ("csrf_token", "idempotency_key", "points", "reason")
    }
    action = await form.get_attribute("action")
    await page.get_by_role("button", name="Adjust points").click()
    await expect(page.get_by_role("status")).to_have_text("Points adjusted.")
    line = page.locator("#ledger tbody tr").first
    await expect(line).to_contain_text("apology for a late delivery")
    await expect(line).to_contain_text("120")
    await expect(page.locator("#points-balance")).to_have_text("120")

    # The same form sent again (a double submit) changes nothing twice.
    assert action is not None
    again = await page.request.post(action, form=sent, max_redirects=0)
    assert again.status == 303
    await page.reload()
    await expect(page.get_by_role("status")).to_contain_text("nothing changed twice")
    await expect(page.locator("#points-balance")).to_have_text("120")
    entries = await BrandScope(brand_a).query(LedgerEntry).filter(member_id=member.pk)
    assert [e.amount for e in entries] == [120]

    # Then a coupon from a template, seen on the profile and its timeline.
    await page.get_by_label("Coupon template").select_option(label="Free shipping")
    await page.get_by_role("button", name="Issue coupon").click()
    await expect(page.get_by_role("status")).to_contain_text("Coupon issued:")
    coupon = await BrandScope(brand_a).query(Coupon).get(member_id=member.pk)
    row = page.locator("#coupons tbody tr").first
    await expect(row).to_contain_text(coupon.code)
    await expect(row).to_contain_text("Free shipping")
    await expect(page.locator("#timeline li").first).to_contain_text(coupon.code)
    assert violations == []
    assert page.blocked == []  # type: ignore[attr-defined]


async def test_create_and_revoke_an_api_key(browser_page: Page, brand_a):
    user = await admin_user(brand_a, "owner", "owner@example.com")
    page = browser_page
    await sign_in(page, user.email)
    await page.get_by_role("link", name="API keys").click()
    await page.get_by_label("Name").fill("till in Shanghai")
    await page.get_by_label("write").check()
    await page.get_by_role("button", name="Create").click()
    token = (await page.locator("#new-key").text_content() or "").strip()
    principal = await authenticate(token)
    assert principal is not None
    row = page.locator("#keys tbody tr", has_text="till in Shanghai")
    await expect(row).to_contain_text("read, write")
    await row.get_by_role("button", name="Revoke").click()
    await expect(page.get_by_role("status")).to_contain_text("API key revoked")
    await expect(page.locator("#keys tbody tr", has_text="till in Shanghai")).to_contain_text(
        "revoked"
    )
    await expect(page.locator("#new-key")).to_have_count(0)
    assert await authenticate(token) is None
    assert (await ApiKey.get(id=principal.key_id)).revoked_at is not None


async def test_an_operator_is_refused_the_api_key_page(browser_page: Page, brand_a):
    user = await admin_user(brand_a, "operator", "ops@example.com")
    page = browser_page
    await sign_in(page, user.email)
    await expect(page.get_by_role("link", name="API keys")).to_have_count(0)
    response = await page.goto("/admin/brands/brand-a/api-keys")
    assert response is not None and response.status == 403
    await expect(page.locator("main")).to_contain_text("Your role does not allow this.")


@pytest_asyncio.fixture
async def chinese_page(browser: Browser, live_server) -> AsyncIterator[Page]:
    context = await browser.new_context(base_url=live_server.url, locale="zh-CN")
    yield await context.new_page()
    await context.close()


async def test_the_pages_in_chinese(chinese_page: Page, brand_a, new_member):
    await new_member(brand_a, name="林伟", phone="13800138000")
    user = await admin_user(brand_a, "operator", "ops@example.com")
    page = chinese_page
    await page.goto("/admin/login")
    await expect(page.get_by_role("heading", level=1)).to_have_text("登录")
    await page.get_by_label("邮箱").fill(user.email)
    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("概览 · Brand BRAND-A")
    await expect(page.locator(".figures")).to_contain_text("本周新增")
    await page.get_by_role("link", name="会员").click()
    await expect(page.get_by_label("手机号、会员卡号、姓名或外部编号")).to_be_visible()
    # Switching to English is the user's setting from now on.
    await page.get_by_role("button", name="English").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Members")
    assert (await AdminUser.get(id=user.id)).locale == "en"


async def test_enable_a_points_rule_through_its_generated_form(browser_page: Page, brand_a):
    user = await admin_user(brand_a, "owner", "owner@example.com")
    page = browser_page
    await sign_in(page, user.email)
    await page.get_by_role("link", name="Plugins and features").click()
    await page.locator('a[href$="/plugins/points.redemption"]').click()
    await expect(page.get_by_label("Points Per Unit")).to_have_value("100")  # the default
    await page.get_by_label("Switched on for this brand").check()
    await page.get_by_label("Points Per Unit").fill("0")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#points_per_unit-error")).to_contain_text(
        "greater than or equal to 1"
    )
    assert await list_features(BrandScope(brand_a)) == []

    await page.get_by_label("Points Per Unit").fill("80")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_have_text("Saved.")
    await expect(page.get_by_label("Points Per Unit")).to_have_value("80")
    [view] = await list_features(BrandScope(brand_a))
    assert view.feature.enabled and view.config["points_per_unit"] == 80


async def test_build_a_segment_and_watch_the_count_change(browser_page: Page, brand_a, new_member):
    scope = BrandScope(brand_a)
    await tags.create_tag(scope, "vip", "VIP")
    await tags.create_tag(scope, "kol", "KOL")
    lin = await new_member(brand_a, name="Lin Wei", phone="13800138000")
    zhang = await new_member(brand_a, name="Zhang San", phone="13900139000")
    await new_member(brand_a, name="Wang Wu", phone="13700137000")
    await tags.tag_members(scope, ["vip"], member_ids=[lin.pk])
    await tags.tag_members(scope, ["kol"], member_ids=[zhang.pk])
    user = await admin_user(brand_a, "operator", "ops@example.com")
    page = browser_page
    violations = watch_csp(page)
    await sign_in(page, user.email)
    await page.get_by_role("link", name="Segments").click()
    await page.get_by_role("link", name="New segment").click()
    await page.get_by_label("Name", exact=True).fill("VIPs and KOLs")
    await page.get_by_label("New condition").select_option(label="Tags")
    await page.get_by_role("button", name="Add condition").click()
    # Adding a condition loads the page again; htmx listens for typing only
    # once its script ran (on a loaded machine the typing could come first).
    await page.wait_for_load_state("load")

    count = page.locator("#preview-count")
    await page.get_by_label("Has", exact=True).select_option("any")
    await page.get_by_label("Tag codes (comma-separated)").fill("vip")
    await expect(count).to_have_text("1")  # live, as the rule changes
    await expect(page.locator("#preview-sample")).to_contain_text("Lin Wei")
    await page.get_by_label("Tag codes (comma-separated)").fill("vip, kol")
    await expect(count).to_have_text("2")
    await expect(page.locator("#rule-json")).to_have_value(re.compile(r'"kol"'))
    await page.get_by_label("Tag codes (comma-separated)").fill("vpi")
    await expect(page.locator("#rule-preview")).to_contain_text("no tag with code vpi")
    await page.get_by_label("Tag codes (comma-separated)").fill("vip, kol")
    await expect(count).to_have_text("2")

    await page.get_by_role("button", name="Create segment").click()
    await expect(page.get_by_role("status")).to_have_text("Segment created.")
    await expect(page.locator("#segment-size")).to_have_text("2")
    segment = await scope.query(Segment).get(name="VIPs and KOLs")
    assert segment.rule == {"all": [{"type": "tags", "has": "any", "codes": ["vip", "kol"]}]}
    assert violations == []
    assert page.blocked == []  # type: ignore[attr-defined]
