"""Distinct buyers of any range of days, first purchases, gaps between
orders and monthly cohorts: from the orders, or from the daily buyer
rollups (docs/reports.md, "Daily rollups") with the dirty days read from
the orders in the same statement, so both give the same answer.

A member buys in ``[a, b]`` for the first time on the one day of it whose
previous purchase is before ``a`` (or who never bought before): counting
those member-days adds up over days, where distinct members do not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from tessera.reports.api import (
    Buyer,
    Granularity,
    Query,
    ReportParams,
    dirty_orders,
    gap_ms,
    local_midnight,
    previous_order,
)

if TYPE_CHECKING:
    from tessera.reports.api import Bucket, ReportContext


def _int(value: object) -> int:
    return int(value or 0)  # type: ignore[call-overload]


def _clean(alias: str) -> str:
    return (
        f"NOT EXISTS (SELECT 1 FROM report_dirty_day d WHERE d.brand_id = {alias}.brand_id "
        f"AND d.day = {alias}.day)"
    )


def day_bucket(q: Query, params: ReportParams, day: str) -> str:
    """An SQL expression: the index of the series bucket (``buckets``) that
    the stored local day ``day`` falls in, for days in the period; a day
    before the period gets a lower index than any in it."""
    if params.granularity is Granularity.MONTH:
        return f"({_month_of(q, day)} - {_month_number(params.start)})"
    start = q(params.start)
    if params.granularity is Granularity.DAY:
        if q.postgres:
            return f"({day} - {start})"
        return f"CAST(julianday({day}) - julianday({start}) AS INTEGER)"
    if q.postgres:
        return f"((date_trunc('week', {day})::date - date_trunc('week', {start})::date) / 7)"

    def monday(value: str) -> str:
        return f"julianday({value}, '-' || ((strftime('%w', {value}) + 6) % 7) || ' days')"

    return f"CAST((({monday(day)}) - ({monday(start)})) / 7 AS INTEGER)"


def rollup_ready(context: ReportContext, params: ReportParams) -> bool:
    """The buyer rollups answer only without filters: they count every
    buyer of every store and channel."""
    return (
        context.cube_ready(params)
        and params.store is None
        and params.channel is None
        and params.buyer is Buyer.ALL
    )


def _bucket_starts(q: Query, cut: Sequence[Bucket], start: datetime) -> str:
    """A derived table of each series bucket's index and starting instant,
    or of one bucket starting at ``start`` without a series."""
    buckets = [f"SELECT {i} AS idx, {q(b.start)} AS starts" for i, b in enumerate(cut)]
    return " UNION ALL ".join(buckets) or f"SELECT 0 AS idx, {q(start)} AS starts"


async def buyers(context: ReportContext, params: ReportParams, *, series: bool) -> list[int]:
    """The distinct buyers of the period, or of each bucket of its series,
    from the buyer rollup; only when :func:`rollup_ready`. A member-day
    counts in its bucket when the member's previous purchase is before the
    bucket: a linear pass over the rows, whatever the number of buckets."""
    q = context.query()
    brand = q(context.brand.id)
    first, last = q(params.start), q(params.end)
    cut = context.buckets(params) if series else []

    def idx(day: str) -> str:
        return day_bucket(q, params, day) if series else "0"

    starts = _bucket_starts(q, cut, context.bounds(params)[0])
    rows = await q.rows(
        "SELECT x.idx AS idx, SUM(x.n) AS n FROM ("
        f"SELECT {idx('r.day')} AS idx, r.buyers AS n FROM report_buyer_day r "
        f"WHERE r.brand_id = {brand} AND r.day >= {first} AND r.day <= {last} "
        f"AND (r.prev_day IS NULL OR r.prev_day < {first} "
        f"OR {idx('r.prev_day')} < {idx('r.day')}) AND {_clean('r')} "
        f"UNION ALL SELECT b.idx, COUNT(DISTINCT o.member_id) FROM {dirty_orders(q)} "
        f"JOIN ({starts}) b ON b.idx = {idx('d.day')} "
        f"WHERE d.brand_id = {brand} AND d.day >= {first} AND d.day <= {last} "
        f"AND NOT EXISTS (SELECT 1 FROM sales_order p WHERE p.brand_id = {brand} "
        "AND p.member_id = o.member_id AND p.occurred_at >= b.starts "
        "AND p.occurred_at < d.starts_at) GROUP BY b.idx) x GROUP BY x.idx"
    )
    found = {int(r["idx"]): _int(r["n"]) for r in rows}
    return [found.get(i, 0) for i in range(max(len(cut), 1))]


@dataclass(frozen=True)
class Repurchase:
    old: int  # members who ordered before the period
    again: int  # of them, members who ordered in it
    gaps: int  # orders in the period placed after an earlier order of the member
    gap_ms: int  # Σ milliseconds from each of those to the member's previous order


async def repurchase(context: ReportContext, params: ReportParams) -> Repurchase:
    if rollup_ready(context, params):
        return await _repurchase_rolled_up(context, params)
    return await _repurchase_of_orders(context, params)


async def _repurchase_of_orders(context: ReportContext, params: ReportParams) -> Repurchase:
    start, end = context.bounds(params)
    q = context.query()
    brand = q(context.brand.id)
    mf = context.member_filter(q, params, "o.member_id")
    # One pass over the orders before the period's end, grouped by member:
    # not a probe per old member for an order in the period, which on
    # tables just filled (no statistics) PostgreSQL ran on the brand's time
    # index, filtering the member (7 minutes for CDNOW's 23,570 members).
    since = q(start)
    rep = (
        await q.rows(
            "SELECT COUNT(*) AS old, SUM(f.again) AS again FROM (SELECT o.member_id, "
            f"MAX(CASE WHEN o.occurred_at >= {since} THEN 1 ELSE 0 END) AS again "
            f"FROM sales_order o WHERE o.brand_id = {brand} AND o.occurred_at < {q(end)}{mf} "
            f"GROUP BY o.member_id HAVING MIN(o.occurred_at) < {since}) f"
        )
    )[0]
    q2 = context.query()
    gaps = (
        await q2.rows(
            f"SELECT COUNT(*) AS n, SUM({gap_ms(q2, 'g.at', 'g.prev')}) AS ms "
            "FROM (SELECT o.occurred_at AS at, LAG(o.occurred_at) OVER "
            "(PARTITION BY o.member_id ORDER BY o.occurred_at, o.id) AS prev "
            f"FROM sales_order o WHERE o.brand_id = {q2(context.brand.id)} "
            f"AND o.occurred_at < {q2(end)}{context.member_filter(q2, params, 'o.member_id')}) g "
            f"WHERE g.prev IS NOT NULL AND g.at >= {q2(start)}"
        )
    )[0]
    return Repurchase(_int(rep["old"]), _int(rep["again"]), _int(gaps["n"]), _int(gaps["ms"]))


async def _repurchase_rolled_up(context: ReportContext, params: ReportParams) -> Repurchase:
    """Old customers are the first purchases before the period; those who
    came back are the period's buyers less its first purchases."""
    [in_period] = await buyers(context, params, series=False)
    q = context.query()
    brand = q(context.brand.id)
    start_day, last_day = q(params.start), q(params.end)
    firsts = (
        await q.rows(
            f"SELECT SUM(CASE WHEN x.day < {start_day} THEN x.n ELSE 0 END) AS before, "
            f"SUM(CASE WHEN x.day >= {start_day} THEN x.n ELSE 0 END) AS within FROM ("
            "SELECT r.day AS day, r.buyers AS n FROM report_buyer_day r "
            f"WHERE r.brand_id = {brand} AND r.day <= {last_day} AND r.prev_day IS NULL "
            f"AND {_clean('r')} "
            f"UNION ALL SELECT d.day, COUNT(DISTINCT o.member_id) FROM {dirty_orders(q)} "
            f"WHERE d.brand_id = {brand} AND d.day <= {last_day} AND NOT EXISTS (SELECT 1 "
            f"FROM sales_order p WHERE p.brand_id = {brand} AND p.member_id = o.member_id "
            "AND p.occurred_at < d.starts_at) GROUP BY d.day) x"
        )
    )[0]
    q2 = context.query()
    brand2 = q2(context.brand.id)
    first2, last2 = q2(params.start), q2(params.end)
    gaps = (
        await q2.rows(
            "SELECT SUM(x.n) AS n, SUM(x.ms) AS ms FROM ("
            "SELECT c.repeat_orders AS n, c.gap_ms AS ms FROM report_sales_cube c "
            f"WHERE c.brand_id = {brand2} AND c.day >= {first2} AND c.day <= {last2} "
            f"AND {_clean('c')} "
            f"UNION ALL SELECT COUNT(g.prev), SUM({gap_ms(q2, 'g.at', 'g.prev')}) FROM "
            f"(SELECT o.occurred_at AS at, {previous_order()} AS prev FROM {dirty_orders(q2)} "
            f"WHERE d.brand_id = {brand2} AND d.day >= {first2} AND d.day <= {last2}) g) x"
        )
    )[0]
    within = _int(firsts["within"])
    return Repurchase(_int(firsts["before"]), in_period - within, _int(gaps["n"]), _int(gaps["ms"]))


