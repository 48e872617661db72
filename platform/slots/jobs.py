"""Recommendation and clustering jobs, one brand each; the cron only enqueues."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tessera import runtime
from tessera.scope import BrandScope
from tessera.slots import clusters, model
from tessera.tenancy.models import Brand


async def slots_build(ctx: dict[str, Any], brand_id: int) -> dict[str, int]:
    """Re-cluster one brand's members, then rebuild its co-purchase
    neighbours and popular lists (per segment and per cluster)."""
    brand = await Brand.get_or_none(id=brand_id)
    if brand is None:
        return {}
    scope = BrandScope(brand)
    found = await clusters.run_clustering(scope)
    report = await model.build(scope)
    return {
        "clusters": len(found),
        "purchases": report.purchases,
        "neighbours": report.neighbours,
        "popular": report.popular,
        "catalogue_added": report.catalogue_added,
    }


async def schedule_slots_build(ctx: dict[str, Any]) -> None:
    """Cron: the nightly model build of every brand."""
    queue = runtime.current().queue
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    for brand_id in await Brand.all().order_by("id").values_list("id", flat=True):
        await queue.enqueue("slots_build", brand_id, job_id=f"slots_build:{brand_id}:{stamp}")
