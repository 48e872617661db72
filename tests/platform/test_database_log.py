"""The query counter counts what reaches the database, not Tortoise's log lines."""

from __future__ import annotations

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
