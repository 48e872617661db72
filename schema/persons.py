"""Persons: one shopper's members across the brands of a tenant, with
combined figures. Only keys with the ``persons`` scope (docs/persons.md);
brand keys and member tokens are refused."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from tessera.members.identities import IdentityKind
from tessera.persons import reading
from tessera.persons.models import Person as PersonRow
from tessera.persons.reading import TenantScope
from tessera.schema.ids import decode_id, encode_id
from tessera.schema.orders.money import Money
from tessera.schema.pagination import Connection, Window, paginate
from tessera.schema.permissions import CanReadPersons


def _tenant(info: Info) -> TenantScope:
    return TenantScope.of(info.context.scope)


class _Loader(DataLoader[int, object]):
    """One query for every person a request resolves (no N+1 in ``persons``)."""

    def __init__(self, tenant: TenantScope, read: object) -> None:
        super().__init__(load_fn=self._load)
        self.tenant, self.read = tenant, read

    async def _load(self, keys: Sequence[int]) -> list[object]:
        found = await self.read(self.tenant, list(keys))  # type: ignore[operator]
        return [found[key] for key in keys]

    @classmethod
    def of(cls, info: Info, read: object) -> _Loader:
        loader: _Loader = info.context.loader((cls, read), lambda: cls(_tenant(info), read))
        return loader


@strawberry.type(description="A person's member in one brand of the tenant, with its figures.")
class PersonMembership:
    brand_code: str = strawberry.field(description="The brand's code.")
    brand_name: str = strawberry.field(description="The brand's name.")
    member_id: strawberry.ID = strawberry.field(
        description="The member's id in that brand (readable there with that brand's key)."
    )
    name: str = strawberry.field(description="The member's name in that brand.")
    status: str = strawberry.field(description="prospect, active, frozen or cancelled.")
    joined_at: datetime = strawberry.field(description="When they joined that brand.")
    tier_code: str | None = strawberry.field(description="Their tier's code there, if any.")
    tier_name: str | None = strawberry.field(description="Their tier's name there, if any.")
    orders_count: int = strawberry.field(description="Orders recorded there.")
    total_spent: Money = strawberry.field(
        description="Paid there minus refunds, in that brand's currency."
    )
    points_balance: int = strawberry.field(description="Points available there now.")
    first_order_at: datetime | None = strawberry.field(description="Their first order there.")
    last_order_at: datetime | None = strawberry.field(description="Their latest order there.")

    @classmethod
    def of(cls, row: reading.BrandMembership) -> PersonMembership:
        return cls(
            brand_code=row.brand_code,
            brand_name=row.brand_name,
            member_id=strawberry.ID(encode_id("Member", row.member_id)),
            name=row.name,
            status=row.status,
            joined_at=row.joined_at,
            tier_code=row.tier_code,
            tier_name=row.tier_name,
            orders_count=row.orders_count,
            total_spent=Money.of(row.total_spent, row.currency),
            points_balance=row.points,
            first_order_at=row.first_order_at,
            last_order_at=row.last_order_at,
        )


@strawberry.type(description="A person's figures over all of its brands.")
class PersonFigures:
    brands_count: int = strawberry.field(description="Brands the person is a member of.")
    orders_count: int = strawberry.field(description="Orders over all of them.")
    total_spent: list[Money] = strawberry.field(
        description="Paid minus refunds over all of them, one amount per currency "
        "(brands of a tenant may keep different currencies)."
    )
    first_order_at: datetime | None = strawberry.field(description="First order in any brand.")
    last_order_at: datetime | None = strawberry.field(description="Latest order in any brand.")


@strawberry.type(
    description="One shopper across the brands of a tenant: the members that share a "
    "verified phone or WeChat unionid (docs/persons.md)."
)
class Person:
    pk: strawberry.Private[int]
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    created_at: datetime = strawberry.field(description="When the person was first linked.")

    @classmethod
    def from_model(cls, row: PersonRow) -> Person:
        return cls(
            pk=row.id, id=strawberry.ID(encode_id("Person", row.id)), created_at=row.created_at
        )

    @strawberry.field(description="The person's member in each brand, by brand code.")
    async def members(self, info: Info) -> list[PersonMembership]:
        rows = await _Loader.of(info, reading.memberships).load(self.pk)
        return [PersonMembership.of(row) for row in rows]  # type: ignore[attr-defined]

    @strawberry.field(description="Figures over all of the person's brands, summed in SQL.")
    async def figures(self, info: Info) -> PersonFigures:
        found: reading.CombinedFigures = await _Loader.of(info, reading.combined).load(  # type: ignore[assignment]
            self.pk
        )
        return PersonFigures(
            brands_count=found.brands_count,
            orders_count=found.orders_count,
            total_spent=[
                Money.of(amount, currency)
                for currency, amount in sorted(found.spent_by_currency.items())
            ],
            first_order_at=found.first_order_at,
            last_order_at=found.last_order_at,
        )


@strawberry.type
class PersonsQuery:
    @strawberry.field(
        description="A person of the key's tenant by id (the id of a person since joined "
        "into another finds the survivor); null when there is none. Needs the persons scope.",
        permission_classes=[CanReadPersons],
    )
    async def person(self, info: Info, id: strawberry.ID) -> Person | None:
        pk = decode_id(id, "Person")
        found = await reading.person(_tenant(info), pk) if pk is not None else None
        return Person.from_model(found) if found else None

    @strawberry.field(
        description="The person holding this identity in any brand of the key's tenant. Only "
        "linking kinds (PHONE, WECHAT_UNIONID); the value is normalised as on writes (a phone "
        "without `+` is read in the key's brand's region). Needs the persons scope.",
        permission_classes=[CanReadPersons],
    )
    async def person_by_identity(self, info: Info, kind: IdentityKind, value: str) -> Person | None:
        found = await reading.person_by_identity(_tenant(info), kind.value, value)
        return Person.from_model(found) if found else None

    @strawberry.field(
        description="The persons of the key's tenant, oldest first. Needs the persons scope.",
        permission_classes=[CanReadPersons],
    )
    async def persons(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Person]:
        return await paginate(
            _tenant(info).persons(),
            Window(first, after),
            cap=info.context.settings.limits.page_size,
            to_node=Person.from_model,
        )
