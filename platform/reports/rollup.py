"""Daily rollups of the sales report (docs/reports.md, "Daily rollups").

``report_sales_day`` holds each local day's orders summed per (member,
store, channel): one row per member who bought that day where the orders
table has one per order, and a dozen narrow integer columns instead of the
order's wide row. Sums add up from it over any period; distinct buyers are
still distinct members, counted over these rows — or summed from
``report_buyer_day``, which counts each day's buyers by their previous
purchase day (``tessera.reports.retention`` says why that adds up), with
``report_cohort_day`` for the retention cohorts. ``report_join_day``
counts the members of each local join day by join channel, source and the
day of their first order, for member growth (``tessera.reports.growth``).

The order write path only marks the day dirty (one upsert in the order's
transaction); :func:`rebuild_dirty` (the ``rollup_tick`` job, every ten
minutes) rebuilds dirty days set-based, one statement per day. A report
reads the rollup rows of clean days and the orders of dirty days in one
statement, so its answer is always the one the orders give.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tessera.db import analyze, stored_time
from tessera.reports.api import (
    Query,
    gap_ms,
    local_day,
    local_day_sql,
    local_midnight,
    previous_order,
    scope_query,
)
from tessera.reports.models import (
    BuyerCount,
    BuyerDay,
    BuyerDimDay,
    CohortDay,
    DirtyDay,
    JoinDay,
    RollupState,
    SalesCube,
    SalesDay,
)
from tessera.reports.retention import clip_month
from tessera.reports.versions import note_days
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand
from tessera.uow import unit_of_work


async def mark_dirty(scope: BrandScope, connection: Any, instants: Iterable[datetime]) -> None:
    """Mark the local days of ``instants`` (orders' times) dirty, in the
    caller's transaction: one upsert of the distinct days."""
    tz = scope.brand.timezone
    await _mark_days(scope, connection, {local_day(at, tz) for at in instants})


async def _mark_days(scope: BrandScope, connection: Any, local_days: Iterable[date]) -> None:
    tz = scope.brand.timezone
    days = sorted(set(local_days))
    if not days:
        return
    q = scope_query(scope, connection)
    brand = q(scope.brand_id)
    values = ", ".join(
        f"({brand}, {q(day)}, {q(local_midnight(day, tz))}, "
        f"{q(local_midnight(day + timedelta(days=1), tz))}, 0)"
        for day in days
    )
    await q.rows(
        "INSERT INTO report_dirty_day (brand_id, day, starts_at, ends_at, version) "
        f"VALUES {values} "
        "ON CONFLICT (brand_id, day) DO UPDATE SET version = report_dirty_day.version + 1"
    )
    # Stored results (closed campaigns, closed periods' stage flows) are
    # checked against these days' versions.
    await note_days(scope, connection, days)


async def mark_orders_dirty(
    scope: BrandScope, connection: Any, orders: Sequence[tuple[int, datetime]]
) -> None:
    """Mark the days of new orders ``(member_id, occurred_at)`` dirty, and
    the days of the same members' later orders: a new order is their
    previous purchase (the gaps, returning buyers) and, placed before the
    member's first, moves them to another cohort; and the join day of a
    member whose first order ever it is (the growth report's conversions).
    One statement per batch reads what that needs (the members' order days
    since the batch's earliest order, each member's join day and first
    order); the comparisons with each member's earliest new order are made
    here, in Python."""
    earliest: dict[int, datetime] = {}
    for member_id, at in orders:
        earliest[member_id] = min(at, earliest.get(member_id, at))
    tz = scope.brand.timezone
    days = {local_day(at, tz) for _, at in orders}
    if earliest:
        q = scope_query(scope, connection)
        members = sorted(earliest)
        among = (
            f"= ANY({q(members)}::bigint[])"
            if q.postgres
            else f"IN (SELECT value FROM json_each({q(json.dumps(members))}))"
        )
        brand, since = q(scope.brand_id), q(min(earliest.values()))
        # The batch's members' distinct order days since the batch's
        # earliest order, and each member's join day with their first order:
        # each held against the member's own earliest new order here. Not
        # joined to those (member, earliest) pairs in the statement: on
        # tables an import just filled (no statistics) PostgreSQL planned
        # that join as a nested loop comparing every order with every pair
        # (999,000 comparisons, 330-600 ms a batch of 1,000 orders).
        rows = await q.rows(
            f"SELECT DISTINCT 0 AS part, o.member_id AS member_id, "
            f"{local_day_sql(q, 'o.occurred_at', tz)} AS day, "
            "CAST(NULL AS timestamptz) AS first_at "
            f"FROM sales_order o WHERE o.brand_id = {brand} AND o.member_id {among} "
            f"AND o.occurred_at > {since} UNION ALL "
            f"SELECT 1, m.id, {local_day_sql(q, 'm.joined_at', tz)}, (SELECT MIN(f.occurred_at) "
            "FROM sales_order f WHERE f.brand_id = m.brand_id AND f.member_id = m.id) "
            f"FROM member m WHERE m.brand_id = {brand} AND m.id {among}"
        )
        first_days = {member: local_day(at, tz) for member, at in earliest.items()}
        for r in rows:
            member = int(r["member_id"])
            day = r["day"] if isinstance(r["day"], date) else date.fromisoformat(r["day"])
            if r["part"] == 0:
                # Local days follow time: a later day is a later order's (and
                # the earliest new order's own day is marked already).
                if day > first_days[member]:
                    days.add(day)
            elif r["first_at"] is None or stored_time(r["first_at"]) >= earliest[member]:
                # No order before the batch's earliest: it is their first.
                days.add(day)
    await _mark_days(scope, connection, days)


async def mark_member_dirty(scope: BrandScope, connection: Any, member_id: int) -> None:
    """Mark the days of the member's orders dirty: their card changed
    (joined, erased, merged), which moves their sales between the member
    and non-member rows of the sales cube and the buyer counts."""
    from tessera.orders.models import Order

    times = (
        await scope.query(Order)
        .using_db(connection)
        .filter(member_id=member_id)
        .values_list("occurred_at", flat=True)
    )
    await mark_dirty(scope, connection, times)  # type: ignore[arg-type]


# Buyer-count periods: a local day, a Monday-to-Sunday week, a calendar
# month, a calendar year (docs/reports.md, "Daily rollups").
STORE, CHANNEL, CARD = 1, 2, 4


def _month_end(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def periods_of(day: date) -> list[tuple[str, date, date]]:
    """The buyer-count periods that contain ``day``."""
    monday = day - timedelta(days=day.weekday())
    return [
        ("day", day, day),
        ("week", monday, monday + timedelta(days=6)),
        ("month", day.replace(day=1), _month_end(day)),
        ("year", date(day.year, 1, 1), date(day.year, 12, 31)),
    ]


def period_kind(first: date, last: date) -> str | None:
    """The kind of buyer-count period ``[first, last]`` is exactly, if any."""
    for kind, a, b in periods_of(first):
        if (a, b) == (first, last):
            return kind
    return None


async def rebuild_day(scope: BrandScope, day: date) -> None:
    """Replace the day's rollup rows with the sums of its orders; the dirty
    mark goes only if no order touched the day meanwhile (its version
    unchanged), so a racing order leaves the day dirty, and no earlier day
    is dirty."""
    tz = scope.brand.timezone
    starts, ends = local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)
    async with unit_of_work(scope) as uow:
        conn = uow.connection
        mark = await scope.query(DirtyDay).using_db(conn).get_or_none(day=day)
        await scope.query(SalesDay).using_db(conn).filter(day=day).delete()
        q = scope_query(scope, conn)
        brand = q(scope.brand_id)
        await q.rows(
            "INSERT INTO report_sales_day (brand_id, day, starts_at, member_id, store_code, "
            "channel, orders, sales, units, paid, retail, repeat_orders, gap_ms) "
            f"SELECT {brand}, {q(day)}, {q(starts)}, o.member_id, COALESCE(o.store_code, ''), "
            "COALESCE(o.channel, ''), COUNT(*), SUM(o.amount_paid - o.refunded_amount), "
            "SUM(o.units - o.refunded_units), SUM(o.amount_paid), SUM(o.retail_amount), "
            f"COUNT(o.prev), COALESCE(SUM({gap_ms(q, 'o.occurred_at', 'o.prev')}), 0) "
            f"FROM (SELECT o.*, {previous_order()} AS prev FROM sales_order o "
            f"WHERE o.brand_id = {brand} AND o.occurred_at >= {q(starts)} "
            f"AND o.occurred_at < {q(ends)}) o "
            "GROUP BY o.member_id, COALESCE(o.store_code, ''), COALESCE(o.channel, '')"
        )
        await scope.query(SalesCube).using_db(conn).filter(day=day).delete()
        q = scope_query(scope, conn)
        brand = q(scope.brand_id)
        carded = "CASE WHEN m.card_number IS NOT NULL THEN 1 ELSE 0 END"
        await q.rows(
            "INSERT INTO report_sales_cube (brand_id, day, starts_at, store_code, channel, "
            "carded, orders, sales, units, paid, retail, repeat_orders, gap_ms) "
            f"SELECT {brand}, {q(day)}, {q(starts)}, r.store_code, r.channel, {carded}, "
            "SUM(r.orders), SUM(r.sales), SUM(r.units), SUM(r.paid), SUM(r.retail), "
            "SUM(r.repeat_orders), SUM(r.gap_ms) "
            "FROM report_sales_day r JOIN member m ON m.id = r.member_id "
            f"WHERE r.brand_id = {brand} AND r.day = {q(day)} "
            f"GROUP BY r.store_code, r.channel, {carded}"
        )
        await _rebuild_buyer_days(scope, conn, day)
        await rebuild_join_day(scope, conn, day)
        await _rebuild_dim_days(scope, conn, day)
        # The buyer counts of the periods holding the day are stale now;
        # missing ones are read from the member rows until rebuilt.
        await (
            scope.query(BuyerCount)
            .using_db(conn)
            .filter(first_day__lte=day, last_day__gte=day)
            .delete()
        )
        # The buyer and cohort rows read the member's earlier days: built
        # while one of those is dirty, the day stays dirty (the job goes in
        # order, so the next day it rebuilds is the earlier one's turn).
        earlier_dirty = await scope.query(DirtyDay).using_db(conn).filter(day__lt=day).exists()
        if mark is not None and not earlier_dirty:
            await (
                scope.query(DirtyDay)
                .using_db(conn)
                .filter(id=mark.id, version=mark.version)
                .delete()
            )


def _buyers_of_day(q: Query, brand: str, day: date) -> str:
    """A derived table of the day's buyers with their previous and first
    purchase days: two probes of the (brand, member, day) index each."""
    return (
        "(SELECT r.member_id, (SELECT MAX(p.day) FROM report_sales_day p "
        f"WHERE p.brand_id = {brand} AND p.member_id = r.member_id AND p.day < {q(day)}) "
        "AS prev_day, (SELECT MIN(p.day) FROM report_sales_day p "
        f"WHERE p.brand_id = {brand} AND p.member_id = r.member_id) AS first_day "
        f"FROM report_sales_day r WHERE r.brand_id = {brand} AND r.day = {q(day)} "
        "GROUP BY r.member_id) x"
    )


async def _rebuild_buyer_days(scope: BrandScope, conn: Any, day: date) -> None:
    """The day's buyer and cohort rows, from its member rows and the
    member's earlier days (rebuilt before it: dirty days go in order)."""
    await scope.query(BuyerDay).using_db(conn).filter(day=day).delete()
    await scope.query(CohortDay).using_db(conn).filter(day=day).delete()
    q = scope_query(scope, conn)
    brand = q(scope.brand_id)
    await q.rows(
        "INSERT INTO report_buyer_day (brand_id, day, prev_day, buyers) "
        f"SELECT {brand}, {q(day)}, x.prev_day, COUNT(*) FROM {_buyers_of_day(q, brand, day)} "
        "GROUP BY x.prev_day"
    )
    q = scope_query(scope, conn)
    brand = q(scope.brand_id)
    # The member's first purchase in the day's month is this day when the
    # previous one is before the month.
    await q.rows(
        "INSERT INTO report_cohort_day (brand_id, day, first_day, buyers) "
        f"SELECT {brand}, {q(day)}, x.first_day, COUNT(*) FROM {_buyers_of_day(q, brand, day)} "
        f"WHERE x.prev_day IS NULL OR x.prev_day < {q(day.replace(day=1))} GROUP BY x.first_day"
    )


def _join_rows(q: Query, brand: str, timezone: str, day: date | None) -> str:
    """The join-day rows of the members who joined on ``day``, or of all
    the brand's members, with the day of their first order."""
    tz = timezone
    if day is not None:
        bounds = (
            f"AND {{m}}.joined_at >= {q(local_midnight(day, tz))} "
            f"AND {{m}}.joined_at < {q(local_midnight(day + timedelta(days=1), tz))}"
        )
        members = bounds.format(m="m")
        orders = (
            f"AND o.member_id IN (SELECT n.id FROM member n WHERE n.brand_id = {brand} "
            f"{bounds.format(m='n')})"
        )
        joined = q(day)
    else:
        members = orders = ""
        joined = local_day_sql(q, "m.joined_at", tz)
    # The first orders as a grouped table, not a subquery per member: SQLite
    # would repeat that in each branch of the local day's CASE.
    return (
        f"SELECT {brand}, y.day, y.channel, y.source, y.first_order_day, COUNT(*) FROM ("
        f"SELECT {joined} AS day, m.join_channel AS channel, m.join_source AS source, "
        f"{local_day_sql(q, 'f.first_at', tz)} AS first_order_day FROM member m "
        "LEFT JOIN (SELECT o.member_id AS member_id, MIN(o.occurred_at) AS first_at "
        f"FROM sales_order o WHERE o.brand_id = {brand} {orders} GROUP BY o.member_id) f "
        f"ON f.member_id = m.id WHERE m.brand_id = {brand} {members}) y "
        "GROUP BY y.day, y.channel, y.source, y.first_order_day"
    )


_JOIN_INSERT = (
    "INSERT INTO report_join_day (brand_id, day, channel, source, first_order_day, members) "
)


async def rebuild_join_day(scope: BrandScope, conn: Any, day: date) -> None:
    """The day's join rows, from its members and their first orders (also
    run by an erasure, so an erased join source leaves the rollup with it)."""
    await scope.query(JoinDay).using_db(conn).filter(day=day).delete()
    q = scope_query(scope, conn)
    await q.rows(_JOIN_INSERT + _join_rows(q, q(scope.brand_id), scope.brand.timezone, day))


async def build_join_days(scope: BrandScope) -> None:
    """Every join day of the brand at once (one statement); the days marked
    dirty meanwhile are read from the members until rebuilt."""
    async with unit_of_work(scope) as uow:
        await scope.query(JoinDay).using_db(uow.connection).delete()
        q = scope_query(scope, uow.connection)
        await q.rows(_JOIN_INSERT + _join_rows(q, q(scope.brand_id), scope.brand.timezone, None))


async def _rebuild_dim_days(scope: BrandScope, conn: Any, day: date) -> None:
    """The day's store and channel buyer rows: each member-store (channel)
    of the day by the month of the member's previous day there."""
    await scope.query(BuyerDimDay).using_db(conn).filter(day=day).delete()
    for dim, column in ((STORE, "store_code"), (CHANNEL, "channel")):
        q = scope_query(scope, conn)
        brand = q(scope.brand_id)
        clip = q(clip_month(day))
        month = (
            "CAST(date_trunc('month', x.prev_day) AS date)"
            if q.postgres
            else "date(x.prev_day, 'start of month')"
        )
        prev_month = (
            f"CASE WHEN x.prev_day IS NULL THEN NULL WHEN x.prev_day < {clip} THEN {clip} "
            f"ELSE {month} END"
        )
        await q.rows(
            "INSERT INTO report_buyer_dim_day (brand_id, day, dim, dim_key, prev_month, buyers) "
            f"SELECT {brand}, {q(day)}, {dim}, x.k, {prev_month}, COUNT(*) FROM "
            f"(SELECT r.member_id, r.{column} AS k, (SELECT MAX(p.day) FROM report_sales_day p "
            f"WHERE p.brand_id = {brand} AND p.member_id = r.member_id "
            f"AND p.{column} = r.{column} AND p.day < {q(day)}) AS prev_day "
            f"FROM report_sales_day r WHERE r.brand_id = {brand} AND r.day = {q(day)} "
            f"GROUP BY r.member_id, r.{column}) x GROUP BY x.k, {prev_month}"
        )


async def rebuild_dirty(scope: BrandScope) -> int:
    """Rebuild every dirty day of the brand, then the buyer counts they
    dropped; returns how many days."""
    days = await scope.query(DirtyDay).order_by("day").values_list("day", flat=True)
    for day in days:
        await rebuild_day(scope, day)  # type: ignore[arg-type]
    await rebuild_periods(scope)
    return len(days)


async def count_period(scope: BrandScope, kind: str, first: date, last: date) -> None:
    """Count the distinct buyers of one period, for every combination of
    the store, channel and card filters, from the member rows (one
    statement: ``GROUP BY CUBE`` on PostgreSQL, eight ``UNION ALL`` on SQLite)."""
    async with unit_of_work(scope) as uow:
        conn = uow.connection
        await scope.query(BuyerCount).using_db(conn).filter(kind=kind, first_day=first).delete()
        carded = "CASE WHEN m.card_number IS NOT NULL THEN 1 ELSE 0 END"
        columns = ((STORE, "r.store_code", "''"), (CHANNEL, "r.channel", "''"), (CARD, carded, "0"))
        head = (
            "INSERT INTO report_buyer_count (brand_id, kind, first_day, last_day, dims, "
            "store_code, channel, carded, buyers) "
        )
        q = scope_query(scope, conn)
        brand = q(scope.brand_id)
        where = (
            "FROM report_sales_day r JOIN member m ON m.id = r.member_id "
            f"WHERE r.brand_id = {brand} AND r.day >= {q(first)} AND r.day <= {q(last)}"
        )
        if q.postgres:
            dims = f"7 - GROUPING({carded}, r.channel, r.store_code)"
            await q.rows(
                f"{head}SELECT {brand}, {q(kind)}, {q(first)}, {q(last)}, {dims}, "
                f"COALESCE(r.store_code, ''), COALESCE(r.channel, ''), COALESCE({carded}, 0), "
                f"COUNT(DISTINCT r.member_id) {where} "
                f"GROUP BY CUBE (r.store_code, r.channel, {carded})"
            )
            return
        selects = []
        for mask in range(8):
            picked = [(expr if bit & mask else empty) for bit, expr, empty in columns]
            grouped = [expr for bit, expr, _ in columns if bit & mask]
            group = f" GROUP BY {', '.join(grouped)}" if grouped else ""
            selects.append(
                f"SELECT {brand}, {q(kind)}, {q(first)}, {q(last)}, {mask}, "
                f"{', '.join(picked)}, COUNT(DISTINCT r.member_id) {where}{group}"
            )
        await q.rows(head + " UNION ALL ".join(selects))


async def rebuild_periods(scope: BrandScope) -> int:
    """Count the buyers of every period that has ended (before the brand's
    today), holds a day with sales and no dirty day, and has no counts yet;
    returns how many. Periods still running are not counted:
    every new order would drop them again."""
    if not await rollups_ready(scope):
        return 0
    # Only periods with sales: one without reads its (no) orders as fast.
    days = await scope.query(SalesCube).distinct().values_list("day", flat=True)
    today = local_day(datetime.now(UTC), scope.brand.timezone)
    dirty: set[date] = set(await scope.query(DirtyDay).values_list("day", flat=True))  # type: ignore[arg-type]
    have = set(await scope.query(BuyerCount).filter(dims=0).values_list("kind", "first_day"))
    wanted: set[tuple[str, date, date]] = {
        p
        for day in days
        for p in periods_of(day)  # type: ignore[arg-type]
        if p[2] < today
    }
    done = 0
    for kind, a, b in sorted(wanted, key=lambda p: (p[1], p[2])):
        if (kind, a) in have or any(a <= d <= b for d in dirty):
            continue
        await count_period(scope, kind, a, b)
        done += 1
    return done


# A full build grows the rollup from nothing: PostgreSQL would plan a day's
# look-ups into the member's earlier days with the statistics of an empty
# table (a scan per member instead of an index probe) until autovacuum
# caught up, so the build refreshes them as the tables grow.
_ANALYZE_AFTER = frozenset({4, 16, 64, 256})


async def build(
    scope: BrandScope,
    since: date | None = None,
    on_day: Callable[[int, int], None] | None = None,
) -> int:
    """(Re)build the brand's rollup from its orders, from ``since`` (local
    day) or in full; returns the days built. Reports read the orders until
    a full build has finished (and again after the brand's timezone changes).
    ``on_day(done, total)`` follows the days (minutes at millions of orders)."""
    from tessera.orders.models import Order

    if since is None:
        await scope.query(RollupState).delete()
        await scope.query(SalesDay).delete()
        await scope.query(SalesCube).delete()
        await scope.query(BuyerCount).delete()
        await scope.query(BuyerDay).delete()
        await scope.query(CohortDay).delete()
        await scope.query(BuyerDimDay).delete()
        # Members join on days without orders too: all their days at once.
        await build_join_days(scope)
    orders = scope.query(Order)
    if since is not None:
        orders = orders.filter(occurred_at__gte=local_midnight(since, scope.brand.timezone))
    first = await orders.order_by("occurred_at").first().values_list("occurred_at", flat=True)
    last = await orders.order_by("-occurred_at").first().values_list("occurred_at", flat=True)
    built = 0
    if first is not None and last is not None:
        day = first_day = local_day(first, scope.brand.timezone)  # type: ignore[arg-type]
        end = local_day(last, scope.brand.timezone)  # type: ignore[arg-type]
        while day <= end:
            await rebuild_day(scope, day)
            day += timedelta(days=1)
            built += 1
            if on_day is not None:
                on_day(built, (end - first_day).days + 1)
            if built in _ANALYZE_AFTER:
                await analyze("report_sales_day", "report_buyer_day", "report_cohort_day")
    built += await rebuild_dirty(scope)
    if since is None:
        await scope.create(RollupState, timezone=scope.brand.timezone, built_at=datetime.now(UTC))
    await rebuild_periods(scope)
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
        else:
            # A new day ended: its periods (and a week, month or year that
            # ended with it) get their buyer counts.
            await rebuild_periods(scope)
    return done
