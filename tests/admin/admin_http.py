"""Helpers of the admin UI's HTTP tests (a module of its own name, so that
test files import it unambiguously next to other folders' conftest modules)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from tessera.auth.models import AdminUser

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


@dataclass
class AdminClient:
    http: httpx.AsyncClient
    user: AdminUser
    csrf: str

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.get(path, **kwargs)

    async def post(
        self, path: str, data: dict[str, Any] | None = None, **kw: Any
    ) -> httpx.Response:
        """A form post with the session's CSRF token."""
        return await self.http.post(path, data={"csrf_token": self.csrf, **(data or {})}, **kw)


async def sign_in(http: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    page = await http.get("/admin/login")
    return await http.post(
        "/admin/login",
        data={"csrf_token": csrf_of(page.text), "email": email, "password": password},
    )
