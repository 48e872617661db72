"""A person: one human being across the brands of a tenant (docs/persons.md).

These rows belong to a tenant, not to a brand: they are read only through
:class:`tessera.persons.scope.TenantScope`, by a tenant-level key or user.
No clear identity value is stored here, only keyed per-tenant digests."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Person(Model):
    """The members of one tenant's brands that share a verified identity.

    When two persons turn out to share a digest the older one survives; the
    younger keeps its row with ``merged_into`` so an id handed out earlier
    still finds the survivor."""

    id = fields.BigIntField(primary_key=True)
    tenant: fields.ForeignKeyRelation = fields.ForeignKeyField(  # type: ignore[type-arg]
        "tessera.Tenant", related_name=False, on_delete=fields.CASCADE, index=False
    )
    tenant_id: int
    merged_into: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "tessera.Person", related_name=False, on_delete=fields.SET_NULL, null=True
    )
    merged_into_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "person"
        indexes = (("tenant_id", "id"),)


class PersonMember(Model):
    """A member's link to its person: a member has at most one."""

    id = fields.BigIntField(primary_key=True)
    tenant: fields.ForeignKeyRelation = fields.ForeignKeyField(  # type: ignore[type-arg]
        "tessera.Tenant", related_name=False, on_delete=fields.CASCADE, index=False
    )
    tenant_id: int
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "tessera.Person", related_name=False, on_delete=fields.CASCADE, index=False
    )
    person_id: int
    brand: fields.ForeignKeyRelation = fields.ForeignKeyField(  # type: ignore[type-arg]
        "tessera.Brand", related_name=False, on_delete=fields.CASCADE, index=False
    )
    brand_id: int
    member: fields.OneToOneRelation = fields.OneToOneField(  # type: ignore[type-arg]
        "tessera.Member", related_name=False, on_delete=fields.CASCADE
    )
    member_id: int
    linked_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "person_member"
        indexes = (("tenant_id", "person_id"),)


class PersonIdentity(Model):
    """One linking identity of a member, as a per-tenant keyed digest
    (:func:`tessera.crypto.tenant_digest`): equal values of one tenant's brands
    have equal digests; the value itself is not kept. The person's identities
    are those of its members."""

    id = fields.BigIntField(primary_key=True)
    tenant: fields.ForeignKeyRelation = fields.ForeignKeyField(  # type: ignore[type-arg]
        "tessera.Tenant", related_name=False, on_delete=fields.CASCADE, index=False
    )
    tenant_id: int
    brand: fields.ForeignKeyRelation = fields.ForeignKeyField(  # type: ignore[type-arg]
        "tessera.Brand", related_name=False, on_delete=fields.CASCADE, index=False
    )
    brand_id: int
    member: fields.ForeignKeyRelation = fields.ForeignKeyField(  # type: ignore[type-arg]
        "tessera.Member", related_name=False, on_delete=fields.CASCADE, index=False
    )
    member_id: int
    kind = fields.CharField(max_length=32)
    digest = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "person_identity"
        unique_together = (("member_id", "kind", "digest"),)
        # The digest covers the kind (it is keyed over kind and value), so
        # linking joins on the digest alone and this index serves it.
        indexes = (("tenant_id", "digest"),)
