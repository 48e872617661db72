"""The committed migrations build exactly the schema the models declare.

This fails when someone changes a model without `tessera makemigrations`.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from tessera_processes import cli_env, fresh_database, tessera

from tessera import crypto, db
from tessera.testing import TEST_SECRET_KEY

# (type, nullable) per column, per table.
Schema = dict[str, dict[str, tuple[str, bool]]]

MIGRATION_HISTORY = "tortoise_migrations"


def _sqlite_schema(url: str) -> Schema:
    with sqlite3.connect(url.removeprefix("sqlite://").split("?")[0]) as con:
        tables = [
            name
            for (name,) in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {
            table: {
                column: (kind.upper(), not notnull and not pk)
                for _, column, kind, notnull, _, pk in con.execute(f'PRAGMA table_info("{table}")')
            }
            for table in tables
            if table != MIGRATION_HISTORY
        }


async def _postgres_schema(url: str) -> Schema:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            """
            SELECT table_name, column_name, data_type, character_maximum_length, is_nullable
            FROM information_schema.columns
            WHERE table_schema = 'public' AND table_name <> $1
            """,
            MIGRATION_HISTORY,
        )
    finally:
        await conn.close()
    schema: Schema = {}
    for row in rows:
        kind = row["data_type"] + (
            f"({row['character_maximum_length']})" if row["character_maximum_length"] else ""
        )
        schema.setdefault(row["table_name"], {})[row["column_name"]] = (
            kind,
            row["is_nullable"] == "YES",
        )
    return schema


async def _brand_keys(url: str) -> set[tuple[str, str]]:
    """The PostgreSQL-only composite brand keys (migration 0004_brand_keys)."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT conrelid::regclass::text AS t, conname FROM pg_constraint"
            " WHERE conname LIKE '%brand_fkey' OR conname LIKE '%brand_id_id_key'"
        )
    finally:
        await conn.close()
    return {(row["t"], row["conname"]) for row in rows}


async def _schema(url: str) -> Schema:
    return await _postgres_schema(url) if db.is_postgres(url) else _sqlite_schema(url)


async def test_migrating_an_empty_database_yields_the_models_tables_and_columns(
    tessera_database_url: str, tmp_path: Path
) -> None:
    # tessera_database_url was built straight from the models (generate_schemas).
    url, drop = await fresh_database(tmp_path / "migrated")
    try:
        result = tessera("migrate", env=cli_env(url, tmp_path / "var"), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        migrated = await _schema(url)
        if db.is_postgres(url):
            # The suite's database gets the same keys from the migration's own
            # statements (tessera.testing), so both must hold the same set.
            migrated_keys = await _brand_keys(url)
            assert len(migrated_keys) > 30
            assert migrated_keys == await _brand_keys(tessera_database_url)
    finally:
        if drop is not None:
            await drop()
    modelled = await _schema(tessera_database_url)
    missing, extra = sorted(modelled.keys() - migrated), sorted(migrated.keys() - modelled)
    assert not missing and not extra, (
        f"run `tessera makemigrations`: tables missing {missing}, tables not in models {extra}"
    )
    for table, columns in modelled.items():
        assert migrated[table] == columns, f"columns of {table!r} differ from the models"


def test_no_model_text_holds_a_semicolon(tessera_runtime) -> None:
    # Tortoise's migration executor splits SQL on ';', and SQLite carries
    # column and table descriptions inside CREATE TABLE as comments: a ';' in a
    # docstring or description breaks `tessera migrate` on SQLite.
    from tortoise import Tortoise

    from tessera.db import APP_LABEL

    offenders = []
    for name, model in Tortoise.apps[APP_LABEL].items():
        texts = [model._meta.table_description or ""]
        texts += [f.description or "" for f in model._meta.fields_map.values()]
        offenders += [f"{name}: {t!r}" for t in texts if ";" in t]
    assert not offenders, offenders


async def _rows(url: str, sql: str) -> list[dict[str, Any]]:
    if db.is_postgres(url):
        conn = await asyncpg.connect(url)
        try:
            return [dict(r) for r in await conn.fetch(sql)]
        finally:
            await conn.close()
    with sqlite3.connect(url.removeprefix("sqlite://").split("?")[0]) as con:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute(sql)]


async def test_0010_seals_the_identities_a_database_holds_in_clear(tmp_path: Path) -> None:
    url, drop = await fresh_database(tmp_path / "clear")
    try:
        seeded = subprocess.run(
            [sys.executable, "-P", str(Path(__file__).with_name("seed_at_0007.py")), url],
            env=cli_env(url, tmp_path / "var"),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert seeded.returncode == 0, seeded.stderr
        ids = json.loads(seeded.stdout.strip().splitlines()[-1])
        result = tessera("migrate", env=cli_env(url, tmp_path / "var"), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        members = await _rows(url, "SELECT * FROM member")
        identities = await _rows(url, "SELECT * FROM member_identity ORDER BY id")
        roles = await _rows(url, "SELECT scopes FROM admin_role")
    finally:
        if drop is not None:
            await drop()
    dump = repr(members) + repr(identities)
    for clear in ("+8613800138000", "li@example.com", "oX1aAbCdEfGh9f2Q"):
        assert clear not in dump
    brand = ids["brand"]
    (member,) = members
    assert "phone" not in member and "email" not in member
    assert (
        crypto.unseal(TEST_SECRET_KEY, brand, "phone", member["phone_sealed"]) == "+8613800138000"
    )
    assert (
        crypto.unseal(TEST_SECRET_KEY, brand, "email", member["email_sealed"]) == "li@example.com"
    )
    for row in identities:
        if row["sealed"] is not None:
            value = crypto.unseal(TEST_SECRET_KEY, brand, row["kind"], row["sealed"])
            assert row["sealed"].startswith("1:") and row["reference"] is None
        else:
            value = row["reference"]
        assert row["digest"] == crypto.blind_index(TEST_SECRET_KEY, brand, row["kind"], value)
    assert len(identities) == 5
    assert {r["kind"]: r["reference"] for r in identities if r["reference"]} == {
        "card_number": "80000001",
        "external_id": "crm-1",
    }
    (role,) = roles
    scopes = json.loads(role["scopes"]) if isinstance(role["scopes"], str) else role["scopes"]
    assert scopes == ["admin", "pii"]


@pytest.mark.postgres_only
async def test_the_tables_read_member_by_member_are_analysed_after_one_percent_changed(
    tmp_path: Path,
) -> None:
    """Migration 0022: a brand new to such a table is sampled ten times
    sooner than autovacuum's default (docs/operations.md, "Scaling")."""
    url, drop = await fresh_database(tmp_path / "migrated")
    try:
        result = tessera("migrate", env=cli_env(url, tmp_path / "var"), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        conn = await asyncpg.connect(url)
        try:
            rows = await conn.fetch(
                "SELECT relname, reloptions FROM pg_class WHERE relkind = 'r' "
                "AND relname = ANY($1::text[])",
                ["sales_order", "member_identity", "member_stats", "ledger_entry", "outbox"],
            )
        finally:
            await conn.close()
        options = {r["relname"]: r["reloptions"] or [] for r in rows}
        for table in ("sales_order", "member_identity", "member_stats", "ledger_entry"):
            assert options[table] == ["autovacuum_analyze_scale_factor=0.01"], table
        assert options["outbox"] == []  # not read member by member: the default
    finally:
        if drop is not None:
            await drop()
