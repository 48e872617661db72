"""Members to record behaviour for."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable

import pytest

from tessera.members.models import Member
from tessera.members.service import create_member
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand

_numbers = itertools.count(1)


@pytest.fixture
def make_member() -> Callable[..., Awaitable[Member]]:
    """``await make_member(brand, "uid")``: an active member with that app user id."""

    async def make(brand: Brand, app_user_id: str | None = None) -> Member:
        uid = app_user_id or f"app-{next(_numbers)}"
        return await create_member(
            BrandScope(brand), {"name": f"Member {uid}"}, identities=[("app_user_id", uid)]
        )

    return make
