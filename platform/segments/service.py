"""Segments: defining them, and keeping their stored membership current.

A **dynamic** segment holds the members its rule matches: a full refresh
re-evaluates the rule for everyone (on demand, by a job, on a schedule for
rules that read the clock), and :func:`reevaluate_members` re-evaluates every
dynamic segment of the brand for a few members whose facts just changed, with
the same compiled statement restricted to their ids. A **static** segment is
a frozen list: a one-off snapshot of a rule, or uploaded identities
(:mod:`tessera.segments.imports`).

Refreshes lock their segment's row (PostgreSQL), never a table, so one
brand's refreshes never wait for another's. Each full refresh records its
duration, size and entered/exited counts, and a point of size history.
Entries and exits are announced to plugins as ``segment.entered`` /
``segment.exited`` events carrying up to :data:`EVENT_CHUNK` member ids each.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from graphlib import CycleError, TopologicalSorter
from typing import Any

from tortoise import connections
from tortoise.expressions import F, Subquery
from tortoise.queryset import QuerySet

from tessera.errors import DomainError
from tessera.members.models import Member
from tessera.scope import BrandScope
from tessera.segments import materialise
from tessera.segments.materialise import Diff, Source, Target
from tessera.segments.models import (
    Segment,
    SegmentMembership,
    SegmentRefresh,
    SegmentSizeHistory,
)
from tessera.segments.rules import SegmentCondition, walk
from tessera.segments.rulesource import CheckedRule, check_rule, parsed, rule_source
from tessera.tags.models import Tag
from tessera.uow import UnitOfWork, unit_of_work

EVENT_CHUNK = 1000


class SegmentKind(StrEnum):
    DYNAMIC = "dynamic"
    STATIC = "static"


class RefreshTrigger(StrEnum):
    MANUAL = "manual"
    CREATED = "created"
    SCHEDULE = "schedule"
    JOB = "job"
    IMPORT = "import"
    DEPENDENCY = "dependency"


def _now() -> datetime:
    return datetime.now(UTC)


def membership_target(segment_id: int) -> Target:
    return Target(
        SegmentMembership._meta.db_table,
        {"segment_id": segment_id},
        "entered_at",
        ("segment_id", "member_id"),
    )


# Reading


def segments_query(scope: BrandScope) -> QuerySet[Segment]:
    return scope.query(Segment)


async def require_segment(scope: BrandScope, segment_id: int | None, field: str = "id") -> Segment:
    segment = await scope.get(Segment, segment_id) if segment_id is not None else None
    if segment is None:
        raise DomainError("NOT_FOUND", "no such segment", [field])
    return segment


def members_in(scope: BrandScope, segment_id: int) -> QuerySet[SegmentMembership]:
    """The stored membership of one of the brand's segments."""
    return scope.query(SegmentMembership).filter(segment_id=segment_id)


async def last_refreshes(
    scope: BrandScope, segment_ids: Sequence[int]
) -> dict[int, SegmentRefresh]:
    """The latest full refresh of each segment, in one query."""
    rows = (
        await scope.query(SegmentRefresh)
        .filter(segment_id__in=list(segment_ids))
        .order_by("segment_id", "-started_at", "-id")
    )
    latest: dict[int, SegmentRefresh] = {}
    for row in rows:
        latest.setdefault(row.segment_id, row)
    return latest


SIZE_HISTORY_LIMIT = 100


