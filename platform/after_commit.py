"""Work that must wait until an enclosing transaction commits.

A mutation runs in one transaction with its audit entry
(``tessera.schema.audit``); the units of work and job enqueues inside it hand
what follows their commit (event delivery, jobs) to :func:`defer`, which runs
it once the enclosing transaction has committed, and drops it when that rolls
back. Outside an enclosing transaction nothing is deferred.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from tortoise.transactions import in_transaction

Callback = Callable[[], Awaitable[Any]]
_held: ContextVar[list[Callback] | None] = ContextVar("tessera_after_commit", default=None)
_ended: ContextVar[list[Callback] | None] = ContextVar("tessera_after_transaction", default=None)
_connection: ContextVar[Any] = ContextVar("tessera_enclosing_connection", default=None)
log = logging.getLogger("tessera.after_commit")


def defer(callback: Callback) -> bool:
    """Hold ``callback`` until the enclosing transaction commits; False when
    there is none (the caller runs it now)."""
    held = _held.get()
    if held is None:
        return False
    held.append(callback)
    return True


def after_transaction(callback: Callback) -> bool:
    """Hold ``callback`` until the enclosing transaction has ended, committed
    or rolled back: for a note that must outlast a refusal (a duplicate
    candidate found by a write that was then refused). False when there is
    none (the caller runs it now). A failing callback is logged, not raised."""
    ended = _ended.get()
    if ended is None:
        return False
    ended.append(callback)
    return True


def in_enclosing_transaction() -> bool:
    return _held.get() is not None


def enclosing_connection() -> Any | None:
    """The enclosing transaction's connection (None outside one): a unit of
    work may join it rather than nest a savepoint in it."""
    return _connection.get()


@asynccontextmanager
async def enclosing_transaction() -> AsyncIterator[Any]:
    """A transaction whose inner units of work defer their after-commit work
    to its own commit. Nests as a savepoint, handing its work to the outer one."""
    parent = _held.get()
    held: list[Callback] = []
    token = _held.set(held)
    outer = _ended.get()
    ended: list[Callback] = []
    ended_token = _ended.set(ended)
    try:
        # The enclosing transaction itself: units of work inside it defer to
        # it, so it cannot be one of them.
        async with in_transaction() as connection:
            connection_token = _connection.set(connection)
            try:
                yield connection
            finally:
                _connection.reset(connection_token)
    finally:
        _held.reset(token)
        _ended.reset(ended_token)
        if outer is not None:
            outer.extend(ended)
        else:
            for callback in ended:
                try:
                    await callback()
                except Exception:
                    log.exception("work after a transaction failed")
    if parent is not None:
        parent.extend(held)
        return
    for callback in held:
        await callback()
