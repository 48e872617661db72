"""Recording and reading the audit log."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from tortoise import connections

from tessera.audit.models import AuditLogEntry
from tessera.scope import BrandScope


async def record(
    scope: BrandScope,
    action: str,
    outcome: str,
    details: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> None:
    """Write one entry, in the current transaction if there is one. A
    hand-built insert: every mutation writes one, and the ORM's query
    building cost more than the insert."""
    conn = connections.get("default")
    values = [
        scope.brand_id,
        scope.actor.kind,
        scope.actor.id,
        action,
        outcome,
        json.dumps(details or {}, separators=(",", ":")),
        request_id,
        datetime.now(UTC),
    ]
    postgres = conn.capabilities.dialect == "postgres"
    marks = ", ".join(f"${i}" if postgres else "?" for i in range(1, len(values) + 1))
    await conn.execute_query(
        "INSERT INTO audit_log_entry (brand_id, actor_kind, actor_id, action, outcome, "
        f"details, request_id, created_at) VALUES ({marks})",
        values,
    )


async def recent(scope: BrandScope, limit: int = 50) -> list[AuditLogEntry]:
    return await scope.query(AuditLogEntry).order_by("-id").limit(limit)


async def prune(scope: BrandScope, before: datetime) -> int:
    """Delete the brand's entries older than ``before``; returns how many went."""
    deleted: int = await scope.query(AuditLogEntry).filter(created_at__lt=before).delete()
    return deleted
