"""The ``Segment`` type and what hangs off it."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from tessera.schema.ids import encode_id
from tessera.schema.members.types import Member, member_from_model
from tessera.schema.pagination import Connection, Window, paginate
from tessera.schema.segments.dataloaders import (
    LastRefreshBySegmentIdLoader,
    SizeHistoryBySegmentIdLoader,
)
from tessera.segments import models, service


@strawberry.enum(description="How a segment's members are decided.")
class SegmentKind(Enum):
    DYNAMIC = strawberry.enum_value(
        "dynamic",
        description="Its rule decides: re-evaluated on refresh, on a schedule when the rule "
        "reads the clock, and within seconds for a member whose facts change.",
    )
    STATIC = strawberry.enum_value(
        "static",
        description="A frozen list: a snapshot of a rule taken at creation, or uploaded "
        "identities (`importSegmentMembers`).",
    )


@strawberry.type(description="One full materialisation of a segment.")
class SegmentRefresh:
    trigger: str = strawberry.field(
        description="What started it: manual, created, schedule, job, import or dependency."
    )
    started_at: datetime = strawberry.field(description="When it started (its evaluation time).")
    duration_ms: int = strawberry.field(description="How long it took, in milliseconds.")
    size: int = strawberry.field(description="Members in the segment afterwards.")
    entered: int = strawberry.field(description="Members who entered.")
    exited: int = strawberry.field(description="Members who left.")

    @classmethod
    def from_model(cls, row: models.SegmentRefresh) -> SegmentRefresh:
        return cls(
            trigger=row.trigger,
            started_at=row.started_at,
            duration_ms=row.duration_ms,
            size=row.size,
            entered=row.entered,
            exited=row.exited,
        )


@strawberry.type(description="The size of a segment at one moment.")
class SegmentSizePoint:
    recorded_at: datetime = strawberry.field(description="When (a full refresh).")
    size: int = strawberry.field(description="How many members it had.")


@strawberry.type(description="A named group of members, stored so it can be read fast.")
class Segment:
    pk: strawberry.Private[int]
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    name: str = strawberry.field(description="Name, unique in the brand.")
    description: str = strawberry.field(description="What it is for, for operators.")
    kind: SegmentKind = strawberry.field(description="Dynamic (a rule) or static (a list).")
    rule: JSON | None = strawberry.field(
        description="The rule (see `segmentRuleSchema`); for a static snapshot, the rule it "
        "was taken from; null for an uploaded list."
    )
    reads_clock: bool = strawberry.field(
        description="The rule's result changes with time alone (relative windows, birthdays, "
        "tag expiry), so it is also refreshed on a schedule."
    )
    count: int = strawberry.field(description="Members in the stored membership now.")
    refreshed_at: datetime | None = strawberry.field(
        description="When it was last fully refreshed; null before the first refresh."
    )
    created_at: datetime = strawberry.field(description="When it was created.")

    @strawberry.field(
        description="The segment's members as stored at its last refresh or change, by id."
    )
    async def members(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Member]:
        return await paginate(
            service.members_query(info.context.scope, self.pk),
            Window(first, after, last, before),
            cap=info.context.settings.limits.page_size,
            to_node=member_from_model,
        )

    @strawberry.field(description="The latest full refresh; null before the first.")
    async def last_refresh(self, info: Info) -> SegmentRefresh | None:
        row = await LastRefreshBySegmentIdLoader.of(info).load(self.pk)
        return SegmentRefresh.from_model(row) if row else None

    @strawberry.field(
        description=f"Size after each full refresh, newest first (at most "
        f"{service.SIZE_HISTORY_LIMIT} points)."
    )
    async def size_history(self, info: Info) -> list[SegmentSizePoint]:
        rows = await SizeHistoryBySegmentIdLoader.of(info).load(self.pk)
        return [SegmentSizePoint(recorded_at=r.recorded_at, size=r.size) for r in rows]

    @classmethod
    def from_model(cls, segment: models.Segment) -> Segment:
        return cls(
            pk=segment.id,
            id=strawberry.ID(encode_id("Segment", segment.id)),
            name=segment.name,
            description=segment.description,
            kind=SegmentKind(segment.kind),
            rule=segment.rule,
            reads_clock=segment.relative_time,
            count=segment.size,
            refreshed_at=segment.refreshed_at,
            created_at=segment.created_at,
        )
