"""Merging members and reviewing duplicate candidates over GraphQL
(docs/merge.md)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from tessera.idempotency import from_caller
from tessera.members import duplicates, merge
from tessera.members.models import DuplicateCandidate as CandidateModel
from tessera.members.models import MemberMerge as MergeModel
from tessera.schema.errors import UserError
from tessera.schema.ids import encode_id, require_id
from tessera.schema.members.dataloaders import MemberByIdLoader
from tessera.schema.members.types import Member
from tessera.schema.pagination import Connection, Window, paginate
from tessera.schema.permissions import CanAdmin, CanManage


@strawberry.type(description="A field both members had, with different values.")
class MergeConflict:
    field: str = strawberry.field(
        description="The profile field (`name`, `city`…) or `attributes.<key>`."
    )
    kept: JSON | None = strawberry.field(description="The survivor's value, which stays.")
    dropped: JSON | None = strawberry.field(
        description="The merged member's value (kept in the merge and the audit log)."
    )


@strawberry.type(description="A merge of two members of the brand.")
class MemberMerge:
    model: strawberry.Private[MergeModel]
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    merged_member_id: strawberry.ID = strawberry.field(
        description="The merged member's id: a tombstone that resolves to the survivor."
    )
    automatic: bool = strawberry.field(
        description="Merged by the brand's automatic merging, not by a person."
    )
    merged_at: datetime = strawberry.field(description="When.")
    undone_at: datetime | None = strawberry.field(description="When it was undone, if it was.")
    undoable_until: datetime = strawberry.field(
        description="The end of the undo window (7 days after the merge)."
    )
    conflicts: list[MergeConflict] = strawberry.field(
        description="Fields both members had differently; the survivor's values were kept."
    )
    moved: JSON = strawberry.field(description="How many rows of each kind moved.")

    @strawberry.field(description="The member everything moved to.")
    async def survivor(self, info: Info) -> Member | None:
        found = await MemberByIdLoader.of(info).load(self.model.survivor_id)
        return Member.from_model(found) if found else None

    @strawberry.field(
        description="Why the merge cannot be undone now; null while `undoMemberMerge` would "
        "succeed."
    )
    async def undo_blocked_by(self, info: Info) -> str | None:
        return await merge.undo_blocker(info.context.scope, self.model)

    @classmethod
    def from_model(cls, row: MergeModel) -> MemberMerge:
        return cls(
            model=row,
            id=strawberry.ID(encode_id("MemberMerge", row.id)),
            merged_member_id=strawberry.ID(encode_id("Member", row.merged_id)),
            automatic=row.automatic,
            merged_at=row.merged_at,
            undone_at=row.undone_at,
            undoable_until=merge.undo_deadline(row),
            conflicts=[MergeConflict(**c) for c in row.conflicts],
            moved=JSON(
                {
                    name: len(ids) if isinstance(ids, list | dict) else ids
                    for name, ids in row.moved.items()
                }
            ),
        )


@strawberry.input(description="Two members of the brand who are one person.")
class MergeMembersInput:
    survivor_id: strawberry.ID = strawberry.field(
        description="The member who stays; their profile values win where both have one."
    )
    merged_id: strawberry.ID = strawberry.field(
        description="The member merged in; becomes a tombstone resolving to the survivor."
    )
    idempotency_key: str = strawberry.field(
        description="Replaying it answers the first merge (`replayed: true`)."
    )


@strawberry.type(description="Result of `mergeMembers`.")
class MergeMembersPayload:
    merge: MemberMerge | None = strawberry.field(default=None, description="The merge.")
    survivor: Member | None = strawberry.field(default=None, description="The survivor, now.")
    conflicts: list[MergeConflict] = strawberry.field(
        default_factory=list, description="Fields both had; the survivor's values were kept."
    )
    replayed: bool = strawberry.field(
        default=False, description="True when the key answered an earlier merge."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.input(description="A merge to undo.")
class UndoMemberMergeInput:
    merge_id: strawberry.ID = strawberry.field(description="The merge.")


@strawberry.type(description="Result of `undoMemberMerge`.")
class UndoMemberMergePayload:
    merge: MemberMerge | None = strawberry.field(default=None, description="The merge, undone.")
    survivor: Member | None = strawberry.field(default=None, description="The survivor, now.")
    restored: Member | None = strawberry.field(
        default=None, description="The merged member, a member of its own again."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.enum(description="Why two members may be one person.")
class DuplicateReason(Enum):
    IDENTITY = "identity"
    NAME_BIRTHDAY = "name_birthday"
    NAME_CITY_PHONE = "name_city_phone"


@strawberry.enum(description="Where a duplicate candidate's review stands.")
class DuplicateStatus(Enum):
    OPEN = "open"
    DISMISSED = "dismissed"
    MERGED = "merged"


@strawberry.type(description="Two members of the brand that may be one person, for review.")
class DuplicateCandidate:
    pk: strawberry.Private[int]
    member_pk: strawberry.Private[int]
    other_pk: strawberry.Private[int]
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    reason: DuplicateReason = strawberry.field(
        description="IDENTITY: a write gave one an identity the other holds (`kind`); the "
        "others are profile matches."
    )
    kind: str | None = strawberry.field(description="The identity kind, for IDENTITY.")
    status: DuplicateStatus = strawberry.field(description="Open, dismissed or merged.")
    found_at: datetime = strawberry.field(description="When it was found.")

    @strawberry.field(description="The member who joined first (by id).")
    async def member(self, info: Info) -> Member | None:
        found = await MemberByIdLoader.of(info).load(self.member_pk)
        return Member.from_model(found) if found else None

    @strawberry.field(description="The other member.")
    async def other(self, info: Info) -> Member | None:
        found = await MemberByIdLoader.of(info).load(self.other_pk)
        return Member.from_model(found) if found else None

    @classmethod
    def from_model(cls, row: CandidateModel) -> DuplicateCandidate:
        return cls(
            pk=row.id,
            member_pk=row.member_id,
            other_pk=row.other_id,
            id=strawberry.ID(encode_id("DuplicateCandidate", row.id)),
            reason=DuplicateReason(row.reason),
            kind=row.kind or None,
            status=DuplicateStatus(row.status),
            found_at=row.found_at,
        )


@strawberry.input(description="A candidate that is not one person.")
class DismissDuplicateCandidateInput:
    id: strawberry.ID = strawberry.field(description="The candidate.")


@strawberry.type(description="Result of `dismissDuplicateCandidate`.")
class DuplicateCandidatePayload:
    candidate: DuplicateCandidate | None = strawberry.field(default=None, description="As now.")
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.type(description="Result of `scanDuplicateCandidates`.")
class ScanDuplicatesPayload:
    found: int = strawberry.field(default=0, description="Profile matches found this run.")
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.input(description="Look for profile matches now.")
class ScanDuplicateCandidatesInput:
    limit: int = strawberry.field(
        default=duplicates.SCAN_LIMIT, description="At most this many pairs per reason (1-1000)."
    )


@strawberry.type
class MergeQuery:
    @strawberry.field(
        description="A merge by id; null when the brand has none. Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def member_merge(self, info: Info, id: strawberry.ID) -> MemberMerge | None:
        from tessera.schema.ids import decode_id

        pk = decode_id(id, "MemberMerge")
        found = await info.context.scope.get(MergeModel, pk) if pk is not None else None
        return MemberMerge.from_model(found) if found else None

    @strawberry.field(
        description="Members of the brand that may be one person, newest first, for review. "
        "Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def duplicate_candidates(
        self,
        info: Info,
        status: DuplicateStatus = DuplicateStatus.OPEN,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[DuplicateCandidate]:
        query = duplicates.candidates(info.context.scope, status.value)
        return await paginate(
            query,
            Window(first, after, None, None),
            cap=info.context.settings.limits.page_size,
            to_node=DuplicateCandidate.from_model,
            descending=True,
        )


@strawberry.type
class MergeMutation:
    @strawberry.mutation(
        description="Merge `mergedId` into `survivorId` (docs/merge.md): identities, profile "
        "gaps, tags, orders, events, coupons, holds and every ledger move to the survivor; the "
        "merged member becomes a tombstone whose id and identities resolve to the survivor. "
        "Refused: a member into itself (MERGE_SELF), a tombstone either way (MEMBER_MERGED), "
        "another brand's member (NOT_FOUND). Idempotent on `idempotencyKey`. Emits "
        "`member.merged`. Needs the admin scope.",
        permission_classes=[CanAdmin],
    )
    async def merge_members(self, info: Info, input: MergeMembersInput) -> MergeMembersPayload:
        survivor = require_id(input.survivor_id, "Member", "survivorId")
        merged = require_id(input.merged_id, "Member", "mergedId")
        key = from_caller(input.idempotency_key)
        result = await merge.merge_members(
            info.context.scope, survivor, merged, idempotency_key=key
        )
        view = MemberMerge.from_model(result.merge)
        return MergeMembersPayload(
            merge=view,
            survivor=Member.from_model(result.survivor),
            conflicts=view.conflicts,
            replayed=result.replayed,
            errors=[],
        )

    @strawberry.mutation(
        description="Split a merge again within 7 days, while nothing it moved was used since "
        "(UNDO_BLOCKED says what stops it; see `MemberMerge.undoBlockedBy`). Undoing twice "
        "answers the first undo. Needs the admin scope.",
        permission_classes=[CanAdmin],
    )
    async def undo_member_merge(
        self, info: Info, input: UndoMemberMergeInput
    ) -> UndoMemberMergePayload:
        pk = require_id(input.merge_id, "MemberMerge", "mergeId")
        done = await merge.undo_merge(info.context.scope, pk)
        return UndoMemberMergePayload(
            merge=MemberMerge.from_model(done.merge),
            survivor=Member.from_model(done.survivor),
            restored=Member.from_model(done.restored),
            errors=[],
        )

    @strawberry.mutation(
        description="Not one person: the candidate is closed and not proposed again for its "
        "reason. Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def dismiss_duplicate_candidate(
        self, info: Info, input: DismissDuplicateCandidateInput
    ) -> DuplicateCandidatePayload:
        pk = require_id(input.id, "DuplicateCandidate", "id")
        found = await duplicates.dismiss(info.context.scope, pk)
        return DuplicateCandidatePayload(candidate=DuplicateCandidate.from_model(found), errors=[])

    @strawberry.mutation(
        description="Look for profile matches (same name and birthday; same name, city and "
        "phone ending) and list them as candidates. Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def scan_duplicate_candidates(
        self, info: Info, input: ScanDuplicateCandidatesInput
    ) -> ScanDuplicatesPayload:
        from tessera.errors import DomainError

        if not 1 <= input.limit <= duplicates.SCAN_LIMIT:
            raise DomainError("OUT_OF_RANGE", f"between 1 and {duplicates.SCAN_LIMIT}", ["limit"])
        found = await duplicates.scan(info.context.scope, input.limit)
        return ScanDuplicatesPayload(found=found, errors=[])
