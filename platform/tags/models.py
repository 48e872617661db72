from __future__ import annotations

from tortoise import fields

from tessera.models_base import BrandOwned


class TagGroup(BrandOwned):
    """A heading tags are filed under (e.g. "Lifecycle", "Preferences")."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=64)
    name = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "tag_group"
        unique_together = (("brand_id", "code"),)


class Tag(BrandOwned):
    """A label operators and rules put on members to target them."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=64)
    name = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    group: fields.ForeignKeyNullableRelation[TagGroup] = fields.ForeignKeyField(
        "tessera.TagGroup", related_name="tags", null=True, on_delete=fields.SET_NULL, index=False
    )
    group_id: int | None
    default_expiry_days = fields.IntField(null=True, description="assignments expire after")
    rule = fields.JSONField(
        null=True, description="a segment rule: members matching it carry the tag (source rule)"
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "tag"
        unique_together = (("brand_id", "code"),)
        indexes = (("brand_id", "group_id"),)


class TagAssignment(BrandOwned):
    """A tag on a member, put there by one source. The same tag may be put on
    by several sources, each is removed only by its own source."""

    id = fields.BigIntField(primary_key=True)
    tag: fields.ForeignKeyRelation[Tag] = fields.ForeignKeyField(
        "tessera.Tag", related_name="assignments", on_delete=fields.CASCADE, index=False
    )
    tag_id: int
    member: fields.ForeignKeyRelation = fields.ForeignKeyField(  # type: ignore[type-arg]
        "tessera.Member", related_name=False, on_delete=fields.CASCADE, index=False
    )
    member_id: int
    source = fields.CharField(max_length=16, description="manual, rule, plugin or import")
    expires_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "tag_assignment"
        unique_together = (("brand_id", "tag_id", "member_id", "source"),)
        indexes = (("brand_id", "member_id"),)
