"""Recording and reading the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tessera.audit.models import AuditLogEntry
from tessera.scope import BrandScope


async def record(
    scope: BrandScope,
    action: str,
    outcome: str,
    details: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> AuditLogEntry:
    return await scope.create(
        AuditLogEntry,
        actor_kind=scope.actor.kind,
        actor_id=scope.actor.id,
        action=action,
        outcome=outcome,
        details=details or {},
        request_id=request_id,
    )


async def recent(scope: BrandScope, limit: int = 50) -> list[AuditLogEntry]:
    return await scope.query(AuditLogEntry).order_by("-id").limit(limit)


async def prune(scope: BrandScope, before: datetime) -> int:
    """Delete the brand's entries older than ``before``; returns how many went."""
    deleted: int = await scope.query(AuditLogEntry).filter(created_at__lt=before).delete()
    return deleted
