"""Bulk inserts of brand-owned rows, checked against the scope.

``BrandScope.build`` makes the rows; this is the one place in the facts
domains that hands them to ``bulk_create``, after checking that every row
belongs to the scope's brand (so a row built elsewhere cannot slip in).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from tessera.models_base import BrandOwned
from tessera.scope import BrandScope

M = TypeVar("M", bound=BrandOwned)


async def insert_many(
    scope: BrandScope,
    model: type[M],
    rows: Sequence[M],
    connection: Any,
    *,
    ignore_conflicts: bool = False,
) -> None:
    if not rows:
        return
    if any(row.brand_id != scope.brand_id for row in rows):
        raise ValueError(f"{model.__name__} rows of another brand passed to insert_many")
    await model.bulk_create(rows, ignore_conflicts=ignore_conflicts, using_db=connection)
