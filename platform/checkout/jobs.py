"""Thin job wrappers over :func:`tessera.checkout.holds.expire_due_holds`,
and the tick that schedules them for every brand.

Holds last minutes, so the tick runs every minute; expiry is a UTC instant,
no brand timezone is involved. An expired hold is refused by ``recordOrder``
the moment it expires; the sweep only gives its points and coupons back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tessera.checkout.holds import expire_due_holds
from tessera.checkout.models import RewardHold
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand


async def expire_holds(ctx: dict[str, Any], brand_id: int) -> int:
    """Give back one brand's expired holds; returns how many expired."""
    brand = await Brand.get_or_none(id=brand_id)
    return 0 if brand is None else await expire_due_holds(BrandScope(brand))


async def holds_tick(ctx: dict[str, Any]) -> None:
    """Cron (every minute): one ``expire_holds`` job per brand with a hold due
    (one indexed look per brand);
    job ids name the minute, so a second tick in it enqueues nothing."""
    queue = ctx["runtime"].queue
    now = datetime.now(UTC)
    minute = now.strftime("%Y-%m-%dT%H:%M")
    for brand in await Brand.all().order_by("id"):
        scope = BrandScope(brand)
        if await scope.query(RewardHold).filter(status="held", expires_at__lte=now).exists():
            await queue.enqueue(
                "expire_holds", brand.id, job_id=f"holds_expire:{brand.id}:{minute}"
            )
