"""Writing members: register, change, join, identities."""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from tessera.members import service
from tessera.schema.errors import UserError
from tessera.schema.ids import require_id
from tessera.schema.members.identities import IdentityInput, IdentityKind
from tessera.schema.members.types import Gender, Member, MemberStatus
from tessera.schema.permissions import CanWrite

# Profile fields shared by both inputs, by their Python (snake_case) name.
PROFILE_FIELDS = (
    "name",
    "gender",
    "birthday",
    "phone",
    "email",
    "external_id",
    "province",
    "city",
    "education",
    "occupation",
    "income_range",
    "interests",
    "join_channel",
    "join_source",
)


def _given(input: Any) -> dict[str, Any]:
    """The profile fields the caller sent (explicit nulls included)."""
    return {
        n: getattr(input, n) for n in PROFILE_FIELDS if getattr(input, n) is not strawberry.UNSET
    }


@strawberry.input(
    description="A person registering. Give at least one identity (phone, email, "
    "externalId or identities). Under the REGISTRATION join rule they join now."
)
class CreateMemberInput:
    name: str | None = strawberry.field(default=strawberry.UNSET, description="Full name.")
    gender: Gender | None = strawberry.field(default=strawberry.UNSET, description="Gender.")
    birthday: date | None = strawberry.field(default=strawberry.UNSET, description="Date of birth.")
    phone: str | None = strawberry.field(
        default=strawberry.UNSET, description="Phone; becomes a PHONE identity."
    )
    email: str | None = strawberry.field(
        default=strawberry.UNSET, description="Email; becomes an EMAIL identity."
    )
    external_id: str | None = strawberry.field(
        default=strawberry.UNSET, description="The brand's id; becomes an EXTERNAL_ID identity."
    )
    province: str | None = strawberry.field(
        default=strawberry.UNSET, description="Province or state."
    )
    city: str | None = strawberry.field(default=strawberry.UNSET, description="City.")
    education: str | None = strawberry.field(default=strawberry.UNSET, description="Education.")
    occupation: str | None = strawberry.field(default=strawberry.UNSET, description="Occupation.")
    income_range: str | None = strawberry.field(
        default=strawberry.UNSET, description="Income band."
    )
    interests: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Interests (at most 50)."
    )
    join_channel: str | None = strawberry.field(
        default=strawberry.UNSET, description="Channel, lower-case, e.g. `pos`, `app`, `wechat`."
    )
    join_source: str | None = strawberry.field(
        default=strawberry.UNSET, description="Campaign, store or referrer."
    )
    identities: list[IdentityInput] = strawberry.field(
        default_factory=list, description="Further identities (openids, app user id...)."
    )
    attributes: JSON | None = strawberry.field(
        default=None, description="Custom attributes by key, checked against their definitions."
    )
    card_number: str | None = strawberry.field(
        default=None,
        description="An existing card to keep (members moving from an old CRM); otherwise one "
        "is generated when the member joins.",
    )


@strawberry.input(
    description="Changes to a member; omitted fields stay, null clears. Changing "
    "phone, email or externalId replaces that identity."
)
class UpdateMemberInput:
    id: strawberry.ID = strawberry.field(description="The member.")
    name: str | None = strawberry.field(default=strawberry.UNSET, description="Full name.")
    gender: Gender | None = strawberry.field(default=strawberry.UNSET, description="Gender.")
    birthday: date | None = strawberry.field(default=strawberry.UNSET, description="Date of birth.")
    phone: str | None = strawberry.field(default=strawberry.UNSET, description="Primary phone.")
    email: str | None = strawberry.field(default=strawberry.UNSET, description="Primary email.")
    external_id: str | None = strawberry.field(
        default=strawberry.UNSET, description="The brand's id."
    )
    province: str | None = strawberry.field(
        default=strawberry.UNSET, description="Province or state."
    )
    city: str | None = strawberry.field(default=strawberry.UNSET, description="City.")
    education: str | None = strawberry.field(default=strawberry.UNSET, description="Education.")
    occupation: str | None = strawberry.field(default=strawberry.UNSET, description="Occupation.")
    income_range: str | None = strawberry.field(
        default=strawberry.UNSET, description="Income band."
    )
    interests: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Interests (replaces)."
    )
    join_channel: str | None = strawberry.field(
        default=strawberry.UNSET, description="Join channel."
    )
    join_source: str | None = strawberry.field(default=strawberry.UNSET, description="Join source.")
    attributes: JSON | None = strawberry.field(
        default=None,
        description="Custom attributes to set (merged into the stored ones; a null value removes "
        "a key).",
    )
    status: MemberStatus | None = strawberry.field(
        default=None,
        description="ACTIVE <-> FROZEN, or CANCELLED. Prospects join through `activateMember`.",
    )


