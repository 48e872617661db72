"""Putting tags on (and taking them off) up to 10,000 members in one SQL
statement each way.

Hand-written SQL, because the ORM's bulk insert needs one statement per
batch of rows (a statement carries at most ~32k parameters) while here the
member ids travel as one array parameter (PostgreSQL) or one JSON text
(SQLite), whatever their number. The brand id is always bound explicitly and
the member ids have already been checked against the caller's brand.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tessera.db import sqlite_time
from tessera.tags.models import TagAssignment

_TABLE = TagAssignment._meta.db_table


async def insert_assignments(
    connection: Any,
    brand_id: int,
    member_ids: Sequence[int],
    tags: Sequence[tuple[int, datetime | None]],
    source: str,
    now: datetime,
) -> list[int]:
    """Assign each (tag id, expiry) to every member; an assignment that exists
    for the same source gets the new expiry. Returns the member ids whose
    assignments were created or changed (with repeats)."""
    if not member_ids or not tags:
        return []
    if connection.capabilities.dialect == "postgres":
        sql = f"""
            INSERT INTO "{_TABLE}" (brand_id, tag_id, member_id, source, expires_at, created_at)
            SELECT $1, t.tag_id, m.member_id, $2, t.expires_at, $3
            FROM unnest($4::bigint[]) AS m(member_id)
            CROSS JOIN unnest($5::int[], $6::timestamptz[]) AS t(tag_id, expires_at)
            ON CONFLICT (brand_id, tag_id, member_id, source)
            DO UPDATE SET expires_at = EXCLUDED.expires_at
            WHERE "{_TABLE}".expires_at IS DISTINCT FROM EXCLUDED.expires_at
            RETURNING member_id
        """
        params: list[Any] = [
            brand_id,
            source,
            now,
            list(member_ids),
            [t for t, _ in tags],
            [e for _, e in tags],
        ]
    else:
        sql = f"""
            INSERT INTO "{_TABLE}" (brand_id, tag_id, member_id, source, expires_at, created_at)
            SELECT ?, json_extract(t.value, '$[0]'), m.value, ?, json_extract(t.value, '$[1]'), ?
            FROM json_each(?) AS m CROSS JOIN json_each(?) AS t
            WHERE true
            ON CONFLICT (brand_id, tag_id, member_id, source)
            DO UPDATE SET expires_at = excluded.expires_at
            WHERE "{_TABLE}".expires_at IS NOT excluded.expires_at
            RETURNING member_id
        """
        params = [
            brand_id,
            source,
            sqlite_time(now),
            json.dumps(list(member_ids)),
            json.dumps([[t, sqlite_time(e) if e is not None else None] for t, e in tags]),
        ]
    rows = await connection.execute_query_dict(sql, params)
    return [int(row["member_id"]) for row in rows]


async def delete_assignments(
    connection: Any,
    brand_id: int,
    member_ids: Sequence[int],
    tag_ids: Sequence[int],
    sources: Sequence[str] | None,
) -> list[int]:
    """Remove the tags from the members (only ``sources``' assignments when
    given). Returns the member ids whose assignments were removed."""
    if not member_ids or not tag_ids:
        return []
    if connection.capabilities.dialect == "postgres":
        sql = (
            f'DELETE FROM "{_TABLE}" WHERE brand_id = $1 AND member_id = ANY($2::bigint[]) '
            "AND tag_id = ANY($3::int[])"
        )
        params: list[Any] = [brand_id, list(member_ids), list(tag_ids)]
        if sources is not None:
            sql += " AND source = ANY($4::text[])"
            params.append(list(sources))
    else:
        sql = (
            f'DELETE FROM "{_TABLE}" WHERE brand_id = ? '
            "AND member_id IN (SELECT value FROM json_each(?)) "
            "AND tag_id IN (SELECT value FROM json_each(?))"
        )
        params = [brand_id, json.dumps(list(member_ids)), json.dumps(list(tag_ids))]
        if sources is not None:
            sql += " AND source IN (SELECT value FROM json_each(?))"
            params.append(json.dumps(list(sources)))
    rows = await connection.execute_query_dict(sql + " RETURNING member_id", params)
    return [int(row["member_id"]) for row in rows]
