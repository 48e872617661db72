"""Reading members: by id, by identity, and as a filtered connection."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from tessera.members import merge, service
from tessera.members.search import MemberFilter, filtered_members, first_page
from tessera.schema.ids import decode_id
from tessera.schema.members.dataloaders import MemberByIdLoader
from tessera.schema.members.filters import MemberFilterInput, MemberSort
from tessera.schema.members.identities import IdentityKind
from tessera.schema.members.preload import fields_at, preload
from tessera.schema.members.types import Member, columns_for
from tessera.schema.pagination import Connection, Window, connection_of, paginate, row_cursor
from tessera.schema.permissions import CanRead


@strawberry.type
class MemberQuery:
    @strawberry.field(
        description="A member by id; null when the brand has none with this id. The id of a "
        "member merged into another (a tombstone) answers the survivor, whose `id` differs "
        "from the one asked for (docs/merge.md).",
        permission_classes=[CanRead],
    )
    async def member(self, info: Info, id: strawberry.ID) -> Member | None:
        pk = decode_id(id, "Member")
        found = await MemberByIdLoader.of(info).load(pk) if pk is not None else None
        if found is not None and found.merged_into_id is not None:
            survivor = await merge.resolve(info.context.scope, found.id)
            found = await MemberByIdLoader.of(info).load(survivor)
        return Member.from_model(found) if found else None

    @strawberry.field(
        description="A member by identity; the value is normalised as on writes (a phone "
        "without `+` is read in the brand's region). Null when nobody has it; an invalid "
        "value is an error with code INVALID_PHONE, INVALID_EMAIL or INVALID_IDENTITY.",
        permission_classes=[CanRead],
    )
    async def member_by_identity(self, info: Info, kind: IdentityKind, value: str) -> Member | None:
        found = await service.find_by_identity(info.context.scope, kind.value, value)
        return Member.from_model(found) if found else None

    @strawberry.field(
        description="The brand's members matching `filter`, in `sort` order (default: newest "
        "joined first). Unknown tag codes or attribute keys are errors (UNKNOWN_TAG, "
        "UNKNOWN_ATTRIBUTE).",
        permission_classes=[CanRead],
    )
    async def members(
        self,
        info: Info,
        filter: MemberFilterInput | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        sort: MemberSort = MemberSort.JOINED_AT_DESC,
        segment_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description="Only members of this segment, as stored at its last refresh "
                "or change; another brand's segment is NOT_FOUND."
            ),
        ] = None,
    ) -> Connection[Member]:
        wanted = filter.to_domain() if filter else MemberFilter()
        scope = info.context.scope
        query = await filtered_members(scope, wanted)
        window = Window(first, after, last, before)
        cap = info.context.settings.limits.page_size
        selected = fields_at(info, ("edges", "node"))
        columns = columns_for(selected, sort.field)
        if segment_id is None and window.plain and wanted == MemberFilter():
            # The page every console opens: its statement is written out once.
            size = window.size(cap)
            rows = await first_page(scope, sort, size + 1, columns)
            page = connection_of(
                rows, window, size, row_cursor(sort.field), Member.from_row, query.count
            )
        else:
            if segment_id is not None:
                from tessera.schema.segments.queries import members_in_segment

                query = await members_in_segment(info, query, segment_id)
            page = await paginate(
                query,
                window,
                cap=cap,
                to_node=Member.from_row,
                sort_field=sort.field,
                descending=sort.descending,
                columns=columns,
            )
        await preload(info, [edge.node for edge in page.edges], selected)
        return page
