"""Where a coupon write reads: in the caller's unit of work when it passes one
(the order and tier integrations do, so a coupon moves with their facts; the
write itself runs in ``unit_of_work(scope, uow)``, a savepoint of theirs)."""

from __future__ import annotations

from typing import Any

from tessera.uow import UnitOfWork


def connection_of(uow: UnitOfWork | None) -> Any:
    """For reads before the write: the caller's transaction, so they see its rows."""
    return uow.connection if uow is not None else None
