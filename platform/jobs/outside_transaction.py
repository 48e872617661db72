"""Jobs are enqueued only after the work that asked for them has committed."""

from __future__ import annotations

from tortoise import connections
from tortoise.backends.base.client import TransactionalDBClient
from tortoise.exceptions import ConfigurationError


class EnqueuedInTransaction(RuntimeError):
    """A job was enqueued inside an open database transaction."""


def refuse_inside_transaction(job: str) -> None:
    """Raise :class:`EnqueuedInTransaction` when called inside a transaction.

    Under arq a job enqueued mid-transaction may run before the commit (and
    not see the rows it was enqueued for) or after a rollback; in-process on
    SQLite it would wait forever for the caller's lock. Both queues refuse it
    alike, so the mistake shows in the first test rather than in production.
    """
    try:
        connection = connections.get("default")
    except (ConfigurationError, RuntimeError, KeyError):
        return  # no database configured in this process: no transaction either
    if isinstance(connection, TransactionalDBClient):
        raise EnqueuedInTransaction(
            f"job {job!r} enqueued inside a database transaction; "
            "enqueue it after the transaction (or unit of work) has committed"
        )
