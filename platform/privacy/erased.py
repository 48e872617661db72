"""Erased identities: recognising, by its keyed digest alone, an identity an
erased member had (docs/privacy.md, "Erasure")."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from tortoise import connections

from tessera import runtime
from tessera.crypto import blind_index
from tessera.privacy.models import ErasedIdentity
from tessera.scope import BrandScope


def digest(scope: BrandScope, kind: str, normalised_value: str) -> str:
    return blind_index(runtime.current().settings.secret(), scope.brand_id, kind, normalised_value)


async def remember(scope: BrandScope, pairs: Iterable[tuple[str, str]], using_db: object) -> None:
    """Keep the digests of ``(kind, normalised value)`` pairs (in the caller's
    transaction); one already kept (a value erased twice, over two members) stays."""
    now = datetime.now(UTC)
    rows = [
        scope.build(ErasedIdentity, kind=kind, digest=digest(scope, kind, value), erased_at=now)
        for kind, value in dict.fromkeys(pairs)
    ]
    await scope.insert_many(ErasedIdentity, rows, using_db, ignore_conflicts=True)


async def was_erased(scope: BrandScope, kind: str, normalised_value: str) -> bool:
    """Whether an erased member had this identity."""
    return await (
        scope.query(ErasedIdentity).filter(digest=digest(scope, kind, normalised_value)).exists()
    )


async def erased_among(
    scope: BrandScope,
    pairs: Iterable[tuple[str, str]],
    known: Mapping[tuple[str, str], str] | None = None,
) -> set[tuple[str, str]]:
    """Which ``(kind, normalised value)`` pairs an erased member had: one
    query. ``known``: digests the caller computed already (the same blind
    index as the members' identities)."""
    known = known or {}
    wanted = set(pairs)
    # Most brands have erased no one: one probe of the brand's index then
    # spares sending a batch's thousands of digests to be looked up (and
    # mapping them back).
    if not wanted or not await scope.query(ErasedIdentity).exists():
        return set()
    by_digest = {
        known.get((kind, value)) or digest(scope, kind, value): (kind, value)
        for kind, value in wanted
    }
    # Hand-written: the ORM builds an IN list of a batch's thousands of
    # digests slower than the database answers it.
    table = ErasedIdentity._meta.db_table
    connection = connections.get("default")
    if connection.capabilities.dialect == "postgres":
        sql = f'SELECT digest FROM "{table}" WHERE brand_id = $1 AND digest = ANY($2::text[])'
        params: list[object] = [scope.brand_id, sorted(by_digest)]
    else:
        sql = (
            f'SELECT digest FROM "{table}" WHERE brand_id = ? '
            "AND digest IN (SELECT value FROM json_each(?))"
        )
        params = [scope.brand_id, json.dumps(sorted(by_digest))]
    rows = await connection.execute_query_dict(sql, params)
    return {by_digest[str(row["digest"])] for row in rows}
