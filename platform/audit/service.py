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
) -> AuditLogEntry:
    """Write one entry, in the current transaction if there is one. A
    hand-built insert: every mutation writes one, and the ORM's query
    building cost more than the insert."""
    conn = connections.get("default")
    values: dict[str, Any] = {
        "brand_id": scope.brand_id,
        "actor_kind": scope.actor.kind,
        "actor_id": scope.actor.id,
        "action": action,
        "outcome": outcome,
        "details": details or {},
        "request_id": request_id,
        "created_at": datetime.now(UTC),
    }
    params = [*values.values()]
    params[5] = json.dumps(params[5], separators=(",", ":"))
    postgres = conn.capabilities.dialect == "postgres"
    marks = ", ".join(f"${i}" if postgres else "?" for i in range(1, len(params) + 1))
    rows = await conn.execute_query_dict(
        f"INSERT INTO audit_log_entry ({', '.join(values)}) VALUES ({marks}) RETURNING id",
        params,
    )
    return AuditLogEntry._init_from_db(id=rows[0]["id"], **values)


async def recent(scope: BrandScope, limit: int = 50) -> list[AuditLogEntry]:
    return await scope.query(AuditLogEntry).order_by("-id").limit(limit)


async def prune(scope: BrandScope, before: datetime) -> int:
    """Delete the brand's entries older than ``before``; returns how many went."""
    deleted: int = await scope.query(AuditLogEntry).filter(created_at__lt=before).delete()
    return deleted
