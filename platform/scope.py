"""The one brand-scoping mechanism (DESIGN.md, Tenancy).

Services receive a :class:`BrandScope` and reach brand-owned rows only through
it, so the ``brand_id`` filter cannot be forgotten at a call site. A test walks
the services and fails on a direct query of a brand-owned model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from tortoise.queryset import QuerySet

from tessera.models_base import BrandOwned
from tessera.tenancy.models import Brand

M = TypeVar("M", bound=BrandOwned)


def _default(field: Any, now: datetime) -> Any:
    """A column's value when a row does not give it, as Tortoise would set it."""
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return now
    default = field.default
    return default() if callable(default) else default


def _json_value(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} cannot be stored as JSON")


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

    async def insert_rows(
        self, model: type[M], rows: Sequence[Mapping[str, Any]], using_db: Any
    ) -> list[int]:
        """Insert rows given as ``{field: value}`` (the brand's id added, other
        fields at their defaults) and return their new ids in order: for
        batches too large for :meth:`insert_many`, which builds a model
        instance per row and sends one statement per row.

        PostgreSQL gets every row of a batch as one JSON parameter
        (``json_populate_recordset``: one short statement, parsed and planned
        once), SQLite multi-row ``VALUES`` (it is in-process). The ids of one
        statement are drawn in the order of its rows (a sequence on
        PostgreSQL, SQLite's single writer), so sorted they match the rows
        whatever order ``RETURNING`` lists them in."""
        if not rows:
            return []
        meta = model._meta
        fields = [
            (name, meta.fields_map[name])
            for name in meta.fields_db_projection
            if name != meta.pk_attr
        ]
        now = datetime.now(UTC)
        defaults = {name: _default(field, now) for name, field in fields}
        table, pk = meta.db_table, meta.db_pk_column
        columns = ", ".join(f'"{meta.fields_db_projection[name]}"' for name, _ in fields)
        postgres = using_db.capabilities.dialect == "postgres"
        ids: list[int] = []
        for start in range(0, len(rows), INSERT_ROWS):
            part = [
                {**defaults, **row, "brand_id": self.brand.id}
                for row in rows[start : start + INSERT_ROWS]
            ]
            if postgres:
                sql = (
                    f'INSERT INTO "{table}" ({columns}) SELECT {columns} '
                    f'FROM json_populate_recordset(NULL::"{table}", $1::json) RETURNING "{pk}"'
                )
                params: list[Any] = [
                    json.dumps(
                        [{meta.fields_db_projection[n]: row[n] for n, _ in fields} for row in part],
                        default=_json_value,
                    )
                ]
            else:
                marks = "(" + ", ".join("?" for _ in fields) + ")"
                sql = (
                    f'INSERT INTO "{table}" ({columns}) VALUES '
                    f'{", ".join(marks for _ in part)} RETURNING "{pk}"'
                )
                params = [field.to_db_value(row[n], model) for row in part for n, field in fields]
            ids += sorted(int(r[pk]) for r in await using_db.execute_query_dict(sql, params))
        return ids

    def acting_as(self, actor: Actor) -> BrandScope:
        return BrandScope(self.brand, actor)
