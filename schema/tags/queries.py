"""Reading tags and tag groups."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from tessera.schema.ids import decode_id
from tessera.schema.pagination import Connection, Window, paginate
from tessera.schema.permissions import CanRead
from tessera.schema.tags.types import Tag, TagGroup
from tessera.tags import service
from tessera.tags.models import Tag as TagModel


@strawberry.type
class TagQuery:
    @strawberry.field(
        description="The brand's tags ordered by code, optionally of one group (by its code) "
        "or matching `search` in code or name.",
        permission_classes=[CanRead],
    )
    async def tags(
        self,
        info: Info,
        group: str | None = None,
        search: str | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Tag]:
        return await paginate(
            service.tags_query(info.context.scope, group, search),
            Window(first, after, last, before),
            cap=info.context.settings.limits.page_size,
            to_node=Tag.from_model,
            sort_field="code",
        )

    @strawberry.field(
        description="One tag by id; null when there is none.", permission_classes=[CanRead]
    )
    async def tag(self, info: Info, id: strawberry.ID) -> Tag | None:
        pk = decode_id(id, "Tag")
        found = await info.context.scope.get(TagModel, pk) if pk is not None else None
        return Tag.from_model(found) if found else None

    @strawberry.field(description="The brand's tag groups, by name.", permission_classes=[CanRead])
    async def tag_groups(self, info: Info) -> list[TagGroup]:
        return [TagGroup.from_model(g) for g in await service.list_groups(info.context.scope)]
