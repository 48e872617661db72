"""Merging in a real Chromium: an owner finds a duplicate on the Duplicates
page, confirms the merge after seeing what moves, and undoes it from the
survivor's profile."""

from __future__ import annotations

from datetime import date

from admin_session import admin_user, sign_in, watch_csp
from playwright.async_api import Page, expect

from tessera.members.duplicates import scan
from tessera.members.models import Member
from tessera.scope import BrandScope


async def test_an_owner_merges_a_duplicate_and_undoes_it(browser_page: Page, brand_a, new_member):
    older = await new_member(brand_a, name="Wang", birthday=date(1990, 1, 2), phone="13800138000")
    newer = await new_member(brand_a, name="Wang", birthday=date(1990, 1, 2), phone="13900139000")
    await scan(BrandScope(brand_a))
    owner = await admin_user(brand_a, "owner", "owner@example.com")
    page = browser_page
    violations = watch_csp(page)
    await sign_in(page, owner.email)
    await page.get_by_role("link", name="Duplicates").click()
    row = page.locator("#duplicates tbody tr", has_text="same name and birthday")
    await row.get_by_role("link", name="Merge").click()
    await expect(page.locator("#merge-moving")).to_contain_text("Identities")
    await page.locator("#merge-form").get_by_role("button", name="Merge").click()
    await expect(page.get_by_role("status")).to_have_text("Members merged.")
    assert (await Member.get(id=newer.pk)).merged_into_id == older.pk

    await page.get_by_role("button", name="Undo merge").click()
    await expect(page.get_by_role("status")).to_have_text("Merge undone.")
    assert (await Member.get(id=newer.pk)).merged_into_id is None
    assert violations == []
    assert page.blocked == []  # type: ignore[attr-defined]
