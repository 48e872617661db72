"""Thin job wrappers over :mod:`tessera.assets.expiry`, and the hourly tick
that schedules them for every brand.

Lots lapse and held points are released at the end of a day in the brand's
timezone; brands span timezones, so the tick runs every hour and each sweep
takes whatever is due (a lot is due from the instant its day ends). The
expiring-soon warning goes out once a day per brand, at :data:`WARN_HOUR`
local time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from tessera.assets import expiry
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand

WARN_HOUR = 9


async def _scope(brand_id: int) -> BrandScope | None:
    brand = await Brand.get_or_none(id=brand_id)
    return None if brand is None else BrandScope(brand)


async def expire_points(ctx: dict[str, Any], brand_id: int) -> int:
    """Expire one brand's due points lots; returns the points that lapsed."""
    scope = await _scope(brand_id)
    return 0 if scope is None else await expiry.expire_due_lots(scope)


async def release_pending_points(ctx: dict[str, Any], brand_id: int) -> int:
    """Release one brand's held points whose window has ended."""
    scope = await _scope(brand_id)
    return 0 if scope is None else await expiry.release_due_pending(scope)


async def warn_points_expiring(ctx: dict[str, Any], brand_id: int) -> int:
    """Tell plugins which members of one brand have points lapsing soon."""
    scope = await _scope(brand_id)
    return 0 if scope is None else await expiry.warn_expiring(scope)


async def points_tick(ctx: dict[str, Any]) -> None:
    """Cron (hourly): enqueue each brand's sweeps, one job per brand so each
    retries on its own; job ids name the hour (or local day) so a second tick
    in the same hour enqueues nothing."""
    queue = ctx["runtime"].queue
    now = datetime.now(UTC)
    hour = now.strftime("%Y-%m-%dT%H")
    for brand_id, timezone in await Brand.all().order_by("id").values_list("id", "timezone"):
        await queue.enqueue(
            "release_pending_points", brand_id, job_id=f"points_release:{brand_id}:{hour}"
        )
        await queue.enqueue("expire_points", brand_id, job_id=f"points_expire:{brand_id}:{hour}")
        local = now.astimezone(ZoneInfo(timezone))
        if local.hour == WARN_HOUR:
            await queue.enqueue(
                "warn_points_expiring",
                brand_id,
                job_id=f"points_warn:{brand_id}:{local.date().isoformat()}",
            )
