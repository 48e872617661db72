"""The rule language over GraphQL: its JSON Schema, and ``previewSegment``.

Rules travel as the ``JSON`` scalar. Problems come back as ``UserError``s
whose ``field`` is the path inside the rule argument (``["rule", "all", "2",
"min"]``), not as GraphQL errors, exactly like a mutation's payload.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from tessera.errors import DomainError, DomainErrors
from tessera.schema.errors import ErrorsInPayload, UserError
from tessera.schema.ids import decode_id
from tessera.schema.members.types import Member, member_from_model
from tessera.schema.permissions import CanRead
from tessera.segments.rules import Rule, parse_rule
from tessera.segments.rulesource import MAX_SAMPLE, preview


def rule_from_api(data: Any, field: list[str] | None = None) -> Rule:
    """A rule as an API caller wrote it: segment conditions may name the
    segment by its opaque ``ID`` (as ``segments`` returns it) or by number."""
    base = ["rule"] if field is None else field
    errors: list[DomainError] = []

    def convert(node: Any, path: list[str]) -> Any:
        if isinstance(node, list):
            return [convert(item, [*path, str(i)]) for i, item in enumerate(node)]
        if not isinstance(node, dict):
            return node
        if node.get("type") == "segment" and isinstance(node.get("segment"), str):
            pk = decode_id(node["segment"], "Segment")
            if pk is None:
                errors.append(DomainError("NOT_FOUND", "no such segment", [*path, "segment"]))
            return {**node, "segment": pk or 0}
        return {key: convert(value, [*path, key]) for key, value in node.items()}

    converted = convert(data, base)
    if errors:
        raise DomainErrors(errors)
    return parse_rule(converted, base)


@strawberry.type(description="What a rule would select now, without saving anything.")
class SegmentPreview:
    count: int = strawberry.field(
        default=0, description="How many members match (0 when `errors`)."
    )
    sample: list[Member] = strawberry.field(
        default_factory=list,
        description="Some matching members, newest first (empty when `errors`).",
    )
    errors: list[UserError] = strawberry.field(
        description="Why the rule is invalid, each with its path inside `rule`."
    )


@strawberry.type
class SegmentRulesQuery:
    @strawberry.field(
        description="The JSON Schema of segment rules (`previewSegment`, `createSegment`). "
        "Segment conditions also accept a segment's opaque `ID` as `segment`.",
        permission_classes=[CanRead],
    )
    def segment_rule_schema(self) -> JSON:
        return cast(JSON, Rule.model_json_schema(by_alias=True))

    @strawberry.field(
        description="Count the members a rule selects now (or as of `asOf`) and show a "
        'sample, saving nothing. Relative times ("last 30 days", "birthday this month") '
        "are read in the brand's timezone. An invalid rule, or one naming a tag, "
        "attribute or segment the brand does not have, returns `errors` with paths "
        "inside `rule`.",
        permission_classes=[CanRead],
        extensions=[ErrorsInPayload(prefix=())],
    )
    async def preview_segment(
        self,
        info: Info,
        rule: Annotated[
            JSON, strawberry.argument(description="The rule (see `segmentRuleSchema`).")
        ],
        sample: Annotated[
            int,
            strawberry.argument(description=f"Members to return, 0 to {MAX_SAMPLE}."),
        ] = 10,
        as_of: Annotated[
            date | None,
            strawberry.argument(
                description="Read the rule as of the end of this day (the brand's calendar): "
                "relative windows count back from it and ignore later facts, birthdays and "
                "ages count from it. For history imported from an old system. Purchase "
                "totals and stored lifecycle stages are read as they are (recompute the "
                "lifecycle with `recomputeLifecycle(asOf:)` first)."
            ),
        ] = None,
    ) -> SegmentPreview:
        total, members = await preview(info.context.scope, rule_from_api(rule), sample, as_of)
        return SegmentPreview(
            count=total, sample=[member_from_model(m) for m in members], errors=[]
        )
