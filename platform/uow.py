"""A unit of work: one transaction, and the domain events it produced,
delivered to plugins only once it has committed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from tortoise.transactions import in_transaction

from tessera.plugin_host.events import DomainEvent
from tessera.scope import BrandScope


@dataclass
class UnitOfWork:
    scope: BrandScope
    connection: Any
    events: list[DomainEvent] = field(default_factory=list)

    def emit(self, name: str, **payload: Any) -> None:
        self.events.append(DomainEvent(name, self.scope.brand_id, payload))


@asynccontextmanager
async def unit_of_work(scope: BrandScope) -> AsyncIterator[UnitOfWork]:
    async with in_transaction() as connection:
        uow = UnitOfWork(scope, connection)
        yield uow
    if uow.events:
        from tessera.plugin_host.dispatch import deliver

        await deliver(uow.events)
