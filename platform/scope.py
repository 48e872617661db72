"""The one brand-scoping mechanism (DESIGN.md, Tenancy).

Services receive a :class:`BrandScope` and reach brand-owned rows only through
it, so the ``brand_id`` filter cannot be forgotten at a call site. A test walks
the services and fails on a direct query of a brand-owned model.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from tortoise.exceptions import IntegrityError
from tortoise.fields import JSONField
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


def _pg_records(fields: list[tuple[str, Any]], rows: Sequence[Mapping[str, Any]]) -> list[Any]:
    """``rows`` as asyncpg takes them, a tuple each (JSON columns as text).
    Each record is picked by one itemgetter: a Python expression per cell was
    a twentieth of a member import's time."""
    names = [n for n, _ in fields]
    if len(names) == 1:  # itemgetter of one name returns the value, not a tuple
        records: list[Any] = [(row[names[0]],) for row in rows]
    else:
        pick = operator.itemgetter(*names)
        records = [pick(row) for row in rows]
    json_at = [i for i, (_, field) in enumerate(fields) if isinstance(field, JSONField)]
    if json_at:
        for index, record in enumerate(records):
            cells = list(record)
            for i in json_at:
                cells[i] = json.dumps(cells[i])
            records[index] = tuple(cells)
    return records


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

    def loaded(self, model: type[M], rows: Sequence[Mapping[str, Any]]) -> list[M]:
        """Instances of rows this brand just wrote (every column given, the
        id included), as a query would return them: a batch's thousands of
        rows skip the per-field validation of :meth:`build`."""
        if any(row["brand_id"] != self.brand.id for row in rows):
            raise ValueError(f"{model.__name__} rows of another brand passed to loaded")
        return [model._init_from_db(**row) for row in rows]

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

    async def copy_many(self, model: type[M], rows: Sequence[M], using_db: Any) -> None:
        """:meth:`insert_many`, by ``COPY`` on PostgreSQL: one round trip and
        no statement per row, for batches. The rows' ids are not set (read
        them back by a unique key)."""
        if not rows:
            return
        if any(row.brand_id != self.brand.id for row in rows):
            raise ValueError(f"{model.__name__} rows of another brand passed to copy_many")
        if using_db is None or using_db.capabilities.dialect != "postgres":
            await model.bulk_create(rows, using_db=using_db)
            return
        meta = model._meta
        columns = [
            (meta.fields_map[name], column)
            for name, column in meta.fields_db_projection.items()
            if not (name == meta.pk_attr and meta.pk.generated)
        ]
        records = [
            tuple(f.to_db_value(getattr(row, f.model_field_name), row) for f, _ in columns)
            for row in rows
        ]
        await self._copy(meta.db_table, [c for _, c in columns], records, using_db)

    async def copy_values(
        self, model: type[M], rows: Sequence[Mapping[str, Any]], using_db: Any
    ) -> None:
        """:meth:`insert_rows` when the caller does not need the new ids (the
        table's sequence fills them during the ``COPY``: one round trip fewer
        on PostgreSQL)."""
        await self.insert_rows(model, rows, using_db, return_ids=False)

    async def _copy(
        self, table: str, columns: list[str], records: list[tuple[Any, ...]], using_db: Any
    ) -> None:
        """The one ``COPY`` (asyncpg's binary copy, on the transaction's own
        connection) behind :meth:`copy_many` and :meth:`insert_rows`."""
        from asyncpg.exceptions import IntegrityConstraintViolationError

        try:
            async with using_db.acquire_connection() as connection:
                await connection.copy_records_to_table(table, records=records, columns=columns)
        except IntegrityConstraintViolationError as error:
            # As Tortoise reports it for its own statements (the driver's
            # copy bypasses its translation): callers catch this one.
            raise IntegrityError(error) from error

    async def update_many(
        self, model: type[M], rows: Sequence[M], fields: Sequence[str], using_db: Any = None
    ) -> None:
        """Write ``fields`` of loaded rows in one statement, refusing any row
        of another brand (the statement names rows by primary key)."""
        if not rows:
            return
        if any(row.brand_id != self.brand.id for row in rows):
            raise ValueError(f"{model.__name__} rows of another brand passed to update_many")
        await model.bulk_update(rows, fields=list(fields), using_db=using_db)

    async def insert_rows(
        self,
        model: type[M],
        rows: Sequence[Mapping[str, Any]],
        using_db: Any,
        *,
        return_ids: bool = True,
        ignore_conflicts: bool = False,
    ) -> list[int]:
        """Insert rows given as ``{field: value}`` (the brand's id added, other
        fields at their defaults) and return their new ids in order (or ``[]``
        without ``return_ids``): for batches too large for :meth:`insert_many`,
        which builds a model instance per row and sends one statement per row.

        ``using_db`` is a transaction's connection (a unit of work's).
        PostgreSQL gets the rows by ``COPY`` with ids drawn beforehand; SQLite
        (in-process, nothing to gain from a bulk protocol) multi-row
        ``VALUES``: the ids of one statement are drawn in the order of its
        rows (SQLite has one writer), so sorted they match the rows whatever
        order ``RETURNING`` lists them in.

        With ``ignore_conflicts`` (no ids: a row that conflicts is skipped, as
        ``ON CONFLICT DO NOTHING``, which ``COPY`` cannot do) both get one
        multi-row statement when the rows fit in one (a batch's outbox rows),
        else one prepared single-row statement sent for every row
        (``executemany``): one round trip whatever the number of rows."""
        if not rows:
            return []
        meta = model._meta
        fields = [
            (name, meta.fields_map[name])
            for name in meta.fields_db_projection
            if not (name == meta.pk_attr and meta.pk.generated)
        ]
        now = datetime.now(UTC)
        defaults = {name: _default(field, now) for name, field in fields}
        full = [{**defaults, **row, "brand_id": self.brand.id} for row in rows]
        postgres = using_db.capabilities.dialect == "postgres"
        table, pk = meta.db_table, meta.db_pk_column
        columns = ", ".join(f'"{meta.fields_db_projection[name]}"' for name, _ in fields)
        if ignore_conflicts:
            # asyncpg takes the values as they are, as COPY does.
            records = (
                _pg_records(fields, full)
                if postgres
                else [[field.to_db_value(row[n], model) for n, field in fields] for row in full]
            )
            width = len(fields)
            if len(records) > INSERT_ROWS:
                marks = ", ".join(f"${c + 1}" if postgres else "?" for c in range(width))
                await using_db.execute_many(
                    f'INSERT INTO "{table}" ({columns}) VALUES ({marks}) ON CONFLICT DO NOTHING',
                    records,
                )
                return []
            values = ", ".join(
                "("
                + ", ".join(f"${r * width + c + 1}" if postgres else "?" for c in range(width))
                + ")"
                for r in range(len(records))
            )
            await using_db.execute_query(
                f'INSERT INTO "{table}" ({columns}) VALUES {values} ON CONFLICT DO NOTHING',
                [v for record in records for v in record],
            )
            return []
        if postgres:
            return await self._copy_rows(model, full, using_db, fields, return_ids)
        returning = f' RETURNING "{pk}"' if return_ids else ""
        ids: list[int] = []
        marks = "(" + ", ".join("?" for _ in fields) + ")"
        for start in range(0, len(full), INSERT_ROWS):
            part = full[start : start + INSERT_ROWS]
            sql = f'INSERT INTO "{table}" ({columns}) VALUES {", ".join(marks for _ in part)}'
            params = [field.to_db_value(row[n], model) for row in part for n, field in fields]
            inserted = await using_db.execute_query_dict(sql + returning, params)
            ids += sorted(int(r[pk]) for r in inserted) if return_ids else []
        return ids

    async def rows_by_key(
        self,
        connection: Any,
        table: str,
        column: str,
        values: Sequence[Any] | set[Any],
        select: str = "*",
    ) -> list[dict[str, Any]]:
        """The brand's rows of ``table`` whose ``column`` is one of ``values``
        (``select`` of each), in one statement. On PostgreSQL one index probe
        per value (``LATERAL … OFFSET 0``): on a table just filled by ``COPY``
        (no statistics yet) an ``IN`` list of a batch's thousand values was
        planned as a scan of every row of the brand. On SQLite the values are
        one JSON list."""
        keys = sorted(set(values))
        if not keys:
            return []
        if connection.capabilities.dialect == "postgres":
            kind = "bigint" if isinstance(keys[0], int) else "text"
            sql = (
                f"SELECT r.* FROM unnest($2::{kind}[]) AS w(k) CROSS JOIN LATERAL "
                f'(SELECT {select} FROM "{table}" WHERE brand_id = $1 AND "{column}" = w.k '
                "OFFSET 0) AS r"
            )
            params: list[Any] = [self.brand.id, keys]
        else:
            sql = (
                f'SELECT {select} FROM "{table}" WHERE brand_id = ? '
                f'AND "{column}" IN (SELECT value FROM json_each(?))'
            )
            params = [self.brand.id, json.dumps(keys)]
        rows: list[dict[str, Any]] = await connection.execute_query_dict(sql, params)
        return rows

    async def _copy_rows(
        self,
        model: type[M],
        rows: list[dict[str, Any]],
        using_db: Any,
        fields: list[tuple[str, Any]],
        return_ids: bool,
    ) -> list[int]:
        """PostgreSQL: the ids drawn from the table's sequence in one query
        (when wanted), then :meth:`_copy`."""
        meta = model._meta
        table, pk = meta.db_table, meta.db_pk_column
        columns = [meta.fields_db_projection[n] for n, _ in fields]
        ids: list[int] = []
        if return_ids:
            drawn = await using_db.execute_query_dict(
                f"SELECT nextval(pg_get_serial_sequence('\"{table}\"', '{pk}')) AS id "
                "FROM generate_series(1, $1)",
                [len(rows)],
            )
            ids = sorted(int(r["id"]) for r in drawn)
            columns = [pk, *columns]
        records = _pg_records(fields, rows)
        if ids:
            records = [(row_id, *record) for row_id, record in zip(ids, records, strict=True)]
        await self._copy(table, columns, records, using_db)
        return ids

    def acting_as(self, actor: Actor) -> BrandScope:
        return BrandScope(self.brand, actor)
