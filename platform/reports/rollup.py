"""Daily rollups of the sales report (docs/reports.md, "Daily rollups").

``report_sales_day`` holds each local day's orders summed per (member,
store, channel): one row per member who bought that day where the orders
table has one per order, and a dozen narrow integer columns instead of the
order's wide row. Sums add up from it over any period; distinct buyers are
still distinct members, counted over these rows.

The order write path only marks the day dirty (one upsert in the order's
transaction); :func:`rebuild_dirty` (the ``rollup_tick`` job, every ten
minutes) rebuilds dirty days set-based, one statement per day. A report
reads the rollup rows of clean days and the orders of dirty days in one
statement, so its answer is always the one the orders give.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tessera.plugin_host.context import BrandInfo
from tessera.reports.api import Query, ReportContext, local_midnight
from tessera.reports.models import DirtyDay, RollupState, SalesDay
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand
from tessera.uow import unit_of_work


def _query(scope: BrandScope, connection: Any) -> Query:
    brand = scope.brand
    context = ReportContext(
        brand=BrandInfo(brand.id, brand.code, brand.name, brand.currency, brand.timezone),
        connection=connection,
        money_exponent=0,
        now=datetime.now(UTC),
    )
    return context.query()


def local_day(at: datetime, timezone: str) -> date:
    return at.astimezone(ZoneInfo(timezone)).date()


async def mark_dirty(scope: BrandScope, connection: Any, instants: Iterable[datetime]) -> None:
    """Mark the local days of ``instants`` (orders' times) dirty, in the
    caller's transaction: one small upsert per distinct day."""
    tz = scope.brand.timezone
    for day in sorted({local_day(at, tz) for at in instants}):
        q = _query(scope, connection)
        await q.rows(
            "INSERT INTO report_dirty_day (brand_id, day, starts_at, ends_at, version) "
            f"VALUES ({q(scope.brand_id)}, {q(day)}, {q(local_midnight(day, tz))}, "
            f"{q(local_midnight(day + timedelta(days=1), tz))}, 0) "
            "ON CONFLICT (brand_id, day) DO UPDATE SET version = report_dirty_day.version + 1"
        )


async def rebuild_day(scope: BrandScope, day: date) -> None:
    """Replace the day's rollup rows with the sums of its orders; the dirty
    mark goes only if no order touched the day meanwhile (its version
    unchanged), so a racing order leaves the day dirty."""
    tz = scope.brand.timezone
    starts, ends = local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)
    async with unit_of_work(scope) as uow:
        conn = uow.connection
        mark = await scope.query(DirtyDay).using_db(conn).get_or_none(day=day)
        await scope.query(SalesDay).using_db(conn).filter(day=day).delete()
        q = _query(scope, conn)
        brand = q(scope.brand_id)
        await q.rows(
            "INSERT INTO report_sales_day (brand_id, day, starts_at, member_id, store_code, "
            "channel, orders, sales, units, paid, retail) "
            f"SELECT {brand}, {q(day)}, {q(starts)}, o.member_id, COALESCE(o.store_code, ''), "
            "COALESCE(o.channel, ''), COUNT(*), SUM(o.amount_paid - o.refunded_amount), "
            "SUM(o.units - o.refunded_units), SUM(o.amount_paid), SUM(o.retail_amount) "
            f"FROM sales_order o WHERE o.brand_id = {brand} AND o.occurred_at >= {q(starts)} "
            f"AND o.occurred_at < {q(ends)} "
            "GROUP BY o.member_id, COALESCE(o.store_code, ''), COALESCE(o.channel, '')"
        )
        if mark is not None:
            await (
                scope.query(DirtyDay)
                .using_db(conn)
                .filter(id=mark.id, version=mark.version)
                .delete()
            )


async def rebuild_dirty(scope: BrandScope) -> int:
    """Rebuild every dirty day of the brand; returns how many."""
    days = await scope.query(DirtyDay).order_by("day").values_list("day", flat=True)
    for day in days:
        await rebuild_day(scope, day)  # type: ignore[arg-type]
    return len(days)


async def build(scope: BrandScope, since: date | None = None) -> int:
    """(Re)build the brand's rollup from its orders, from ``since`` (local
    day) or in full; returns the days built. Reports read the orders until
    a full build has finished (and again after the brand's timezone changes)."""
    from tessera.orders.models import Order

    if since is None:
        await scope.query(RollupState).delete()
        await scope.query(SalesDay).delete()
    orders = scope.query(Order)
    if since is not None:
        orders = orders.filter(occurred_at__gte=local_midnight(since, scope.brand.timezone))
    first = await orders.order_by("occurred_at").first().values_list("occurred_at", flat=True)
    last = await orders.order_by("-occurred_at").first().values_list("occurred_at", flat=True)
    built = 0
    if first is not None and last is not None:
        day = local_day(first, scope.brand.timezone)  # type: ignore[arg-type]
        end = local_day(last, scope.brand.timezone)  # type: ignore[arg-type]
        while day <= end:
            await rebuild_day(scope, day)
            day += timedelta(days=1)
            built += 1
    built += await rebuild_dirty(scope)
    if since is None:
        await scope.create(RollupState, timezone=scope.brand.timezone, built_at=datetime.now(UTC))
    return built


async def rollups_ready(scope: BrandScope) -> bool:
    state = await scope.query(RollupState).first()
    return state is not None and state.timezone == scope.brand.timezone


async def rollup_tick(ctx: dict[str, Any], brand_id: int | None = None) -> int:
    """Rebuild the dirty days of one brand, or of every brand."""
    del ctx
    query = Brand.filter(id=brand_id) if brand_id is not None else Brand.all()
    done = 0
    for brand in await query.order_by("id"):
        scope = BrandScope(brand)
        if await scope.query(DirtyDay).exists():
            done += await rebuild_dirty(scope)
    return done
