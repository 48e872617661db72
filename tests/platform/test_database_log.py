"""The query counter counts what reaches the database, not Tortoise's log lines."""

from __future__ import annotations

import pytest
from tortoise.transactions import in_transaction

from tessera.scope import BrandScope
from tessera.tags.models import Tag
from tessera.testing import record_database


async def test_a_bulk_insert_is_one_round_trip_of_a_statement_per_row(brand_a):
    scope = BrandScope(brand_a)
    rows = [scope.build(Tag, code=f"t{i}", name=f"T{i}") for i in range(200)]
    async with record_database() as log:
        await Tag.bulk_create(rows)
    inserts = [s for s in log.statements if s.lstrip().upper().startswith("INSERT")]
    assert len(inserts) == 200
    assert sum(any(s in trip for s in inserts) for trip in log.round_trips) == 1


async def test_transactions_show_their_begin_savepoint_and_commit(brand_a):
    scope = BrandScope(brand_a)
    async with record_database() as log, in_transaction():
        await scope.query(Tag).count()
        async with in_transaction():
            await scope.query(Tag).exists()
    words = [s.split()[0].upper().rstrip(";") for s in log.statements]
    assert words[0] == "BEGIN" and words[-1] == "COMMIT", words
    assert "SAVEPOINT" in words and "RELEASE" in words, words
    assert words.count("SELECT") == 2
    assert len(log.round_trips) == len(log.statements)


@pytest.mark.postgres_only
async def test_the_drivers_first_look_at_a_type_is_kept_apart_from_round_trips(tessera_db):
    from tortoise import connections

    client = connections.get("default")
    await client.execute_script(
        "DROP TYPE IF EXISTS tessera_test_mood; CREATE TYPE tessera_test_mood AS ENUM ('a', 'b')"
    )
    # Each pooled connection looks the new type up the first time it meets it.
    async with record_database() as first:
        await client.execute_query("SELECT $1::tessera_test_mood AS m", ["a"])
    async with record_database() as again:
        await client.execute_query("SELECT $1::tessera_test_mood AS m", ["b"])
    await client.execute_script("DROP TYPE tessera_test_mood")
    assert len(first.round_trips) == len(again.round_trips) == 1
    assert first.type_lookups > 0