def _month_number(day: date) -> int:
    return day.year * 12 + day.month - 1


def _months(params: ReportParams) -> list[tuple[date, date]]:
    """The calendar months the period touches, cut to it."""
    out = []
    first = params.start
    while first <= params.end:
        after = (first.replace(day=1) + timedelta(days=32)).replace(day=1)
        out.append((first, min(after - timedelta(days=1), params.end)))
        first = after
    return out


async def cohorts(context: ReportContext, params: ReportParams) -> dict[int, dict[int, int]]:
    """Members by the month of their first purchase (within the period)
    and by months since it: ``{cohort month number: {since: buyers}}``,
    months on the brand's calendar (month number = year × 12 + month − 1)."""
    if rollup_ready(context, params):
        rows = await _cohorts_rolled_up(context, params)
    else:
        rows = await _cohorts_of_orders(context, params)
    out: dict[int, dict[int, int]] = {}
    for cohort, month, buyers in rows:
        if buyers:
            out.setdefault(cohort, {})[month - cohort] = buyers
    return out


async def _cohorts_of_orders(
    context: ReportContext, params: ReportParams
) -> list[tuple[int, int, int]]:
    start, end = context.bounds(params)
    monthly = params.model_copy(update={"granularity": Granularity.MONTH})
    q = context.query()
    brand = q(context.brand.id)
    first_month = context.bucket_index(q, monthly, "x.first_at")
    order_month = context.bucket_index(q, monthly, "x.occurred_at")
    # Each order beside its member's first, in one pass over the brand's
    # orders: joining the members' firsts back to their orders was planned,
    # on tables just filled (no statistics), as a probe of the brand's time
    # index per member (minutes for CDNOW's 23,570 members).
    rows = await q.rows(
        f"SELECT {first_month} AS cohort, {order_month} AS month, "
        "COUNT(DISTINCT x.member_id) AS buyers FROM (SELECT o.member_id, o.occurred_at, "
        "MIN(o.occurred_at) OVER (PARTITION BY o.member_id) AS first_at "
        f"FROM sales_order o WHERE o.brand_id = {brand}"
        f"{context.member_filter(q, params, 'o.member_id')}) x "
        f"WHERE x.first_at >= {q(start)} AND x.first_at < {q(end)} "
        f"AND x.occurred_at < {q(end)} GROUP BY 1, 2"
    )
    base = _month_number(params.start)
    return [(base + int(r["cohort"]), base + int(r["month"]), _int(r["buyers"])) for r in rows]


