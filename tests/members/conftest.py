"""Members tests: a plugin that records domain events, and small builders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from pydantic import BaseModel

from tessera import DomainEvent, PointsRule, hookimpl
from tessera.features.service import set_feature
from tessera.members.service import create_member
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand


class _Rule(PointsRule):
    key = "members_test_listener"
    title = "Listener"
    description = "Records events for tests."

    class Config(BaseModel):
        pass

    async def points_for(self, fact: Any) -> int:
        return 0


class EventLog:
    def __init__(self) -> None:
        self.received: list[DomainEvent] = []

    @hookimpl
    def tessera_register_points_rules(self) -> list[type[PointsRule]]:
        return [_Rule]

    @hookimpl
    def tessera_on_event(self, event: DomainEvent) -> None:
        self.received.append(event)

    def named(self, name: str) -> list[DomainEvent]:
        return [e for e in self.received if e.name == name]


@pytest.fixture
def listen(
    register_plugin: Callable[[object, str], None],
) -> Callable[[Brand], Awaitable[EventLog]]:
    """``log = await listen(brand)``: domain events delivered to a plugin enabled there."""

    async def start(brand: Brand) -> EventLog:
        log = EventLog()
        register_plugin(log, "members-test-listener")
        await set_feature(BrandScope(brand), _Rule.key, enabled=True)
        return log

    return start


@pytest.fixture
def new_member() -> Callable[..., Awaitable[Any]]:
    """``await new_member(brand, phone=..., name=...)`` through the service."""

    async def make(brand: Brand, **profile: Any) -> Any:
        identities = profile.pop("identities", [])
        return await create_member(BrandScope(brand), profile, identities=identities)

    return make
