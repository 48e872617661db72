"""Every text and JSON value stored anywhere in the database, by table and
column, read from the database's own catalogue (so a table added later is
scanned too)."""

from __future__ import annotations

import json
from typing import Any

from tortoise import connections

_TEXT_TYPES = ("char", "text", "json", "clob", "varchar")


async def text_columns() -> list[tuple[str, str]]:
    conn = connections.get("default")
    if conn.capabilities.dialect == "postgres":
        rows = await conn.execute_query_dict(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND data_type IN "
            "('text', 'character varying', 'json', 'jsonb', 'character')"
        )
        return [(r["table_name"], r["column_name"]) for r in rows]
    found = []
    tables = await conn.execute_query_dict(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    for table in tables:
        for column in await conn.execute_query_dict(f'PRAGMA table_info("{table["name"]}")'):
            if any(t in str(column["type"]).lower() for t in _TEXT_TYPES):
                found.append((table["name"], column["name"]))
    return found


def forms(value: str) -> set[str]:
    """A value as it may be stored: as it is, and JSON-escaped."""
    return {value, json.dumps(value)[1:-1]}


async def find_anywhere(values: set[str]) -> list[tuple[str, str, Any]]:
    """(table, column, stored value) of every stored text holding one of ``values``."""
    conn = connections.get("default")
    needles = {f for v in values if v for f in forms(v)}
    hits = []
    for table, column in await text_columns():
        rows = await conn.execute_query_dict(
            f'SELECT CAST("{column}" AS TEXT) AS v FROM "{table}" WHERE "{column}" IS NOT NULL'
        )
        for row in rows:
            text = str(row["v"])
            if any(n in text for n in needles):
                hits.append((table, column, text[:200]))
    return hits