def _month_of(q: Query, day: str) -> str:
    """The month number of a stored local day."""
    if q.postgres:
        return f"(EXTRACT(YEAR FROM {day})::int * 12 + EXTRACT(MONTH FROM {day})::int - 1)"
    return (
        f"(CAST(strftime('%Y', {day}) AS INTEGER) * 12 "
        f"+ CAST(strftime('%m', {day}) AS INTEGER) - 1)"
    )


async def _cohorts_rolled_up(
    context: ReportContext, params: ReportParams
) -> list[tuple[int, int, int]]:
    """From the cohort rollup: the members whose first purchase day is in
    the period, by its month; a dirty day's members count on their first
    day of its month, in the month of their first order if that falls in
    the period."""
    q = context.query()
    brand = q(context.brand.id)
    tz = context.brand.timezone
    first, last = q(params.start), q(params.end)
    months = _months(params)
    month_table = (
        "("
        + " UNION ALL ".join(
            f"SELECT {_month_number(a)} AS m, {q(a)} AS first_day, {q(b)} AS last_day, "
            f"{q(local_midnight(a, tz))} AS starts, "
            f"{q(local_midnight(b + timedelta(days=1), tz))} AS ends"
            for a, b in months
        )
        + ")"
    )
    month_table2 = (
        "("
        + " UNION ALL ".join(
            f"SELECT {_month_number(a)} AS m, {q(local_midnight(a, tz))} AS starts, "
            f"{q(local_midnight(b + timedelta(days=1), tz))} AS ends"
            for a, b in months
        )
        + ")"
    )
    rows = await q.rows(
        "SELECT x.cohort AS cohort, x.month AS month, SUM(x.n) AS buyers FROM ("
        f"SELECT {_month_of(q, 'c.first_day')} AS cohort, {_month_of(q, 'c.day')} AS month, "
        f"c.buyers AS n FROM report_cohort_day c WHERE c.brand_id = {brand} "
        f"AND c.day >= {first} AND c.day <= {last} AND c.first_day >= {first} "
        f"AND {_clean('c')} "
        "UNION ALL SELECT (SELECT mo2.m FROM "
        f"{month_table2} mo2 WHERE mo2.starts <= y.first_at AND y.first_at < mo2.ends), "
        "y.month, COUNT(DISTINCT y.member_id) FROM (SELECT o.member_id AS member_id, "
        "mo.m AS month, (SELECT MIN(p.occurred_at) FROM sales_order p "
        f"WHERE p.brand_id = {brand} AND p.member_id = o.member_id) AS first_at "
        f"FROM {dirty_orders(q)} JOIN {month_table} mo ON d.day >= mo.first_day "
        f"AND d.day <= mo.last_day WHERE d.brand_id = {brand} AND d.day >= {first} "
        f"AND d.day <= {last} AND NOT EXISTS (SELECT 1 FROM sales_order p "
        f"WHERE p.brand_id = {brand} AND p.member_id = o.member_id "
        "AND p.occurred_at >= mo.starts AND p.occurred_at < d.starts_at)) y "
        "GROUP BY 1, 2) x WHERE x.cohort IS NOT NULL GROUP BY x.cohort, x.month"
    )
    return [(int(r["cohort"]), int(r["month"]), _int(r["buyers"])) for r in rows]


