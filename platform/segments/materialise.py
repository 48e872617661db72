"""Making a stored set of members (a segment's membership, a rule tag's
assignments) equal to a wanted set, with SQL set operations: one
``DELETE ... WHERE NOT EXISTS`` for who left and one ``INSERT ... SELECT`` for
who entered, never a loop over members in Python.

The wanted set is a :class:`Source`: a compiled rule, or a list of member ids
(an uploaded list). Both may be restricted to some member ids, which is how a
member's facts changing re-evaluates every segment for that member alone.

Statements are hand-written because they embed the compiler's statement as a
sub-query: its parameters come first and ours are numbered after them
(``$n`` on PostgreSQL, ``?n`` on SQLite), so the two compose whatever the
order in which they appear in the text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tessera.db import sqlite_time

# Member ids carried in the domain events of one refresh: beyond this, the
# events say how many entered or left and the list stops (a plugin that needs
# everyone reads the membership through the API).
EVENT_ID_CAP = 10_000


@dataclass(frozen=True)
class Source:
    """The ids of the members who should be in the set: a SQL statement whose
    first column is a member id, and its parameters."""

    sql: str
    params: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class Target:
    """Where the set is stored: ``table`` rows of ``brand_id`` with the fixed
    ``keys`` (``{"segment_id": 7}``), a ``member_id`` and a time column set to
    the moment of entry. ``conflict`` lists the unique columns."""

    table: str
    keys: dict[str, Any]
    time_column: str
    conflict: tuple[str, ...]


@dataclass
class Diff:
    """What a materialisation changed. The id lists stop at
    :data:`EVENT_ID_CAP`; the counts are exact."""

    entered: int = 0
    exited: int = 0
    entered_ids: list[int] = field(default_factory=list)
    exited_ids: list[int] = field(default_factory=list)


class Statement:
    """Parameters of a statement that embeds a compiled rule: ``stmt(value)``
    appends a value and returns its placeholder, numbered after the rule's."""

    def __init__(self, dialect: str, source: Source | None = None) -> None:
        self.postgres = dialect == "postgres"
        self.params: list[Any] = list(source.params) if source else []
        self.source_sql = _numbered(source.sql, self.postgres) if source else ""

    def __call__(self, value: Any) -> str:
        if isinstance(value, datetime) and not self.postgres:
            value = sqlite_time(value)
        self.params.append(value)
        number = len(self.params)
        if not self.postgres:
            return f"?{number}"
        # PostgreSQL cannot always infer a parameter's type (INSERT ... SELECT $1).
        return f"${number}{_PG_CASTS.get(type(value), '')}"

    def ids(self, member_ids: Sequence[int]) -> str:
        """A sub-query listing ``member_ids``, bound as one parameter."""
        if self.postgres:
            return f"SELECT unnest({self(list(member_ids))}::bigint[])"
        return f"SELECT value FROM json_each({self(json.dumps(list(member_ids)))})"


_PG_CASTS = {bool: "::boolean", int: "::bigint", str: "::text", datetime: "::timestamptz"}


def _numbered(sql: str, postgres: bool) -> str:
    # SQLite numbers a bare "?" after the largest number seen so far, so ours
    # (?n) would shift the rule's; give the rule's their positions explicitly.
    if postgres:
        return sql
    counter = iter(range(1, 1_000_000))
    return re.sub(r"\?(?!\d)", lambda _: f"?{next(counter)}", sql)


def ids_source(member_ids: Sequence[int], dialect: str) -> Source:
    """A :class:`Source` of a fixed list of member ids."""
    if dialect == "postgres":
        return Source("SELECT unnest($1::bigint[]) AS id", [list(member_ids)])
    return Source("SELECT value AS id FROM json_each(?)", [json.dumps(list(member_ids))])


def _scope_sql(stmt: Statement, target: Target, brand_id: int, alias: str) -> str:
    parts = [f"{alias}.brand_id = {stmt(brand_id)}"]
    parts += [f"{alias}.{column} = {stmt(value)}" for column, value in target.keys.items()]
    return " AND ".join(parts)


async def apply(
    connection: Any,
    brand_id: int,
    target: Target,
    source: Source,
    now: datetime,
    *,
    only: Sequence[int] | None = None,
) -> Diff:
    """Make ``target`` hold exactly ``source``'s members (of ``only``, when
    given: other members' rows are left alone). Runs in ``connection``'s
    transaction; returns who entered and who left."""
    dialect = connection.capabilities.dialect
    diff = Diff()

    stmt = Statement(dialect, source)
    restrict = f" AND t.member_id IN ({stmt.ids(only)})" if only is not None else ""
    rows = await connection.execute_query_dict(
        f'DELETE FROM "{target.table}" AS t WHERE {_scope_sql(stmt, target, brand_id, "t")}'
        f"{restrict} AND NOT EXISTS (SELECT 1 FROM ({stmt.source_sql}) AS s "
        f"WHERE s.id = t.member_id) RETURNING member_id",
        stmt.params,
    )
    diff.exited = len(rows)
    diff.exited_ids = sorted(int(r["member_id"]) for r in rows)[:EVENT_ID_CAP]

    before = None if only is not None else await count(connection, brand_id, target)
    stmt = Statement(dialect, source)
    columns = ["brand_id", *target.keys, "member_id", target.time_column]
    values = [stmt(brand_id), *(stmt(v) for v in target.keys.values()), "s.id", stmt(now)]
    restrict = f" AND s.id IN ({stmt.ids(only)})" if only is not None else ""
    insert = (
        f'INSERT INTO "{target.table}" ({", ".join(columns)}) '
        f"SELECT {', '.join(values)} FROM ({stmt.source_sql}) AS s WHERE true{restrict} "
        # In member order in every job: overlapping jobs queue, not deadlock.
        "ORDER BY s.id "
        f"ON CONFLICT ({', '.join(target.conflict)}) DO NOTHING"
    )
    if before is None:
        # A few members: their ids come back from the insert itself.
        rows = await connection.execute_query_dict(insert + " RETURNING member_id", stmt.params)
        diff.entered = len(rows)
        diff.entered_ids = sorted(int(r["member_id"]) for r in rows)[:EVENT_ID_CAP]
        return diff

    # Everyone: count rather than RETURNING every id, so a million-member first
    # refresh does not pull a million ids into Python; the ids for the events
    # are the rows stamped with this moment, up to the cap.
    await connection.execute_query(insert, stmt.params)
    diff.entered = await count(connection, brand_id, target) - before
    if diff.entered:
        stmt = Statement(dialect)
        rows = await connection.execute_query_dict(
            f'SELECT t.member_id FROM "{target.table}" AS t '
            f"WHERE {_scope_sql(stmt, target, brand_id, 't')} "
            f"AND t.{target.time_column} = {stmt(now)} "
            f"ORDER BY t.member_id LIMIT {EVENT_ID_CAP}",
            stmt.params,
        )
        diff.entered_ids = [int(r["member_id"]) for r in rows]
    return diff


async def count(connection: Any, brand_id: int, target: Target) -> int:
    stmt = Statement(connection.capabilities.dialect)
    rows = await connection.execute_query_dict(
        f'SELECT COUNT(*) AS n FROM "{target.table}" AS t '
        f"WHERE {_scope_sql(stmt, target, brand_id, 't')}",
        stmt.params,
    )
    return int(rows[0]["n"])
