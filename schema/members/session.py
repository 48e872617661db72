"""Member sessions: a brand's server mints a member token; the member's app
uses it to read ``me`` (and, later, the member-self operations)."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from tessera.auth.member_tokens import (
    DEFAULT_TTL,
    MAX_TTL,
    MIN_TTL,
    MemberPrincipal,
    issue_member_token,
)
from tessera.errors import DomainError
from tessera.members import service
from tessera.schema.errors import UserError
from tessera.schema.ids import decode_id, require_id
from tessera.schema.members.types import Member
from tessera.schema.permissions import CanWrite, IsMember


def acting_member(info: Info, opaque: strawberry.ID | None, foreign: DomainError) -> int:
    """The member a member-self operation acts for: a member token acts for its
    own member only (naming another is ``foreign``); a brand key names one."""
    principal = info.context.principal
    if isinstance(principal, MemberPrincipal):
        if opaque is not None and decode_id(str(opaque), "Member") != principal.member_id:
            raise foreign
        return principal.member_id
    if opaque is None:
        raise DomainError("REQUIRED", "memberId is required with an API key", ["memberId"])
    return require_id(opaque, "Member", "memberId")


@strawberry.input(description="Whom to mint a member token for, and for how long.")
class IssueMemberTokenInput:
    member_id: strawberry.ID = strawberry.field(description="The member.")
    ttl_seconds: int = strawberry.field(
        default=DEFAULT_TTL, description=f"Lifetime, {MIN_TTL}-{MAX_TTL} seconds."
    )


@strawberry.type(description="A member token: pass it as `Authorization: Bearer <token>`.")
class IssueMemberTokenPayload:
    token: str | None = strawberry.field(
        default=None, description="The token. It reaches only `me` and the member-self operations."
    )
    expires_at: datetime | None = strawberry.field(
        default=None, description="When it stops working."
    )
    errors: list[UserError] = strawberry.field(description="Why no token was issued.")


@strawberry.type
class MemberSessionQuery:
    @strawberry.field(
        description="The member whose token is making the request (member tokens only).",
        permission_classes=[IsMember],
    )
    def me(self, info: Info) -> Member:
        principal: MemberPrincipal = info.context.principal
        return Member.from_model(principal.member)


@strawberry.type
class MemberSessionMutation:
    @strawberry.mutation(
        description="Mint a short-lived token for a member's own app session (HS256 JWT). "
        "Frozen and cancelled members get none. Needs the write scope.",
        permission_classes=[CanWrite],
    )
    async def issue_member_token(
        self, info: Info, input: IssueMemberTokenInput
    ) -> IssueMemberTokenPayload:
        scope = info.context.scope
        member = await service.require_member(
            scope, decode_id(input.member_id, "Member"), "memberId"
        )
        issued = issue_member_token(scope, member, input.ttl_seconds)
        return IssueMemberTokenPayload(token=issued.token, expires_at=issued.expires_at, errors=[])
