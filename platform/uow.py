"""A unit of work: one transaction, the follow-up work it asks for (written
to the outbox in that same transaction), and the domain events it produced,
delivered to plugins only once it has committed.

Inside a :func:`tessera.after_commit.enclosing_transaction` (a mutation and
its audit entry) a unit of work is a savepoint: its outbox rows commit or roll
back with the enclosing transaction, and its events and the relay's wake-up
wait for the enclosing commit.

A unit of work opened ``within`` another is a savepoint of the outer one's
transaction: what it emits and asks for joins the outer unit of work when the
savepoint is released, and is dropped with it when it rolls back. Writes use
one to join a caller's transaction without risking it (on PostgreSQL a failed
statement, such as a unique violation that detects a replay, aborts the whole
transaction unless a savepoint catches it).

This is the one way to open a transaction; ``tests/platform/test_transactions.py``
keeps it so."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from tortoise.transactions import in_transaction

from tessera import runtime
from tessera.after_commit import defer, enclosing_connection
from tessera.outbox import store as outbox
from tessera.outbox.store import FollowUp
from tessera.plugin_host.events import DomainEvent
from tessera.scope import BrandScope


@dataclass
class UnitOfWork:
    scope: BrandScope
    connection: Any
    events: list[DomainEvent] = field(default_factory=list)
    follow_ups: list[FollowUp] = field(default_factory=list)

    def emit(self, name: str, **payload: Any) -> None:
        self.events.append(DomainEvent(name, self.scope.brand_id, payload))

    def follow_up(self, kind: str, *args: Any, key: str | None = None, **kwargs: Any) -> None:
        """Run the job ``kind`` after this unit of work commits (and never if
        it rolls back): written to the outbox in this transaction, so a crash
        after the commit cannot lose it. ``key`` coalesces (see
        :class:`~tessera.outbox.store.FollowUp`)."""
        self.follow_ups.append(FollowUp(kind, args, kwargs, key))


# What committed events ask for: each is ``"module:function"``, a plain
# ``def f(events) -> list[FollowUp]`` imported on first use (so this module
# imports no domain), called inside the transaction so its work is written
# with the change. Segments re-evaluate the members whose facts changed;
# activity facts earn their rewards; webhooks fan the events out.
FOLLOW_UPS: list[str] = [
    "tessera.segments.triggers:follow_ups",
    "tessera.rewards.triggers:follow_ups",
    "tessera.webhooks.triggers:follow_ups",
    "tessera.persons.linking:follow_ups",
    "tessera.channels.triggers:follow_ups",
]

_planners: dict[str, Callable[..., Any]] = {}
# Planners held back in this task (see :func:`holding`).
_held: ContextVar[frozenset[str]] = ContextVar("held_planners", default=frozenset())


@contextmanager
def holding(targets: frozenset[str]) -> Iterator[None]:
    """Skip the planners ``targets`` (entries of :data:`FOLLOW_UPS`) for the
    units of work of this task only: other requests and jobs of the process
    keep planning their follow-ups."""
    token = _held.set(_held.get() | targets)
    try:
        yield
    finally:
        _held.reset(token)


async def _planned(uow: UnitOfWork) -> list[FollowUp]:
    """Every planner's work for the unit's events. A planner that must read
    something first is ``async def f(events, uow)`` and reads through the
    unit's scope and connection."""
    work: list[FollowUp] = []
    held = _held.get()
    for target in FOLLOW_UPS:
        if target in held:
            continue
        planner = _planners.get(target)
        if planner is None:
            module, _, name = target.partition(":")
            planner = _planners[target] = getattr(import_module(module), name)
        if inspect.iscoroutinefunction(planner):
            work.extend(await planner(uow.events, uow))
        else:
            work.extend(planner(uow.events))
    return work


async def _after_commit(scope: BrandScope, events: list[DomainEvent], wrote_work: bool) -> None:
    if events:
        from tessera.plugin_host.dispatch import deliver

        await deliver(events, known=scope)
    if wrote_work:
        runtime.current().outbox.notify()


@asynccontextmanager
async def _transaction(joined: Any | None) -> AsyncIterator[Any]:
    # The one transaction the unit of work is (a savepoint inside an
    # enclosing one, or ``joined`` as it stands): every other module opens a
    # unit of work instead.
    if joined is not None:
        yield joined
        return
    async with in_transaction() as connection:
        yield connection


@asynccontextmanager
async def unit_of_work(
    scope: BrandScope, within: UnitOfWork | None = None, *, join: bool = False
) -> AsyncIterator[UnitOfWork]:
    """``join``: inside a caller's transaction (``within``'s, or an enclosing
    one) run on its connection with no savepoint, a round trip each way
    less. Only for work that fails no statement on the way to an answer it
    gives (a savepoint is what keeps the caller's transaction usable after a
    failed statement on PostgreSQL); what it emits joins the caller's only
    when it ends without raising."""
    if within is not None:
        async with _transaction(within.connection if join else None) as connection:
            inner = UnitOfWork(within.scope, connection)
            yield inner
        within.events.extend(inner.events)
        within.follow_ups.extend(inner.follow_ups)
        return
    async with _transaction(enclosing_connection() if join else None) as connection:
        uow = UnitOfWork(scope, connection)
        yield uow
        work = [*uow.follow_ups, *await _planned(uow)]
        if work:
            await outbox.write(scope, connection, work)
    if uow.events or work:
        published = (scope, uow.events, bool(work))
        if not defer(lambda: _after_commit(*published)):
            await _after_commit(*published)
