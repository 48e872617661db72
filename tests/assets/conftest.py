"""Members with accounts, and a ledger checker every test can lean on."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tessera import DomainEvent, PointsRule, hookimpl
from tessera.assets.verify import verify_brand
from tessera.features.service import set_feature
from tessera.members.models import Member
from tessera.members.service import create_member
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand

_numbers = itertools.count(1)


@pytest.fixture
def make_member() -> Callable[..., Awaitable[Member]]:
    """``await make_member(brand)``: an active member."""

    async def make(brand: Brand) -> Member:
        uid = f"assets-{next(_numbers)}"
        return await create_member(
            BrandScope(brand), {"name": f"Member {uid}"}, identities=[("app_user_id", uid)]
        )

    return make


@pytest.fixture
def ledger_consistent() -> Callable[..., Awaitable[None]]:
    """``await ledger_consistent(brand)``: every account of the brand has
    balance = sum of entries and lots that match; fails listing the problems."""

    async def check(brand: Brand) -> None:
        problems = [p async for p in verify_brand(BrandScope(brand))]
        assert not problems, "\n".join(str(p) for p in problems)

    return check


class _ListenerRule(PointsRule):
    key = "assets_test_listener"
    title = "Listens to asset events in tests"

    async def points_for(self, fact: Any) -> int:
        return 0


class EventListener:
    """A plugin that records every domain event delivered to it."""

    def __init__(self) -> None:
        self.received: list[DomainEvent] = []

    @hookimpl
    def tessera_register_points_rules(self) -> list[type[PointsRule]]:
        return [_ListenerRule]

    @hookimpl
    def tessera_on_event(self, event: DomainEvent) -> None:
        self.received.append(event)

    def named(self, name: str) -> list[DomainEvent]:
        return [e for e in self.received if e.name == name]


@pytest.fixture
async def events(brand_a: Brand, register_plugin: Any) -> EventListener:
    """The domain events brand A's plugins receive during the test."""
    listener = EventListener()
    register_plugin(listener, "assets-events-listener")
    await set_feature(BrandScope(brand_a), _ListenerRule.key, enabled=True)
    return listener
