"""Slots tests: a banner slot on brand A and members to show it to."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio

from tessera.tenancy.models import Brand


@pytest_asyncio.fixture
async def banner_slot(brand_a: Brand, enable_feature: Any) -> str:
    await enable_feature(brand_a, "slots.banner", slot="home_top", config={})
    return "home_top"


_people = itertools.count(1)


@pytest.fixture
def person(new_member: Any) -> Callable[..., Awaitable[Any]]:
    """``await person(brand)``: a member with an external id (new_member's
    :class:`~tessera.testing.NewMember`)."""

    async def make(brand: Brand, **profile: Any) -> Any:
        n = next(_people)
        return await new_member(brand, name=f"Person {n}", external_id=f"p-{n}", **profile)

    return make
