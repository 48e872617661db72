"""Putting tags on members and taking them off, in bulk."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from tessera.errors import DomainError
from tessera.schema.errors import UserError
from tessera.schema.ids import decode_id
from tessera.schema.members.identities import IdentityInput
from tessera.schema.permissions import CanWrite
from tessera.schema.tags.types import TagSource
from tessera.tags import service
from tessera.tags.service import MAX_MEMBERS_PER_CALL, BulkResult

_LIMITS = (
    f"At most {MAX_MEMBERS_PER_CALL:,} member ids and identities together and "
    f"{service.MAX_TAGS_PER_CALL} tags per call; done in a constant number of SQL statements."
)


@strawberry.input(description="Tags to put on members. " + _LIMITS)
class TagMembersInput:
    tags: list[str] = strawberry.field(description="Tag codes.")
    member_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Members by id."
    )
    identities: list[IdentityInput] = strawberry.field(
        default_factory=list, description="Members by identity."
    )
    source: TagSource = strawberry.field(default=TagSource.MANUAL, description="Who is tagging.")
    expires_at: datetime | None = strawberry.field(
        default=None,
        description="When these assignments lapse; default: each tag's `defaultExpiryDays`, "
        "else never. Tagging again with the same source sets the new expiry.",
    )


@strawberry.input(description="Tags to take off members. " + _LIMITS)
class UntagMembersInput:
    tags: list[str] = strawberry.field(description="Tag codes.")
    member_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Members by id."
    )
    identities: list[IdentityInput] = strawberry.field(
        default_factory=list, description="Members by identity."
    )
    source: TagSource = strawberry.field(
        default=TagSource.MANUAL, description="Remove only this source's assignments."
    )
    any_source: bool = strawberry.field(
        default=False, description="Remove the tags whoever put them there."
    )


@strawberry.type(
    description="An input of a bulk call that matched no member (the rest went ahead)."
)
class UnmatchedMember:
    field: list[str] = strawberry.field(
        description='Path to the input item, e.g. ["input", "identities", "3"].'
    )
    reference: str = strawberry.field(description="The id or KIND:value given.")
    reason: str = strawberry.field(description="Why it matched nobody.")


@strawberry.type(description="Result of `tagMembers` or `untagMembers`.")
class BulkTaggingPayload:
    matched_count: int = strawberry.field(
        default=0, description="Distinct members the input matched."
    )
    changed_count: int = strawberry.field(
        default=0, description="Assignments created, re-dated or removed (a member times a tag)."
    )
    unmatched: list[UnmatchedMember] = strawberry.field(
        default_factory=list,
        description="Member ids and identities that matched no member of the brand.",
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")

    @classmethod
    def from_result(
        cls, result: BulkResult, input: TagMembersInput | UntagMembersInput
    ) -> BulkTaggingPayload:
        return cls(
            matched_count=len(result.matched_member_ids),
            changed_count=result.changed_count,
            unmatched=[
                UnmatchedMember(
                    field=["input", u.list_name, str(u.index)],
                    reference=(
                        str(input.member_ids[u.index])
                        if u.list_name == "memberIds"
                        else u.reference
                    ),
                    reason=u.reason,
                )
                for u in result.unknown
            ],
            errors=[],
        )


def _check_size(input: TagMembersInput | UntagMembersInput) -> None:
    # Checked before decoding anything, so an oversized call costs nothing.
    if len(input.member_ids) + len(input.identities) > MAX_MEMBERS_PER_CALL:
        raise DomainError(
            "TOO_MANY",
            f"at most {MAX_MEMBERS_PER_CALL} member ids and identities per call",
            ["memberIds"],
        )


@strawberry.type
class TagAssignmentMutation:
    @strawberry.mutation(
        description="Put tags on members by id or identity. Unknown members are listed in "
        "`unmatched`, not fatal; an unknown tag is. Needs the write scope.",
        permission_classes=[CanWrite],
    )
    async def tag_members(self, info: Info, input: TagMembersInput) -> BulkTaggingPayload:
        _check_size(input)
        result = await service.tag_members(
            info.context.scope,
            input.tags,
            member_ids=[decode_id(i, "Member") for i in input.member_ids],
            identities=[i.pair() for i in input.identities],
            source=input.source,
            expires_at=input.expires_at,
        )
        return BulkTaggingPayload.from_result(result, input)

    @strawberry.mutation(
        description="Take tags off members by id or identity: only the given source's "
        "assignments unless `anySource`. Needs the write scope.",
        permission_classes=[CanWrite],
    )
    async def untag_members(self, info: Info, input: UntagMembersInput) -> BulkTaggingPayload:
        _check_size(input)
        result = await service.untag_members(
            info.context.scope,
            input.tags,
            member_ids=[decode_id(i, "Member") for i in input.member_ids],
            identities=[i.pair() for i in input.identities],
            source=input.source,
            any_source=input.any_source,
        )
        return BulkTaggingPayload.from_result(result, input)
