"""The ``Member`` type. Other domains add fields here (``stats``, ``orders``,
``events``...) as small resolvers delegating to their own modules; keep each
such field a few lines so this file stays easy to extend."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from tessera.members.models import Member as MemberModel
from tessera.members.profile import Gender, MemberStatus
from tessera.schema.ids import encode_id
from tessera.schema.members.dataloaders import IdentitiesByMemberIdLoader
from tessera.schema.members.identities import Identity
from tessera.schema.pagination import Connection
from tessera.schema.tags.dataloaders import TagAssignmentsByMemberIdLoader
from tessera.schema.tags.types import Tag, TagAssignment

if TYPE_CHECKING:
    from tessera.schema.behaviour.types import BehaviourEvent
    from tessera.schema.orders.types import MemberStats, Order

strawberry.enum(
    MemberStatus,
    description="PROSPECT: registered, not yet a member under the brand's join rule; "
    "ACTIVE: a member; FROZEN: suspended by the brand; CANCELLED: left the programme.",
)
strawberry.enum(Gender, description="Gender as the member gave it; UNKNOWN when not given.")


@strawberry.type(description="A person in the brand's membership programme.")
class Member:
    pk: strawberry.Private[int]
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    external_id: str | None = strawberry.field(
        description="The brand's own id for this member (also an EXTERNAL_ID identity)."
    )
    card_number: str | None = strawberry.field(
        description="Electronic membership card number (digits, last one a Luhn check digit); "
        "null for prospects, who get one when they join."
    )
    status: MemberStatus = strawberry.field(description="Where the member stands in the programme.")
    name: str = strawberry.field(description="Full name.")
    gender: Gender = strawberry.field(description="Gender.")
    birthday: date | None = strawberry.field(description="Date of birth.")
    phone: str | None = strawberry.field(description="Primary phone, E.164 (a PHONE identity).")
    email: str | None = strawberry.field(
        description="Primary email, lower-cased (an EMAIL identity)."
    )
    province: str = strawberry.field(description="Region: province or state.")
    city: str = strawberry.field(description="Region: city.")
    education: str = strawberry.field(description="Education, in the brand's own vocabulary.")
    occupation: str = strawberry.field(description="Occupation.")
    income_range: str = strawberry.field(description="Income band, in the brand's own vocabulary.")
    interests: list[str] = strawberry.field(description="Interests.")
    join_channel: str = strawberry.field(
        description="Channel they joined through, e.g. `pos`, `app`."
    )
    join_source: str = strawberry.field(
        description="Where they came from (campaign, store, referrer)."
    )
    joined_at: datetime = strawberry.field(
        description="When they joined; for a prospect, when they registered."
    )
    created_at: datetime = strawberry.field(description="When the record was created.")
    updated_at: datetime = strawberry.field(description="Last profile change.")
    attributes: JSON = strawberry.field(
        description="Custom attributes by key, as defined in `attributeDefinitions`."
    )

    @strawberry.field(description="Every identity of the member.")
    async def identities(self, info: Info) -> list[Identity]:
        rows = await IdentitiesByMemberIdLoader.of(info).load(self.pk)
        return [Identity.from_model(row) for row in rows]

    @strawberry.field(description="The member's tags (expired assignments are left out).")
    async def tags(self, info: Info) -> list[Tag]:
        rows = await TagAssignmentsByMemberIdLoader.of(info).load(self.pk)
        return [Tag.from_model(tag) for tag in {row.tag_id: row.tag for row in rows}.values()]

    @strawberry.field(
        description="The member's live tag assignments: a tag put on by several sources "
        "appears once per source, with its expiry."
    )
    async def tag_assignments(self, info: Info) -> list[TagAssignment]:
        rows = await TagAssignmentsByMemberIdLoader.of(info).load(self.pk)
        return [TagAssignment.from_model(row) for row in rows]

    @strawberry.field(description="Purchase figures: orders, spend, units, refunds.")
    async def stats(
        self, info: Info
    ) -> Annotated[MemberStats, strawberry.lazy("tessera.schema.orders.types")]:
        from tessera.schema.orders.queries import member_stats

        return await member_stats(info, self.pk)

    @strawberry.field(description="The member's orders, newest first.")
    async def orders(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Annotated[Order, strawberry.lazy("tessera.schema.orders.types")]]:
        from tessera.schema.orders.queries import member_orders

        return await member_orders(info, self.pk, first, after)

    @strawberry.field(description="The member's behaviour events, newest first (a timeline).")
    async def events(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Annotated[BehaviourEvent, strawberry.lazy("tessera.schema.behaviour.types")]]:
        from tessera.schema.behaviour.queries import member_events

        return await member_events(info, self.pk, first, after)

    @classmethod
    def from_model(cls, member: MemberModel) -> Member:
        return cls(
            pk=member.id,
            id=strawberry.ID(encode_id("Member", member.id)),
            external_id=member.external_id,
            card_number=member.card_number,
            status=MemberStatus(member.status),
            name=member.name,
            gender=Gender(member.gender),
            birthday=member.birthday,
            phone=member.phone,
            email=member.email,
            province=member.province,
            city=member.city,
            education=member.education,
            occupation=member.occupation,
            income_range=member.income_range,
            interests=list(member.interests),
            join_channel=member.join_channel,
            join_source=member.join_source,
            joined_at=member.joined_at,
            created_at=member.created_at,
            updated_at=member.updated_at,
            attributes=member.attributes,
        )


def member_from_model(member: MemberModel) -> Member:
    return Member.from_model(member)
