"""The newest rows of each of many members in two queries, whatever the number
of members: the first page of a per-member list (ledger, orders, behaviour
events) for a whole page of members at once.

One window query ranks each member's rows and keeps the ids of the newest
``size``; a second fetches those rows through the scope. The window function is
plain SQL:2003 (PostgreSQL, and SQLite >= 3.25), which the ORM cannot express,
so the statement is written here, once: integers go into the text through
``int()``, other values are bound, and column names are checked against the
model.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TypeVar

from tessera.models_base import BrandOwned
from tessera.scope import BrandScope
from tessera.segments.materialise import Statement

M = TypeVar("M", bound=BrandOwned)


async def latest_per_member(
    scope: BrandScope,
    model: type[M],
    member_ids: Sequence[int],
    size: int,
    *,
    newest_first: Sequence[str],
    **equal: str | int,
) -> dict[int, list[M]]:
    """Up to ``size`` rows of each member in ``member_ids``, newest first by the
    fields ``newest_first`` (each descending), restricted to rows whose fields
    equal ``equal``. Members without rows are absent from the result."""
    if not member_ids:
        return {}
    connection = model._meta.db
    columns = model._meta.fields_db_projection
    stmt = Statement(connection.capabilities.dialect)
    order = ", ".join(f'"{columns[name]}" DESC' for name in newest_first)
    conditions = "".join(f' AND "{columns[name]}" = {stmt(value)}' for name, value in equal.items())
    # Integers are written into the text (bound arrays cost PostgreSQL clients
    # a type look-up round trip on each new connection); other values are bound.
    members = ",".join(str(int(m)) for m in member_ids)
    ranked = await connection.execute_query_dict(
        f"SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY member_id ORDER BY {order}) "
        f'AS rn FROM "{model._meta.db_table}" WHERE brand_id = {int(scope.brand_id)} '
        f"AND member_id IN ({members}){conditions}) ranked WHERE rn <= {int(size)}",
        stmt.params,
    )
    by_member: dict[int, list[M]] = defaultdict(list)
    if ranked:
        rows = (
            await scope.query(model)
            .filter(id__in=[row["id"] for row in ranked])
            .order_by(*(f"-{name}" for name in newest_first))
        )
        for row in rows:
            by_member[row.member_id].append(row)  # type: ignore[attr-defined]
    return dict(by_member)
