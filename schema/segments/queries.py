"""Reading stored segments."""

from __future__ import annotations

import strawberry
from strawberry.types import Info
from tortoise.expressions import Subquery
from tortoise.queryset import QuerySet

from tessera.members.models import Member as MemberModel
from tessera.schema.errors import NotFound
from tessera.schema.ids import decode_id
from tessera.schema.pagination import Connection, Window, paginate
from tessera.schema.permissions import CanRead
from tessera.schema.segments.types import Segment
from tessera.segments import service
from tessera.segments.models import Segment as SegmentModel


@strawberry.type
class SegmentQuery:
    @strawberry.field(description="The brand's segments, by name.", permission_classes=[CanRead])
    async def segments(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Segment]:
        return await paginate(
            service.segments_query(info.context.scope),
            Window(first, after, last, before),
            cap=info.context.settings.limits.page_size,
            to_node=Segment.from_model,
            sort_field="name",
        )

    @strawberry.field(
        description="One segment by id; null when the brand has none with this id.",
        permission_classes=[CanRead],
    )
    async def segment(self, info: Info, id: strawberry.ID) -> Segment | None:
        pk = decode_id(id, "Segment")
        found = await info.context.scope.get(SegmentModel, pk) if pk is not None else None
        return Segment.from_model(found) if found else None


async def members_in_segment(
    info: Info, query: QuerySet[MemberModel], segment_id: strawberry.ID
) -> QuerySet[MemberModel]:
    """``query`` narrowed to the segment's stored members, for
    ``members(segmentId:)``; another brand's segment is NOT_FOUND."""
    scope = info.context.scope
    pk = decode_id(segment_id, "Segment")
    if pk is None or not await service.segments_query(scope).filter(id=pk).exists():
        raise NotFound("no such segment")
    return query.filter(id__in=Subquery(service.members_in(scope, pk).values("member_id")))
