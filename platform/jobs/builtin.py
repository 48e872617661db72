"""Jobs the platform itself runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tessera.audit import service as audit
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand


async def ping(ctx: dict[str, Any]) -> str:
    """Proves a worker is consuming the queue (an operator enqueues it and waits)."""
    return "pong"


async def audit_prune(ctx: dict[str, Any], brand_id: int, older_than_days: int) -> int:
    """Delete one brand's audit log entries older than ``older_than_days`` days;
    returns how many went. Safe to repeat: a second run finds nothing older."""
    if older_than_days < 1:
        raise ValueError(f"older_than_days must be at least 1, got {older_than_days}")
    brand = await Brand.get_or_none(id=brand_id)
    if brand is None:
        # Deleted since the job was enqueued: its entries went with it (cascade).
        return 0
    return await audit.prune(BrandScope(brand), datetime.now(UTC) - timedelta(days=older_than_days))
