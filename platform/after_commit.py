"""Work that must wait until an enclosing transaction commits.

A mutation runs in one transaction with its audit entry
(``tessera.schema.audit``); the units of work and job enqueues inside it hand
what follows their commit (event delivery, jobs) to :func:`defer`, which runs
it once the enclosing transaction has committed, and drops it when that rolls
back. Outside an enclosing transaction nothing is deferred.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from tortoise.transactions import in_transaction

Callback = Callable[[], Awaitable[Any]]
_held: ContextVar[list[Callback] | None] = ContextVar("tessera_after_commit", default=None)


def defer(callback: Callback) -> bool:
    """Hold ``callback`` until the enclosing transaction commits; False when
    there is none (the caller runs it now)."""
    held = _held.get()
    if held is None:
        return False
    held.append(callback)
    return True


def in_enclosing_transaction() -> bool:
    return _held.get() is not None


@asynccontextmanager
async def enclosing_transaction() -> AsyncIterator[Any]:
    """A transaction whose inner units of work defer their after-commit work
    to its own commit. Nests as a savepoint, handing its work to the outer one."""
    parent = _held.get()
    held: list[Callback] = []
    token = _held.set(held)
    try:
        # The enclosing transaction itself: units of work inside it defer to
        # it, so it cannot be one of them.
        async with in_transaction() as connection:
            yield connection
    finally:
        _held.reset(token)
    if parent is not None:
        parent.extend(held)
        return
    for callback in held:
        await callback()
