"""What every brand-owned row has in common."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class BrandOwned(Model):
    """A row that belongs to one brand. Only :class:`tessera.scope.BrandScope`
    reads or writes these, so no query can forget the brand filter."""

    brand: fields.ForeignKeyRelation = fields.ForeignKeyField(  # type: ignore[type-arg]
        "tessera.Brand", related_name=False, on_delete=fields.CASCADE, index=False
    )
    brand_id: int

    class Meta:
        abstract = True
