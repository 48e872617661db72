"""Thin job wrappers around segments, rule tags and lifecycle (docs/jobs.md).

Every job takes a brand id and works on that brand only, so brands retry
and fail on their own; the cron jobs only enqueue one job per brand.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tessera import runtime
from tessera.errors import DomainError
from tessera.scope import BrandScope
from tessera.segments import autotags, service
from tessera.segments import lifecycle as stages
from tessera.segments.models import Segment
from tessera.segments.service import RefreshTrigger, SegmentKind
from tessera.tenancy.models import Brand


async def enqueue_refresh(scope: BrandScope, segment_id: int, trigger: RefreshTrigger) -> None:
    """Refresh the segment in a job (with no Redis configured, before this
    returns), as ``createSegment``, ``updateSegment`` and ``refreshSegment`` do."""
    await runtime.current().queue.enqueue(
        "segments_refresh", scope.brand_id, segment_id, trigger.value
    )


async def refresh_later(scope: BrandScope, segment_id: int) -> Segment:
    """``refreshSegment``: a dynamic segment (or a static snapshot not yet
    taken) is refreshed by a job; a static list is refused (STATIC_SEGMENT)."""
    segment = await service.require_segment(scope, segment_id)
    if not service.needs_refresh(segment):
        raise DomainError(
            "STATIC_SEGMENT", "a static segment is a frozen list; it is not refreshed", ["id"]
        )
    await enqueue_refresh(scope, segment.id, RefreshTrigger.MANUAL)
    return segment


async def enqueue_tag_rule(scope: BrandScope, tag_id: int) -> None:
    """Evaluate the tag's new rule for everyone in a job, as ``setTagRule`` does."""
    await runtime.current().queue.enqueue("segments_tag_rules", scope.brand_id, tag_id)


async def _scope(brand_id: int) -> BrandScope | None:
    # A brand deleted since the job was enqueued took its rows with it.
    brand = await Brand.get_or_none(id=brand_id)
    return BrandScope(brand) if brand is not None else None


async def segments_refresh(
    ctx: dict[str, Any], brand_id: int, segment_id: int, trigger: str = "job"
) -> dict[str, int] | None:
    """Refresh one segment, then the dynamic segments that read it."""
    scope = await _scope(brand_id)
    if scope is None:
        return None
    try:
        refresh = await service.refresh_segment(scope, segment_id, trigger=RefreshTrigger(trigger))
    except DomainError:
        return None  # deleted, or a static list, since it was enqueued
    if refresh.entered or refresh.exited:
        for dependent in await service.dependents_of(scope, segment_id):
            await runtime.current().queue.enqueue(
                "segments_refresh", brand_id, dependent, RefreshTrigger.DEPENDENCY.value
            )
    return {"size": refresh.size, "entered": refresh.entered, "exited": refresh.exited}


async def segments_refresh_brand(
    ctx: dict[str, Any], brand_id: int, clock_only: bool = False
) -> int:
    """Refresh the brand's dynamic segments (only those whose rule reads the
    clock, with ``clock_only``), each after the segments it reads."""
    scope = await _scope(brand_id)
    if scope is None:
        return 0
    query = service.segments_query(scope).filter(kind=SegmentKind.DYNAMIC.value)
    if clock_only:
        query = query.filter(relative_time=True)
    segments = service.dependency_order(list(await query))
    trigger = RefreshTrigger.SCHEDULE if clock_only else RefreshTrigger.JOB
    for segment in segments:
        await service.refresh_segment(scope, segment.id, trigger=trigger)
    return len(segments)


async def segments_member_facts(
    ctx: dict[str, Any],
    brand_id: int,
    member_ids: list[int],
    lifecycle: bool = False,
    tags: bool = True,
) -> None:
    """Members' facts changed: their lifecycle (after orders, refunds,
    joining), rule tags and segments, in that order, since each may read the
    one before."""
    scope = await _scope(brand_id)
    if scope is None:
        return
    now = datetime.now(UTC)
    if lifecycle:
        await stages.recompute_members(scope, member_ids, now)
    if tags:
        await autotags.evaluate_members(scope, member_ids, now)
    await service.reevaluate_members(scope, member_ids, now)


async def segments_tag_rules(ctx: dict[str, Any], brand_id: int, tag_id: int | None = None) -> int:
    """Evaluate one rule tag (or all of the brand's) for everyone."""
    scope = await _scope(brand_id)
    if scope is None:
        return 0
    if tag_id is not None:
        try:
            await autotags.evaluate_tag(scope, tag_id)
        except DomainError:
            return 0  # deleted, or its rule removed, since it was enqueued
        return 1
    return len(await autotags.evaluate_all(scope))


async def segments_nightly(ctx: dict[str, Any], brand_id: int) -> None:
    """Lifecycle and RFM for every member (fresh quintiles), then rule tags,
    then every dynamic segment: the catch-up for what time alone changes."""
    scope = await _scope(brand_id)
    if scope is None:
        return
    await stages.recompute_brand(scope)
    await autotags.evaluate_all(scope)
    await segments_refresh_brand(ctx, brand_id)


async def _each_brand(job: str, stamp: str, **kwargs: Any) -> None:
    queue = runtime.current().queue
    for brand_id in await Brand.all().order_by("id").values_list("id", flat=True):
        await queue.enqueue(job, brand_id, job_id=f"{job}:{brand_id}:{stamp}", **kwargs)


async def schedule_clock_segments(ctx: dict[str, Any]) -> None:
    """Cron: refresh every brand's segments whose rules read the clock."""
    brands = [
        brand.id
        for brand in await Brand.all().order_by("id")
        if await BrandScope(brand)
        .query(Segment)
        .filter(kind=SegmentKind.DYNAMIC.value, relative_time=True)
        .exists()
    ]
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M")
    queue = runtime.current().queue
    for brand_id in brands:
        await queue.enqueue(
            "segments_refresh_brand",
            brand_id,
            clock_only=True,
            job_id=f"segments_refresh_brand:{brand_id}:{stamp}",
        )


async def schedule_nightly(ctx: dict[str, Any]) -> None:
    """Cron: the nightly lifecycle, rule tag and segment run of every brand."""
    await _each_brand("segments_nightly", datetime.now(UTC).strftime("%Y-%m-%d"))