async def size_history(
    scope: BrandScope, segment_ids: Sequence[int], limit: int = SIZE_HISTORY_LIMIT
) -> dict[int, list[SegmentSizeHistory]]:
    """The last ``limit`` size points of each segment, newest first, in one
    query (a window function keeps the rest of a long history in the table)."""
    result: dict[int, list[SegmentSizeHistory]] = {s: [] for s in segment_ids}
    if not segment_ids:
        return result
    connection = connections.get("default")
    stmt = materialise.Statement(connection.capabilities.dialect)
    table = SegmentSizeHistory._meta.db_table
    rows = await connection.execute_query_dict(
        "SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY segment_id "
        f'ORDER BY recorded_at DESC, id DESC) AS n FROM "{table}" '
        f"WHERE brand_id = {stmt(scope.brand_id)} AND segment_id IN ({stmt.ids(segment_ids)})) "
        f"AS h WHERE n <= {stmt(limit)}",
        stmt.params,
    )
    points = (
        await scope.query(SegmentSizeHistory)
        .filter(id__in=[r["id"] for r in rows])
        .order_by("segment_id", "-recorded_at", "-id")
    )
    for point in points:
        result[point.segment_id].append(point)
    return result


def members_query(scope: BrandScope, segment_id: int) -> QuerySet[Member]:
    """The brand's members in the segment's stored membership."""
    return scope.query(Member).filter(
        id__in=Subquery(members_in(scope, segment_id).values("member_id"))
    )


# Defining


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 200:
        raise DomainError("INVALID", "name is 1-200 characters", ["name"])
    return name


async def _check_name_free(scope: BrandScope, name: str, own_id: int | None = None) -> None:
    query = scope.query(Segment).filter(name=name)
    if own_id is not None:
        query = query.exclude(id=own_id)
    if await query.exists():
        raise DomainError("DUPLICATE", f"a segment named {name!r} exists", ["name"])


async def _dependencies(scope: BrandScope, rule: dict[str, Any], own_id: int | None) -> list[int]:
    """The segments ``rule`` reads, checked to exist in the brand and not to
    lead back to ``own_id`` (a cycle)."""
    checked = await check_rule(scope, rule)
    depends = sorted(checked.references)
    graph = {
        s.id: set(s.depends_on or []) for s in await scope.query(Segment).only("id", "depends_on")
    }
    if own_id is not None:
        if own_id in depends:
            raise DomainError(
                "CYCLE", "a segment cannot contain itself", _path_to(checked, {own_id})
            )
        graph[own_id] = set(depends)
        try:
            TopologicalSorter(graph).prepare()
        except CycleError as error:
            circle = list(error.args[1])
            names = await _names(scope, circle)
            raise DomainError(
                "CYCLE",
                "segments cannot depend on each other in a circle: " + " → ".join(names),
                _path_to(checked, set(circle)),
            ) from None
    return depends


def _path_to(checked: CheckedRule, segment_ids: set[int]) -> list[str]:
    """The path of the rule's first condition on one of ``segment_ids``."""
    for path, node, _ in walk(checked.rule, ["rule"]):
        if isinstance(node, SegmentCondition) and node.segment in segment_ids:
            return [*path, "segment"]
    return ["rule"]


async def _names(scope: BrandScope, ids: Sequence[int]) -> list[str]:
    found = dict(await scope.query(Segment).filter(id__in=list(ids)).values_list("id", "name"))
    return [found.get(i, f"#{i}") for i in ids]


async def create_segment(
    scope: BrandScope,
    name: str,
    kind: SegmentKind,
    *,
    rule: dict[str, Any] | None = None,
    description: str = "",
) -> Segment:
    """A new segment, empty until its first refresh (which the caller
    enqueues: :func:`needs_refresh`). A static segment with a rule is a
    snapshot taken at that refresh; without one it waits for an upload."""
    name = _check_name(name)
    if kind is SegmentKind.DYNAMIC and rule is None:
        raise DomainError("INVALID", "a dynamic segment needs a rule", ["rule"])
    depends = await _dependencies(scope, rule, None) if rule is not None else []
    await _check_name_free(scope, name)
    return await scope.create(
        Segment,
        name=name,
        description=description,
        kind=kind.value,
        rule=rule,
        depends_on=depends,
        relative_time=rule is not None and parsed(rule).reads_clock,
    )


def needs_refresh(segment: Segment) -> bool:
    """Whether a refresh would change anything: dynamic segments always; a
    static snapshot only before it was taken."""
    if segment.kind == SegmentKind.DYNAMIC:
        return True
    return segment.rule is not None and segment.refreshed_at is None


