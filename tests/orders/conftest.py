"""Members to hang facts on."""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from hypothesis.configuration import set_hypothesis_home_dir

from tessera.members.models import Member
from tessera.members.service import create_member
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand

_numbers = itertools.count(1)

# Hypothesis caches in ./.hypothesis by default; pytest's norecursedirs here
# replaces the defaults, so that folder would then fail collection.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "tessera-hypothesis")


@pytest.fixture
def make_member() -> Callable[..., Awaitable[Member]]:
    """``await make_member(brand)``: an active member with an app user id."""

    async def make(brand: Brand, app_user_id: str | None = None) -> Member:
        uid = app_user_id or f"app-{next(_numbers)}"
        return await create_member(
            BrandScope(brand), {"name": f"Member {uid}"}, identities=[("app_user_id", uid)]
        )

    return make
