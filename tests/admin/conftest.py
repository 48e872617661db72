"""Admin UI fixtures: users with a role on a brand, and an httpx client signed
in as one (cookies kept, the CSRF token read from the page like a browser)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio
from admin_http import PASSWORD, AdminClient, csrf_of, sign_in

from tessera.auth.admin_users import create_admin_user, grant_role
from tessera.auth.models import AdminUser
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand, Tenant


@pytest.fixture
def admin_user() -> Callable[..., Awaitable[AdminUser]]:
    """``await admin_user(brand, "operator", email=...)``: a user of the brand's
    tenant with that role on the brand (and on ``also`` brands, same role)."""

    async def make(
        brand: Brand, role: str = "owner", email: str | None = None, also: tuple[Brand, ...] = ()
    ) -> AdminUser:
        tenant = await Tenant.get(id=brand.tenant_id)
        address = email or f"{role}.{brand.code}@example.com"
        user = await AdminUser.get_or_none(email=address) or await create_admin_user(
            tenant, address, PASSWORD
        )
        for held in (brand, *also):
            await grant_role(BrandScope(held), user, role)
        return user

    return make


@pytest_asyncio.fixture
async def admin_client(
    app: Any, admin_user: Callable[..., Awaitable[AdminUser]]
) -> AsyncIterator[Callable[..., Awaitable[AdminClient]]]:
    """``await admin_client(brand, "viewer")``: a signed-in client (a new
    cookie jar per call)."""
    clients: list[httpx.AsyncClient] = []

    async def make(brand: Brand, role: str = "owner", **kwargs: Any) -> AdminClient:
        user = await admin_user(brand, role, **kwargs)
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://tessera.test"
        )
        clients.append(http)
        response = await sign_in(http, user.email)
        assert response.status_code == 303, response.text
        home = await http.get(response.headers["location"])
        assert home.status_code == 200, home.text
        return AdminClient(http, user, csrf_of(home.text))

    yield make
    for client in clients:
        await client.aclose()
