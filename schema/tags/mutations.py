"""Defining tags and tag groups (manage scope: they are part of the programme)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from tessera.schema.errors import UserError
from tessera.schema.ids import require_id
from tessera.schema.permissions import CanManage
from tessera.schema.tags.types import Tag, TagGroup
from tessera.tags import service


@strawberry.input(description="A new tag.")
class CreateTagInput:
    code: str = strawberry.field(
        description="Stable code, unique in the brand: letters, digits, _ . : -"
    )
    name: str = strawberry.field(description="Display name.")
    description: str = strawberry.field(default="", description="What it means.")
    group_id: strawberry.ID | None = strawberry.field(default=None, description="Its group.")
    default_expiry_days: int | None = strawberry.field(
        default=None, description="Assignments expire this many days after tagging (1-3650)."
    )


@strawberry.input(description="Changes to a tag; omitted fields stay. The code cannot change.")
class UpdateTagInput:
    id: strawberry.ID = strawberry.field(description="The tag.")
    name: str | None = strawberry.field(default=strawberry.UNSET, description="Display name.")
    description: str | None = strawberry.field(
        default=strawberry.UNSET, description="What it means."
    )
    group_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Its group; null takes it out of any group."
    )
    default_expiry_days: int | None = strawberry.field(
        default=strawberry.UNSET, description="Default expiry in days; null: never."
    )


@strawberry.input(description="The tag to delete, with all its assignments.")
class DeleteTagInput:
    id: strawberry.ID = strawberry.field(description="The tag.")


@strawberry.input(description="A new tag group.")
class CreateTagGroupInput:
    code: str = strawberry.field(description="Stable code, unique in the brand.")
    name: str = strawberry.field(description="Display name.")
    description: str = strawberry.field(default="", description="What the group is for.")


@strawberry.input(description="Changes to a tag group; omitted fields stay.")
class UpdateTagGroupInput:
    id: strawberry.ID = strawberry.field(description="The group.")
    name: str | None = strawberry.field(default=None, description="Display name.")
    description: str | None = strawberry.field(default=None, description="What it is for.")


@strawberry.input(description="The tag group to delete; its tags stay, ungrouped.")
class DeleteTagGroupInput:
    id: strawberry.ID = strawberry.field(description="The group.")


@strawberry.type(description="Result of creating or updating a tag.")
class TagPayload:
    tag: Tag | None = strawberry.field(default=None, description="The tag as now stored.")
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.type(description="Result of creating or updating a tag group.")
class TagGroupPayload:
    tag_group: TagGroup | None = strawberry.field(
        default=None, description="The group as now stored."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.type(description="Result of a deletion.")
class DeletePayload:
    deleted_id: strawberry.ID | None = strawberry.field(
        default=None, description="Id of what was deleted."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.type
class TagMutation:
    @strawberry.mutation(
        description="Create a tag. Needs the manage scope.", permission_classes=[CanManage]
    )
    async def create_tag(self, info: Info, input: CreateTagInput) -> TagPayload:
        group = require_id(input.group_id, "TagGroup", "groupId") if input.group_id else None
        tag = await service.create_tag(
            info.context.scope,
            input.code,
            input.name,
            description=input.description,
            group_id=group,
            default_expiry_days=input.default_expiry_days,
        )
        return TagPayload(tag=Tag.from_model(tag), errors=[])

    @strawberry.mutation(
        description="Change a tag. Needs the manage scope.", permission_classes=[CanManage]
    )
    async def update_tag(self, info: Info, input: UpdateTagInput) -> TagPayload:
        changes: dict[str, Any] = {}
        for name in ("name", "description", "default_expiry_days"):
            if getattr(input, name) is not strawberry.UNSET:
                changes[name] = getattr(input, name)
        if input.group_id is not strawberry.UNSET:
            changes["group_id"] = (
                require_id(input.group_id, "TagGroup", "groupId") if input.group_id else None
            )
        tag = await service.update_tag(
            info.context.scope, require_id(input.id, "Tag", "id"), changes
        )
        return TagPayload(tag=Tag.from_model(tag), errors=[])

    @strawberry.mutation(
        description="Delete a tag and take it off every member. Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def delete_tag(self, info: Info, input: DeleteTagInput) -> DeletePayload:
        await service.delete_tag(info.context.scope, require_id(input.id, "Tag", "id"))
        return DeletePayload(deleted_id=input.id, errors=[])

    @strawberry.mutation(
        description="Create a tag group. Needs the manage scope.", permission_classes=[CanManage]
    )
    async def create_tag_group(self, info: Info, input: CreateTagGroupInput) -> TagGroupPayload:
        group = await service.create_group(
            info.context.scope, input.code, input.name, input.description
        )
        return TagGroupPayload(tag_group=TagGroup.from_model(group), errors=[])

    @strawberry.mutation(
        description="Change a tag group. Needs the manage scope.", permission_classes=[CanManage]
    )
    async def update_tag_group(self, info: Info, input: UpdateTagGroupInput) -> TagGroupPayload:
        group = await service.update_group(
            info.context.scope,
            require_id(input.id, "TagGroup", "id"),
            name=input.name,
            description=input.description,
        )
        return TagGroupPayload(tag_group=TagGroup.from_model(group), errors=[])

    @strawberry.mutation(
        description="Delete a tag group; its tags stay, ungrouped. Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def delete_tag_group(self, info: Info, input: DeleteTagGroupInput) -> DeletePayload:
        await service.delete_group(info.context.scope, require_id(input.id, "TagGroup", "id"))
        return DeletePayload(deleted_id=input.id, errors=[])
