"""A unit of work: one transaction, and the domain events it produced,
delivered to plugins only once it has committed.

Inside a :func:`tessera.after_commit.enclosing_transaction` (a mutation and
its audit entry) a unit of work is a savepoint, and its events wait for the
enclosing commit."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from tortoise.transactions import in_transaction

from tessera.after_commit import defer
from tessera.plugin_host.events import DomainEvent
from tessera.scope import BrandScope

log = logging.getLogger("tessera.uow")


@dataclass
class UnitOfWork:
    scope: BrandScope
    connection: Any
    events: list[DomainEvent] = field(default_factory=list)

    def emit(self, name: str, **payload: Any) -> None:
        self.events.append(DomainEvent(name, self.scope.brand_id, payload))


# In-process reactions to committed events, after plugins got them: each is
# ``"module:function"``, an ``async def f(events)`` imported on first use (so
# this module imports no domain). A reaction must not raise (the commit has
# happened) and should hand its work to a job rather than do it in the
# caller's request. Segments re-evaluate the members whose facts changed so.
AFTER_COMMIT: list[str] = [
    "tessera.segments.triggers:after_commit",
    "tessera.rewards.triggers:after_commit",
]


async def _after_commit(events: list[DomainEvent]) -> None:
    for target in AFTER_COMMIT:
        module, _, name = target.partition(":")
        reaction = getattr(import_module(module), name)
        try:
            await reaction(events)
        except Exception:
            log.exception("after-commit reaction %s failed", target)


async def _publish(scope: BrandScope, events: list[DomainEvent]) -> None:
    from tessera.plugin_host.dispatch import deliver

    await deliver(events, known=scope)
    await _after_commit(events)


@asynccontextmanager
async def unit_of_work(scope: BrandScope) -> AsyncIterator[UnitOfWork]:
    async with in_transaction() as connection:
        uow = UnitOfWork(scope, connection)
        yield uow
    if uow.events and not defer(lambda: _publish(scope, uow.events)):
        await _publish(scope, uow.events)
