"""Identity types: the ways a member is recognised."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from tessera.members.identities import IdentityKind
from tessera.members.models import MemberIdentity
from tessera.schema.ids import encode_id
from tessera.schema.members.personal import shown

strawberry.enum(
    IdentityKind,
    description="A kind of identity. Values are normalised: PHONE to E.164 (numbers without "
    "`+` read in the brand's `defaultRegion`), EMAIL lower-cased, CARD_NUMBER without spaces "
    "or dashes; the others are kept as given, trimmed.",
)


@strawberry.type(description="One way to recognise a member, unique in the brand per kind.")
class Identity:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    kind: IdentityKind = strawberry.field(description="What kind of identity.")
    created_at: datetime = strawberry.field(description="When it was added.")
    row: strawberry.Private[MemberIdentity]

    @strawberry.field(
        description="The normalised value. Phones, emails and social ids are masked "
        "(`+86138****8000`, `a***@example.com`, `oX1a…9f2Q`) without the `pii` scope."
    )
    def value(self, info: Info) -> str:
        return shown(info, self.row.member_id, self.row.kind, self.row.value) or ""

    @classmethod
    def from_model(cls, identity: MemberIdentity) -> Identity:
        return cls(
            id=strawberry.ID(encode_id("Identity", identity.id)),
            kind=IdentityKind(identity.kind),
            created_at=identity.created_at,
            row=identity,
        )


@strawberry.input(description="An identity: a kind and a value (normalised by Tessera).")
class IdentityInput:
    kind: IdentityKind = strawberry.field(description="What kind of identity.")
    value: str = strawberry.field(description="The value as the caller has it.")

    def pair(self) -> tuple[str, str]:
        return (self.kind.value, self.value)
