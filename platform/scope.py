"""The one brand-scoping mechanism (DESIGN.md, Tenancy).

Services receive a :class:`BrandScope` and reach brand-owned rows only through
it, so the ``brand_id`` filter cannot be forgotten at a call site. A test walks
the services and fails on a direct query of a brand-owned model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tortoise.queryset import QuerySet

from tessera.models_base import BrandOwned
from tessera.tenancy.models import Brand

M = TypeVar("M", bound=BrandOwned)
# Rows per multi-row INSERT: under both databases' limit of bound parameters
# (32,767) for tables of up to 30 columns.
INSERT_ROWS = 1000


@dataclass(frozen=True)
class Actor:
    """Who is acting: recorded in the audit log and on ledger entries."""

    kind: str  # "api_key", "admin_user", "member", "system", "cli"
    id: str | None = None
    label: str | None = None

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}" if self.id else self.kind


SYSTEM = Actor("system")


@dataclass(frozen=True)
class BrandScope:
    """A brand, and who acts in it. The only door to brand-owned rows."""

    brand: Brand
    actor: Actor = field(default=SYSTEM)

    @property
    def brand_id(self) -> int:
        return self.brand.id

    def query(self, model: type[M]) -> QuerySet[M]:
        return model.filter(brand_id=self.brand.id)

    async def get(self, model: type[M], pk: Any) -> M | None:
        return await self.query(model).get_or_none(pk=pk)

    async def create(self, model: type[M], using_db: Any = None, **values: Any) -> M:
        return await model.create(using_db=using_db, brand_id=self.brand.id, **values)

    def build(self, model: type[M], **values: Any) -> M:
        """An unsaved instance, for bulk inserts."""
        return model(brand_id=self.brand.id, **values)

    async def insert_many(
        self,
        model: type[M],
        rows: Sequence[M],
        using_db: Any = None,
        *,
        ignore_conflicts: bool = False,
    ) -> None:
        """Bulk-insert rows made by :meth:`build`, refusing any of another brand
        (so a row built elsewhere cannot slip in)."""
        if not rows:
            return
        if any(row.brand_id != self.brand.id for row in rows):
            raise ValueError(f"{model.__name__} rows of another brand passed to insert_many")
        await model.bulk_create(rows, ignore_conflicts=ignore_conflicts, using_db=using_db)

    async def insert_returning_ids(
        self, model: type[M], rows: Sequence[M], using_db: Any
    ) -> list[int]:
        """Insert rows made by :meth:`build` with multi-row ``INSERT ... VALUES``
        statements (one round trip per :data:`INSERT_ROWS` rows, where
        :meth:`insert_many` sends one statement per row) and return their new
        ids in the rows' order; ``rows`` get their ``id`` set too.

        The ids of one statement are drawn in the order of its ``VALUES`` (a
        sequence on PostgreSQL, SQLite's single writer), so sorted they match
        the rows whatever order ``RETURNING`` lists them in."""
        if any(row.brand_id != self.brand.id for row in rows):
            raise ValueError(f"{model.__name__} rows of another brand passed to insert")
        meta = model._meta
        pk = meta.db_pk_column
        # The columns (and their conversions) Tortoise's own inserts use.
        columns = using_db.executor_class(model=model, db=using_db).regular_columns
        db_columns = ", ".join(f'"{meta.fields_db_projection[name]}"' for name in columns)
        postgres = using_db.capabilities.dialect == "postgres"
        ids: list[int] = []
        for start in range(0, len(rows), INSERT_ROWS):
            part = rows[start : start + INSERT_ROWS]
            params: list[Any] = []
            groups = []
            for row in part:
                marks = []
                for name in columns:
                    params.append(meta.fields_map[name].to_db_value(getattr(row, name), row))
                    marks.append(f"${len(params)}" if postgres else "?")
                groups.append(f"({', '.join(marks)})")
            sql = (
                f'INSERT INTO "{meta.db_table}" ({db_columns}) VALUES {", ".join(groups)} '
                f'RETURNING "{pk}"'
            )
            new = sorted(int(r[pk]) for r in await using_db.execute_query_dict(sql, params))
            for row, row_id in zip(part, new, strict=True):
                row.pk = row_id
            ids.extend(new)
        return ids

    def acting_as(self, actor: Actor) -> BrandScope:
        return BrandScope(self.brand, actor)