async def update_segment(scope: BrandScope, segment_id: int, changes: Mapping[str, Any]) -> Segment:
    """Change ``name``, ``description`` or (dynamic segments) ``rule``."""
    segment = await require_segment(scope, segment_id)
    if "name" in changes:
        segment.name = _check_name(changes["name"] or "")
        await _check_name_free(scope, segment.name, segment.id)
    if "description" in changes:
        segment.description = changes["description"] or ""
    if "rule" in changes:
        if segment.kind != SegmentKind.DYNAMIC:
            raise DomainError("STATIC_SEGMENT", "a static segment's list is frozen", ["rule"])
        if changes["rule"] is None:
            raise DomainError("INVALID", "a dynamic segment needs a rule", ["rule"])
        segment.depends_on = await _dependencies(scope, changes["rule"], segment.id)
        segment.rule = changes["rule"]
        segment.relative_time = parsed(segment.rule).reads_clock
    await segment.save()
    return segment


async def delete_segment(scope: BrandScope, segment_id: int) -> None:
    """Delete the segment and its membership; refused while another segment's
    or a tag's rule reads it."""
    segment = await require_segment(scope, segment_id)
    readers = [
        s.name
        for s in await scope.query(Segment).exclude(id=segment.id)
        if segment.id in (s.depends_on or [])
    ]
    readers += [
        f"tag {t.code}"
        for t in await scope.query(Tag).filter(rule__isnull=False)
        if segment.id in parsed(t.rule).references
    ]
    if readers:
        raise DomainError(
            "IN_USE", "rules still read this segment: " + ", ".join(sorted(readers)), ["id"]
        )
    async with unit_of_work(scope) as uow:
        await members_in(scope, segment.id).using_db(uow.connection).delete()
        await segment.delete(using_db=uow.connection)


# Materialising


def emit_changes(uow: UnitOfWork, name: str, key: str, key_value: Any, diff: Diff) -> None:
    """``name.entered`` / ``name.exited`` events with the member ids in chunks
    (``total`` says how many in all; ``truncated`` when the ids stop short)."""
    for suffix, ids, total in (
        ("entered", diff.entered_ids, diff.entered),
        ("exited", diff.exited_ids, diff.exited),
    ):
        for start in range(0, len(ids), EVENT_CHUNK):
            uow.emit(
                f"{name}.{suffix}",
                **{key: key_value},
                member_ids=ids[start : start + EVENT_CHUNK],
                total=total,
                truncated=len(ids) < total,
            )


async def refresh_segment(
    scope: BrandScope,
    segment_id: int,
    *,
    trigger: RefreshTrigger = RefreshTrigger.MANUAL,
    now: datetime | None = None,
) -> SegmentRefresh:
    """Re-evaluate the segment's rule for every member and store the result."""
    now = now or _now()
    segment = await require_segment(scope, segment_id)
    if not needs_refresh(segment):
        raise DomainError(
            "STATIC_SEGMENT", "a static segment is a frozen list; it is not refreshed", ["id"]
        )

    async def matching(connection: Any, locked: Segment) -> Source:
        return await rule_source(scope, locked.rule, now, connection)

    return await _store(scope, segment, matching, trigger, now)


async def replace_members(
    scope: BrandScope,
    segment: Segment,
    member_ids: Sequence[int],
    *,
    add: bool = False,
    now: datetime | None = None,
) -> SegmentRefresh:
    """Make a static segment's list ``member_ids`` (or add them to it)."""
    now = now or _now()
    if segment.kind != SegmentKind.STATIC:
        raise DomainError("DYNAMIC_SEGMENT", "members of a dynamic segment follow its rule", ["id"])
    if add:
        stmt = materialise.Statement(_dialect())
        kept = (
            f'SELECT member_id AS id FROM "{SegmentMembership._meta.db_table}" '
            f"WHERE brand_id = {stmt(scope.brand_id)} AND segment_id = {stmt(segment.id)}"
        )
        source = Source(f"{kept} UNION {stmt.ids(member_ids)}", stmt.params)
    else:
        source = materialise.ids_source(member_ids, _dialect())

    async def listed(connection: Any, locked: Segment) -> Source:
        return source

    return await _store(scope, segment, listed, RefreshTrigger.IMPORT, now)


