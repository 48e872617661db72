"""Tag, tag group and tag assignment types."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from tessera.schema.ids import encode_id
from tessera.schema.tags.dataloaders import TagGroupByIdLoader
from tessera.tags import models
from tessera.tags.service import TAG_COLUMNS, TagSource

strawberry.enum(
    TagSource,
    description="Who put a tag on a member. Each source's assignments are removed only by it "
    "(unless `untagMembers` is given `anySource: true`).",
)


@strawberry.type(description='A heading tags are filed under, e.g. "Lifecycle" or "Preferences".')
class TagGroup:
    pk: strawberry.Private[int]
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    code: str = strawberry.field(
        description="Stable code, unique in the brand; `tags(group:)` takes it."
    )
    name: str = strawberry.field(description="Display name.")
    description: str = strawberry.field(description="What the group is for.")

    @classmethod
    def from_model(cls, group: models.TagGroup) -> TagGroup:
        return cls(
            pk=group.id,
            id=strawberry.ID(encode_id("TagGroup", group.id)),
            code=group.code,
            name=group.name,
            description=group.description,
        )


@strawberry.type(description="A label operators, rules and plugins put on members to target them.")
class Tag:
    pk: strawberry.Private[int]
    group_pk: strawberry.Private[int | None]
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    code: str = strawberry.field(
        description="Stable code, unique in the brand; tagging, filters and segment rules use it."
    )
    name: str = strawberry.field(description="Display name.")
    description: str = strawberry.field(description="What the tag means, for operators.")
    default_expiry_days: int | None = strawberry.field(
        description="Assignments without their own `expiresAt` expire this many days after "
        "tagging; null: never."
    )
    created_at: datetime = strawberry.field(description="When the tag was created.")

    @strawberry.field(description="The group it is filed under, if any.")
    async def group(self, info: Info) -> TagGroup | None:
        if self.group_pk is None:
            return None
        found = await TagGroupByIdLoader.of(info).load(self.group_pk)
        return TagGroup.from_model(found) if found else None

    @classmethod
    def from_model(cls, tag: models.Tag) -> Tag:
        return cls.from_row({column: getattr(tag, column) for column in TAG_COLUMNS})

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Tag:
        """From a plain row of ``TAG_COLUMNS``."""
        return cls(
            pk=row["id"],
            group_pk=row["group_id"],
            id=strawberry.ID(encode_id("Tag", row["id"])),
            code=row["code"],
            name=row["name"],
            description=row["description"],
            default_expiry_days=row["default_expiry_days"],
            created_at=row["created_at"],
        )


@strawberry.type(description="A tag on a member, as one source put it there.")
class TagAssignment:
    tag: Tag = strawberry.field(description="The tag.")
    source: TagSource = strawberry.field(description="Who put it there.")
    expires_at: datetime | None = strawberry.field(description="When it lapses; null: never.")
    assigned_at: datetime = strawberry.field(description="When it was first put there.")

    @classmethod
    def from_model(cls, assignment: models.TagAssignment) -> TagAssignment:
        return cls(
            tag=Tag.from_model(assignment.tag),
            source=TagSource(assignment.source),
            expires_at=assignment.expires_at,
            assigned_at=assignment.created_at,
        )