# Store and channel buyers (report_buyer_dim_day): a member buys at a store
# in [m, b], m a month's first day, for the first time on the one day of it
# whose previous purchase at that store is before m, that is, in an earlier
# month. A range starting after a month's first day adds the members of its
# first days up to the next month, m, who did not buy there in [m, b].

CLIP_MONTHS = 25


def clip_month(day: date) -> date:
    """The earliest previous-purchase month a ``report_buyer_dim_day`` row
    of ``day`` tells apart (older ones are stored as it): 25 months before
    the day's month, before the start of any range of at most 731 days (the
    sales overview's longest) that holds the day."""
    months = day.year * 12 + day.month - 1 - CLIP_MONTHS
    return date(months // 12, months % 12 + 1, 1)


def _whole_months_from(day: date) -> date:
    """The first month's first day on or after ``day``."""
    return day if day.day == 1 else (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def dims_ready(
    context: ReportContext, params: ReportParams, by: str, *, series: bool = False
) -> bool:
    """Whether ``report_buyer_dim_day`` answers the buyers of ``params`` by
    ``by`` (``store_code`` or ``channel``): the period's whole months start
    after the clip month of its end (so of every day in it) and not after
    its end (a range inside one month is no more than its member rows),
    and the only filter, if any, is on ``by`` itself. A series needs a period starting
    on a month's first day and buckets that do too or are single days."""
    other = params.channel if by == "store_code" else params.store
    return (
        context.cube_ready(params)
        and params.buyer is Buyer.ALL
        and other is None
        and clip_month(params.end) < _whole_months_from(params.start) <= params.end
        and (
            not series
            or (
                params.start.day == 1 and params.granularity in (Granularity.MONTH, Granularity.DAY)
            )
        )
    )


async def dim_buyers(
    context: ReportContext, params: ReportParams, by: str, *, series: bool = False
) -> list[dict[str, int]]:
    """Distinct buyers of the period (one dict) or of each bucket of its
    series at each store (``by`` ``store_code``) or in each channel, '' for
    none, under that filter if set; only when :func:`dims_ready`. From the
    whole months' first day ``m`` on, a member-day counts in its bucket
    when the member's previous purchase there is in an earlier month than
    the bucket's, and a dirty day's member when they bought there on no
    earlier day of the bucket; the days before ``m`` (from the member rows
    and dirty days' orders) add the members who did not buy there after."""
    dim = 1 if by == "store_code" else 2
    wanted = params.store if by == "store_code" else params.channel
    tz = context.brand.timezone
    whole = _whole_months_from(params.start)
    q = context.query()
    brand = q(context.brand.id)
    first, last = q(whole), q(params.end)
    cut = context.buckets(params) if series else []

    def idx(day: str) -> str:
        return day_bucket(q, params, day) if series else "0"

    starts = _bucket_starts(q, cut, local_midnight(whole, tz))
    column = f"COALESCE(o.{by}, '')"
    raw_key = f" AND {column} = {q(wanted)}" if wanted is not None else ""
    key = f" AND r.dim_key = {q(wanted)}" if wanted is not None else ""
    head = ""
    if whole > params.start:
        days_before = params.model_copy(update={"end": min(whole - timedelta(days=1), params.end)})
        head = (
            f"SELECT 0 AS idx, f.{by} AS k, COUNT(DISTINCT CASE WHEN NOT EXISTS (SELECT 1 "
            f"FROM sales_order p WHERE p.brand_id = {brand} AND p.member_id = f.member_id "
            f"AND COALESCE(p.{by}, '') = f.{by} AND p.occurred_at >= "
            f"{q(local_midnight(whole, tz))} AND p.occurred_at < "
            f"{q(local_midnight(params.end + timedelta(days=1), tz))}) THEN f.member_id END) "
            f"AS n FROM {context.order_facts(q, days_before)} f WHERE 1 = 1"
            + (f" AND f.{by} = {q(wanted)}" if wanted is not None else "")
            + f" GROUP BY f.{by} UNION ALL "
        )
    rows = await q.rows(
        f"SELECT x.idx AS idx, x.k AS k, SUM(x.n) AS n FROM ({head}"
        f"SELECT {idx('r.day')} AS idx, r.dim_key AS k, r.buyers AS n "
        f"FROM report_buyer_dim_day r WHERE r.brand_id = {brand} AND r.dim = {dim} "
        f"AND r.day >= {first} AND r.day <= {last}{key} AND (r.prev_month IS NULL "
        f"OR r.prev_month < {first} OR {idx('r.prev_month')} < {idx('r.day')}) "
        f"AND {_clean('r')} "
        f"UNION ALL SELECT b.idx, {column}, COUNT(DISTINCT o.member_id) FROM {dirty_orders(q)} "
        f"JOIN ({starts}) b ON b.idx = {idx('d.day')} "
        f"WHERE d.brand_id = {brand} AND d.day >= {first} AND d.day <= {last}{raw_key} "
        f"AND NOT EXISTS (SELECT 1 FROM sales_order p WHERE p.brand_id = {brand} "
        f"AND p.member_id = o.member_id AND COALESCE(p.{by}, '') = {column} "
        "AND p.occurred_at >= b.starts AND p.occurred_at < d.starts_at) "
        f"GROUP BY b.idx, d.day, {column}) x GROUP BY x.idx, x.k"
    )
    found: list[dict[str, int]] = [{} for _ in range(max(len(cut), 1))]
    for r in rows:
        if _int(r["n"]):
            found[int(r["idx"])][str(r["k"])] = _int(r["n"])
    return found