def _dialect() -> str:
    dialect: str = connections.get("default").capabilities.dialect
    return dialect


async def _store(
    scope: BrandScope,
    segment: Segment,
    source: Callable[[Any, Segment], Awaitable[Source]],
    trigger: RefreshTrigger,
    now: datetime,
) -> SegmentRefresh:
    started = time.perf_counter()
    async with unit_of_work(scope) as uow:
        conn = uow.connection
        # The segment's row lock serialises refreshes of this segment only;
        # the rule is read under it, so a concurrent update is never half-seen.
        locked = (
            await scope.query(Segment)
            .using_db(conn)
            .filter(id=segment.id)
            .select_for_update()
            .first()
        )
        if locked is None:
            raise DomainError("NOT_FOUND", "no such segment", ["id"])
        diff = await materialise.apply(
            conn, scope.brand_id, membership_target(segment.id), await source(conn, locked), now
        )
        size = await materialise.count(conn, scope.brand_id, membership_target(segment.id))
        await (
            scope.query(Segment)
            .using_db(conn)
            .filter(id=segment.id)
            .update(size=size, refreshed_at=now)
        )
        await scope.create(
            SegmentSizeHistory, using_db=conn, segment_id=segment.id, recorded_at=now, size=size
        )
        refresh = await scope.create(
            SegmentRefresh,
            using_db=conn,
            segment_id=segment.id,
            trigger=trigger.value,
            started_at=now,
            duration_ms=int((time.perf_counter() - started) * 1000),
            size=size,
            entered=diff.entered,
            exited=diff.exited,
        )
        emit_changes(uow, "segment", "segment_id", segment.id, diff)
    segment.size, segment.refreshed_at = size, now
    return refresh


def dependency_order(segments: Sequence[Segment]) -> list[Segment]:
    """``segments`` with every segment after those it reads."""
    by_id = {s.id: s for s in segments}
    graph = {s.id: {d for d in (s.depends_on or []) if d in by_id} for s in segments}
    return [by_id[i] for i in TopologicalSorter(graph).static_order()]


async def reevaluate_members(
    scope: BrandScope, member_ids: Sequence[int], now: datetime | None = None
) -> dict[int, Diff]:
    """Re-evaluate every dynamic segment for ``member_ids`` only (their facts
    changed), segments read by others first; returns the changes by segment."""
    if not member_ids:
        return {}
    now = now or _now()
    changes: dict[int, Diff] = {}
    async with unit_of_work(scope) as uow:
        conn = uow.connection
        segments = list(
            await scope.query(Segment)
            .using_db(conn)
            .filter(kind=SegmentKind.DYNAMIC.value)
            .order_by("id")
            .select_for_update()
        )
        for segment in dependency_order(segments):
            diff = await materialise.apply(
                conn,
                scope.brand_id,
                membership_target(segment.id),
                await rule_source(scope, segment.rule, now, conn),
                now,
                only=member_ids,
            )
            if diff.entered or diff.exited:
                changes[segment.id] = diff
                await (
                    scope.query(Segment)
                    .using_db(conn)
                    .filter(id=segment.id)
                    .update(size=F("size") + (diff.entered - diff.exited))
                )
                emit_changes(uow, "segment", "segment_id", segment.id, diff)
    return changes


async def dependents_of(scope: BrandScope, segment_id: int) -> list[int]:
    """Dynamic segments whose rule reads ``segment_id``."""
    return [
        s.id
        for s in await scope.query(Segment).filter(kind=SegmentKind.DYNAMIC.value)
        if segment_id in (s.depends_on or [])
    ]
