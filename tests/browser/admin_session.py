"""Signing in to the admin UI in a browser test: a user with a role, the
login form, and the Content Security Policy violations a page reports."""

from __future__ import annotations

from playwright.async_api import Page

from tessera.auth.admin_users import create_admin_user, grant_role
from tessera.auth.models import AdminUser
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand, Tenant

PASSWORD = "correct horse battery"


async def admin_user(brand: Brand, role: str, email: str, *also: Brand) -> AdminUser:
    user = await create_admin_user(await Tenant.get(id=brand.tenant_id), email, PASSWORD)
    for held in (brand, *also):
        await grant_role(BrandScope(held), user, role)
    return user


async def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    await page.goto("/admin/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


def watch_csp(page: Page) -> list[str]:
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return violations