@strawberry.input(description="An identity to add to, or remove from, a member.")
class MemberIdentityInput:
    member_id: strawberry.ID = strawberry.field(description="The member.")
    kind: IdentityKind = strawberry.field(description="Kind of identity.")
    value: str = strawberry.field(description="Its value (normalised by Tessera).")


@strawberry.input(description="A prospect who joins: paid the membership fee, or let in by hand.")
class ActivateMemberInput:
    member_id: strawberry.ID = strawberry.field(description="The prospect.")
    join_channel: str | None = strawberry.field(
        default=None, description="Channel they joined through."
    )


@strawberry.type(description="Result of a member mutation.")
class MemberPayload:
    member: Member | None = strawberry.field(default=None, description="The member as now stored.")
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


def _ok(member: Any) -> MemberPayload:
    return MemberPayload(member=Member.from_model(member), errors=[])


@strawberry.type
class MemberMutation:
    @strawberry.mutation(
        description="Register a person (a member, or a prospect under the FIRST_PURCHASE and "
        "PAID join rules). Duplicate identities are refused. Needs the write scope.",
        permission_classes=[CanWrite],
    )
    async def create_member(self, info: Info, input: CreateMemberInput) -> MemberPayload:
        profile = {k: v for k, v in _given(input).items() if v is not None}
        member = await service.create_member(
            info.context.scope,
            profile,
            identities=[i.pair() for i in input.identities],
            attributes=input.attributes,
            card_number=input.card_number,
        )
        return _ok(member)

    @strawberry.mutation(
        description="Change a member. Needs the write scope.", permission_classes=[CanWrite]
    )
    async def update_member(self, info: Info, input: UpdateMemberInput) -> MemberPayload:
        member = await service.update_member(
            info.context.scope,
            require_id(input.id, "Member", "id"),
            _given(input),
            attributes=input.attributes,
            status=input.status,
        )
        return _ok(member)

    @strawberry.mutation(
        description="Make a prospect a member (card number, `member.joined`). Joining twice "
        "changes nothing. Needs the write scope.",
        permission_classes=[CanWrite],
    )
    async def activate_member(self, info: Info, input: ActivateMemberInput) -> MemberPayload:
        member = await service.activate_member(
            info.context.scope,
            require_id(input.member_id, "Member", "memberId"),
            join_channel=input.join_channel,
        )
        return _ok(member)

    @strawberry.mutation(
        description="Give a member another identity (one another member has is refused). "
        "Needs the write scope.",
        permission_classes=[CanWrite],
    )
    async def add_identity(self, info: Info, input: MemberIdentityInput) -> MemberPayload:
        member = await service.add_identity(
            info.context.scope,
            require_id(input.member_id, "Member", "memberId"),
            input.kind.value,
            input.value,
        )
        return _ok(member)

    @strawberry.mutation(
        description="Remove an identity. A member keeps at least one, and keeps a card number. "
        "Needs the write scope.",
        permission_classes=[CanWrite],
    )
    async def remove_identity(self, info: Info, input: MemberIdentityInput) -> MemberPayload:
        member = await service.remove_identity(
            info.context.scope,
            require_id(input.member_id, "Member", "memberId"),
            input.kind.value,
            input.value,
        )
        return _ok(member)
