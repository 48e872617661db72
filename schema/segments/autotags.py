"""Giving a tag a rule (automatic tags)."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from tessera.schema.errors import UserError
from tessera.schema.ids import require_id
from tessera.schema.permissions import CanManage
from tessera.schema.tags.types import Tag
from tessera.segments import autotags
from tessera.segments.jobs import enqueue_tag_rule


@strawberry.input(description="The rule that puts a tag on members automatically.")
class SetTagRuleInput:
    tag_id: strawberry.ID = strawberry.field(description="The tag.")
    rule: JSON | None = strawberry.field(
        description="A segment rule (see `segmentRuleSchema`); null stops the automation and "
        "takes off the assignments it made."
    )


@strawberry.type(description="Result of setting a tag's rule.")
class SetTagRulePayload:
    tag: Tag | None = strawberry.field(default=None, description="The tag.")
    rule: JSON | None = strawberry.field(default=None, description="Its rule as now stored.")
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.type
class AutoTagMutation:
    @strawberry.mutation(
        description="Make a tag automatic: members matching the rule carry it with source RULE "
        "(evaluated now by a job, after members' orders, events, tags and profile changes, "
        "and nightly). Assignments by other sources (MANUAL, IMPORT, PLUGIN) are never "
        "touched. Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def set_tag_rule(self, info: Info, input: SetTagRuleInput) -> SetTagRulePayload:
        scope = info.context.scope
        pk = require_id(input.tag_id, "Tag", "tagId")
        tag = await autotags.set_tag_rule(scope, pk, input.rule)  # type: ignore[arg-type]
        if tag.rule is not None:
            await enqueue_tag_rule(scope, tag.id)
        return SetTagRulePayload(tag=Tag.from_model(tag), rule=tag.rule, errors=[])
