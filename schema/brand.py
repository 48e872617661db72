"""The caller's brand."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from tessera.schema.ids import encode_id
from tessera.schema.permissions import CanRead, CanReadOrIsMember
from tessera.tenancy.models import Brand as BrandModel


@strawberry.type(
    description="A membership programme: the brand the caller's key belongs to. A member "
    "token reads its public facts (`code`, `name`, `currency`, `timezone`); the rest needs "
    "the read scope."
)
class Brand:
    id: strawberry.ID = strawberry.field(
        description="Opaque id. Needs the read scope.", permission_classes=[CanRead]
    )
    code: str = strawberry.field(description="Short unique code, e.g. `acme-cn`.")
    name: str = strawberry.field(description="Display name.")
    currency: str = strawberry.field(description="ISO 4217 currency of all money in this brand.")
    timezone: str = strawberry.field(
        description="IANA time zone in which days, birthdays and expiries are reckoned."
    )
    default_region: str = strawberry.field(
        description="ISO 3166 region assumed for phone numbers written without `+`. Needs "
        "the read scope.",
        permission_classes=[CanRead],
    )

    @classmethod
    def from_model(cls, brand: BrandModel) -> Brand:
        return cls(
            id=strawberry.ID(encode_id("Brand", brand.id)),
            code=brand.code,
            name=brand.name,
            currency=brand.currency,
            timezone=brand.timezone,
            default_region=brand.default_region,
        )


@strawberry.type
class BrandQuery:
    @strawberry.field(
        description="The caller's brand (a member token: its member's brand).",
        permission_classes=[CanReadOrIsMember],
    )
    def brand(self, info: Info) -> Brand:
        return Brand.from_model(info.context.scope.brand)
