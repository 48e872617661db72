"""Defining segments, refreshing them, and uploading static lists."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from tessera.schema.errors import UserError
from tessera.schema.ids import require_id
from tessera.schema.permissions import CanManage, CanWrite
from tessera.schema.segments.types import Segment, SegmentKind, SegmentRefresh
from tessera.scope import BrandScope
from tessera.segments import imports, service
from tessera.segments.jobs import enqueue_refresh, refresh_later
from tessera.segments.models import Segment as SegmentModel
from tessera.segments.service import RefreshTrigger


async def _reloaded(scope: BrandScope, segment_id: int) -> Segment | None:
    # Under the in-process queue the refresh has run: show its result.
    found = await scope.get(SegmentModel, segment_id)
    return Segment.from_model(found) if found else None


@strawberry.input(description="A new segment.")
class CreateSegmentInput:
    name: str = strawberry.field(description="Name, unique in the brand.")
    kind: SegmentKind = strawberry.field(
        default=SegmentKind.DYNAMIC, description="DYNAMIC (default) or STATIC."
    )
    rule: JSON | None = strawberry.field(
        default=None,
        description="The rule (see `segmentRuleSchema`). Needed for a dynamic segment; for a "
        "static one it is snapshotted once, and without it the list waits for "
        "`importSegmentMembers`.",
    )
    description: str = strawberry.field(default="", description="What it is for.")


@strawberry.input(description="Changes to a segment; omitted fields stay.")
class UpdateSegmentInput:
    id: strawberry.ID = strawberry.field(description="The segment.")
    name: str | None = strawberry.field(default=strawberry.UNSET, description="New name.")
    description: str | None = strawberry.field(
        default=strawberry.UNSET, description="New description."
    )
    rule: JSON | None = strawberry.field(
        default=strawberry.UNSET,
        description="New rule (dynamic segments only); the segment is refreshed.",
    )


@strawberry.input(description="A segment to delete, with its stored membership.")
class DeleteSegmentInput:
    id: strawberry.ID = strawberry.field(description="The segment.")


@strawberry.input(description="A segment to refresh now.")
class RefreshSegmentInput:
    id: strawberry.ID = strawberry.field(description="The segment.")


@strawberry.enum(description="What an uploaded list does to a static segment.")
class ImportMode(Enum):
    REPLACE = strawberry.enum_value("replace", description="The list becomes the segment.")
    ADD = strawberry.enum_value("add", description="The listed members are added.")


@strawberry.input(description="Identities to put in a static segment, as CSV.")
class ImportSegmentMembersInput:
    segment_id: strawberry.ID = strawberry.field(description="A static segment.")
    csv: str = strawberry.field(
        description="A header line, then one row per member: `kind,value` (e.g. "
        "`phone,13800138000`), or one column named after an identity kind (`phone`, "
        f"`email`, `external_id`, `card_number`...). At most {imports.MAX_ROWS} rows."
    )
    mode: ImportMode = strawberry.field(default=ImportMode.REPLACE, description="Replace or add.")


@strawberry.type(description="Result of creating, changing or refreshing a segment.")
class SegmentPayload:
    segment: Segment | None = strawberry.field(
        default=None, description="The segment as now stored."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.type(description="Result of deleting a segment.")
class DeleteSegmentPayload:
    deleted_id: strawberry.ID | None = strawberry.field(
        default=None, description="Id of what was deleted."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.type(description="A row of an uploaded list that matched no member.")
class RejectedRow:
    line: int = strawberry.field(description="Line number in the CSV (the header is line 1).")
    value: str = strawberry.field(description="The value as given.")
    reason: str = strawberry.field(description="Why it matched no member.")


@strawberry.type(description="Result of uploading a list into a static segment.")
class ImportSegmentMembersPayload:
    segment: Segment | None = strawberry.field(
        default=None, description="The segment as now stored."
    )
    rows: int = strawberry.field(default=0, description="Data rows read.")
    matched: int = strawberry.field(default=0, description="Rows that matched a member.")
    rejected_count: int = strawberry.field(default=0, description="Rows that matched no member.")
    rejected: list[RejectedRow] = strawberry.field(
        default_factory=list,
        description=f"The rejected rows, with reasons (the first {imports.MAX_REPORTED}).",
    )
    refresh: SegmentRefresh | None = strawberry.field(
        default=None, description="What the upload changed: size, entered, exited."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.type
class SegmentMutation:
    @strawberry.mutation(
        description="Create a segment; a dynamic one (or a static snapshot) is then refreshed "
        "by a job. A rule reading another segment may not lead back to itself. Needs the "
        "manage scope.",
        permission_classes=[CanManage],
    )
    async def create_segment(self, info: Info, input: CreateSegmentInput) -> SegmentPayload:
        scope = info.context.scope
        segment = await service.create_segment(
            scope,
            input.name,
            service.SegmentKind(str(input.kind.value)),
            rule=input.rule,  # type: ignore[arg-type]
            description=input.description,
        )
        if service.needs_refresh(segment):
            await enqueue_refresh(scope, segment.id, RefreshTrigger.CREATED)
        return SegmentPayload(segment=await _reloaded(scope, segment.id), errors=[])

    @strawberry.mutation(
        description="Change a segment's name, description or (dynamic) rule; a new rule is "
        "checked for cycles and refreshed by a job. Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def update_segment(self, info: Info, input: UpdateSegmentInput) -> SegmentPayload:
        scope = info.context.scope
        changes: dict[str, Any] = {
            name: getattr(input, name)
            for name in ("name", "description", "rule")
            if getattr(input, name) is not strawberry.UNSET
        }
        segment = await service.update_segment(
            scope, require_id(input.id, "Segment", "id"), changes
        )
        if "rule" in changes:
            await enqueue_refresh(scope, segment.id, RefreshTrigger.MANUAL)
        return SegmentPayload(segment=await _reloaded(scope, segment.id), errors=[])

    @strawberry.mutation(
        description="Delete a segment; refused (IN_USE) while another segment's or a tag's "
        "rule reads it. Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def delete_segment(self, info: Info, input: DeleteSegmentInput) -> DeleteSegmentPayload:
        await service.delete_segment(info.context.scope, require_id(input.id, "Segment", "id"))
        return DeleteSegmentPayload(deleted_id=input.id, errors=[])

    @strawberry.mutation(
        description="Re-evaluate a dynamic segment for every member, in a job (with no Redis "
        "configured, before this returns). A static list is not refreshed (STATIC_SEGMENT). "
        "Needs the write scope.",
        permission_classes=[CanWrite],
    )
    async def refresh_segment(self, info: Info, input: RefreshSegmentInput) -> SegmentPayload:
        scope = info.context.scope
        segment = await refresh_later(scope, require_id(input.id, "Segment", "id"))
        return SegmentPayload(segment=await _reloaded(scope, segment.id), errors=[])

    @strawberry.mutation(
        description="Upload identities (CSV) into a static segment. Rows matching no member "
        "are reported and skipped; members entering and leaving are announced to plugins. "
        "Needs the write scope.",
        permission_classes=[CanWrite],
    )
    async def import_segment_members(
        self, info: Info, input: ImportSegmentMembersInput
    ) -> ImportSegmentMembersPayload:
        scope = info.context.scope
        pk = require_id(input.segment_id, "Segment", "segmentId")
        result = await imports.import_list(
            scope,
            pk,
            input.csv,
            add=input.mode is ImportMode.ADD,
        )
        return ImportSegmentMembersPayload(
            segment=await _reloaded(scope, pk),
            rows=result.rows,
            matched=result.matched,
            rejected_count=result.rejected_count,
            rejected=[
                RejectedRow(line=r.line, value=r.value, reason=r.reason) for r in result.rejected
            ],
            refresh=SegmentRefresh.from_model(result.refresh) if result.refresh else None,
            errors=[],
        )
