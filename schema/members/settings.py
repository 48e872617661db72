"""The brand's membership scheme settings: join rule and card numbering."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from tessera.members import scheme
from tessera.members.models import MemberSettings as SettingsModel
from tessera.members.scheme import JoinRule
from tessera.schema.errors import UserError
from tessera.schema.permissions import CanAdmin, CanRead

strawberry.enum(
    JoinRule,
    description="When a person becomes a member. REGISTRATION: `createMember` joins them. "
    "FIRST_PURCHASE: `createMember` makes a prospect, their first order joins them, and an "
    "order for an unknown identity creates the member. PAID: prospects join through "
    "`activateMember` once the fee is paid; orders never create members.",
)


@strawberry.type(description="The brand's membership scheme settings.")
class MemberSettings:
    join_rule: JoinRule = strawberry.field(description="When a person becomes a member.")
    card_prefix: str = strawberry.field(
        description="Digits every new card number starts with (then 9 sequence digits and a "
        "Luhn check digit)."
    )
    auto_merge: bool = strawberry.field(
        description="Merge duplicates found by a verified identity (phone, email, WeChat "
        "unionid, Alipay user id) without review, the member who joined first surviving "
        "(docs/merge.md)."
    )

    @classmethod
    def from_model(cls, settings: SettingsModel) -> MemberSettings:
        return cls(
            join_rule=JoinRule(settings.join_rule),
            card_prefix=settings.card_prefix,
            auto_merge=settings.auto_merge,
        )


@strawberry.input(
    description="Changes to the scheme settings; omitted fields stay. Existing "
    "members and cards are not affected."
)
class UpdateMemberSettingsInput:
    join_rule: JoinRule | None = strawberry.field(default=None, description="When people join.")
    card_prefix: str | None = strawberry.field(default=None, description="1-8 digits.")
    auto_merge: bool | None = strawberry.field(
        default=None, description="Merge verified-identity duplicates automatically."
    )


@strawberry.type(description="Result of `updateMemberSettings`.")
class MemberSettingsPayload:
    member_settings: MemberSettings | None = strawberry.field(
        default=None, description="As now stored."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.type
class MemberSettingsQuery:
    @strawberry.field(
        description="The brand's membership scheme settings.", permission_classes=[CanRead]
    )
    async def member_settings(self, info: Info) -> MemberSettings:
        return MemberSettings.from_model(await scheme.get_settings(info.context.scope))


@strawberry.type
class MemberSettingsMutation:
    @strawberry.mutation(
        description="Change the join rule, card prefix or automatic merging. Needs the admin "
        "scope.",
        permission_classes=[CanAdmin],
    )
    async def update_member_settings(
        self, info: Info, input: UpdateMemberSettingsInput
    ) -> MemberSettingsPayload:
        found = await scheme.update_settings(
            info.context.scope,
            join_rule=input.join_rule,
            card_prefix=input.card_prefix,
            auto_merge=input.auto_merge,
        )
        return MemberSettingsPayload(member_settings=MemberSettings.from_model(found), errors=[])
