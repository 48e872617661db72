"""Versions of the brand's local days, for results stored once and read
while nothing they depend on changed (closed campaigns'
attribution, docs/campaign-attribution.md; closed periods' stage flows,
docs/reports.md "Stored stage flows").

``campaign_attribution_day`` holds, per local day, how often its facts
changed: :func:`note_days` bumps it with the day's dirty mark
(``tessera.reports.rollup.mark_dirty``: an order placed, changed, refunded
or moved by a merge), in the same transaction, and never resets it. A
result computed from the facts of some days stores the Σ of their versions
(its *signature*), read before its statement: it is valid while the Σ is
unchanged, and a change that commits meanwhile leaves it stale, never
wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from tessera.reports.api import scope_query
from tessera.scope import BrandScope


async def note_days(scope: BrandScope, connection: Any, days: Iterable[date]) -> None:
    """Bump the versions of ``days`` (the brand's local days), in the
    caller's transaction: their facts changed."""
    distinct = sorted(set(days))
    if not distinct:
        return
    q = scope_query(scope, connection)
    brand = q(scope.brand_id)
    await q.rows(
        "INSERT INTO campaign_attribution_day (brand_id, day, version) VALUES "
        + ", ".join(f"({brand}, {q(day)}, 1)" for day in distinct)
        + " ON CONFLICT (brand_id, day) DO UPDATE "
        "SET version = campaign_attribution_day.version + 1"
    )


async def day_versions(
    scope: BrandScope, first: date | None, last: date, connection: Any = None
) -> dict[date, int]:
    """The versions of the brand's days from ``first`` (None: the first
    ever) to ``last``; a day never changed has none (version 0)."""
    from tessera.campaigns.models import AttributionDay

    query = scope.query(AttributionDay).filter(day__lte=last)
    if connection is not None:
        query = query.using_db(connection)
    if first is not None:
        query = query.filter(day__gte=first)
    return dict(await query.values_list("day", "version"))  # type: ignore[arg-type]


def signature(versions: Mapping[date, int], first: date | None, last: date) -> int:
    """The Σ of the versions of the days ``first`` (None: since ever) to ``last``."""
    return sum(v for d, v in versions.items() if (first is None or first <= d) and d <= last)


def signature_sql(brand: str, last: str) -> str:
    """An SQL expression: the Σ of the versions of the brand's days up to
    ``last`` (a bound day), to compare with a stored signature in the
    statement that reads the stored rows."""
    return (
        "(SELECT COALESCE(SUM(v.version), 0) FROM campaign_attribution_day v "
        f"WHERE v.brand_id = {brand} AND v.day <= {last})"
    )
