"""The ``members`` filter and sort inputs, turned into the domain's MemberFilter."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from tessera.members.profile import MemberStatus
from tessera.members.search import AttributeCondition, MemberFilter, MemberSort

strawberry.enum(MemberSort, description="Order of `members`; ties are broken by id.")


@strawberry.input(description="Conditions on tags, by tag code. Expired assignments never match.")
class TagConditionInput:
    all: list[str] = strawberry.field(default_factory=list, description="Has every one of these.")
    any: list[str] = strawberry.field(
        default_factory=list, description="Has at least one of these."
    )
    none: list[str] = strawberry.field(default_factory=list, description="Has none of these.")


@strawberry.input(
    description="A condition on one custom attribute: `equals`, or a range `min`..`max` "
    "(inclusive; numbers and dates only). Values are checked against the attribute's type."
)
class AttributeConditionInput:
    key: str = strawberry.field(description="The attribute's key.")
    equals: JSON | None = strawberry.field(default=None, description="Exact value.")
    min: JSON | None = strawberry.field(default=None, description="Lowest value, inclusive.")
    max: JSON | None = strawberry.field(default=None, description="Highest value, inclusive.")


@strawberry.input(description="Which members to list; every condition given must hold.")
class MemberFilterInput:
    text: str | None = strawberry.field(
        default=None,
        description="Part of the name or card number, or a whole phone or email (they are "
        "stored encrypted, so only an exact value matches; a phone number written as people "
        "do is normalised first).",
    )
    status: list[MemberStatus] = strawberry.field(default_factory=list, description="Any of these.")
    joined_from: datetime | None = strawberry.field(default=None, description="Joined at or after.")
    joined_to: datetime | None = strawberry.field(default=None, description="Joined before.")
    tags: TagConditionInput | None = strawberry.field(default=None, description="Tag conditions.")
    attributes: list[AttributeConditionInput] = strawberry.field(
        default_factory=list, description="Custom attribute conditions (at most 10)."
    )

    def to_domain(self) -> MemberFilter:
        tags = self.tags or TagConditionInput()
        return MemberFilter(
            text=self.text,
            statuses=list(self.status),
            joined_from=self.joined_from,
            joined_to=self.joined_to,
            tags_all=list(tags.all),
            tags_any=list(tags.any),
            tags_none=list(tags.none),
            attributes=[
                AttributeCondition(key=a.key, equals=a.equals, min=a.min, max=a.max)
                for a in self.attributes
            ],
        )
