"""Reports on PostgreSQL: the sales overview over one year of a brand with
``BENCH_REPORT_MEMBERS`` members and ``BENCH_REPORT_ORDERS`` orders over two
years (defaults 20,000 and 200,000; the issue's large run is 1,000,000 and
10,000,000), beside hand-written SQL over the raw orders computing the same
figures, measured in the same run:

- the sales overview's figures, monthly series and by-store / by-channel
  tables (``run_report``, cache off) over the raw orders, against one
  hand-written aggregate, one grouped by month (``date_trunc`` in the
  brand's timezone) and two grouped by store and channel; with YoY (both
  years, eight hand queries); and over 15 February-14 November, a range that
  is no whole period;
- the same through the rollups (``report_sales_cube`` and the buyer counts,
  built by ``tessera.reports.rollup.build`` as ``tessera reports rollup``
  does, timed), then with one dirty day read from the orders; one day's
  rebuild and the recount of the periods it dropped are timed too;
- the same answered from the result cache (no new facts since);
- the retention report (repurchase rate of old customers, days between
  orders, monthly cohorts) against three hand-written queries, and member
  growth against three.

The data is generated with set-based SQL (``generate_series`` and seeded
hashes, so every run has the same history). A second brand has orders in the
same days, so brand scoping is real. The figures of the report and of the
hand query are compared; a difference is printed loudly (a bug).

Run by ``make bench``; prints, asserts nothing. ``BENCH_REPORT_REPEAT``
timed repetitions (default 5). Figures go to ``var/bench/reports.json``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tortoise import connections

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Figure, Report, bench_database, bench_runtime, median_seconds

from tessera.features.service import set_feature
from tessera.reports.rollup import build, mark_dirty, rebuild_day, rebuild_periods
from tessera.reports.service import clear_cache, run_report
from tessera.scope import BrandScope
from tessera.tenancy.service import create_brand, create_tenant
from tessera.uow import unit_of_work

MEMBERS = int(os.environ.get("BENCH_REPORT_MEMBERS", "20000"))
ORDERS = int(os.environ.get("BENCH_REPORT_ORDERS", "200000"))
REPEAT = int(os.environ.get("BENCH_REPORT_REPEAT", "5"))
TIMEZONE = "Asia/Shanghai"
YEAR = {"start": "2025-01-01", "end": "2025-12-31", "granularity": "month"}

H = "abs(hashint8extended(g.i, {}))"

MEMBERS_SQL = f"""
INSERT INTO member (brand_id, external_id, card_number, status, name, gender, phone_sealed, email_sealed,
    province, city, education, occupation, income_range, interests, join_channel, join_source,
    attributes, joined_at, created_at, updated_at)
SELECT $1::int, 'm' || g.i, CASE WHEN {H.format(1)} % 10 = 0 THEN NULL ELSE 'C' || $1::int || '-' || g.i END,
    'active', '', 'unknown', NULL, NULL, '', '', '', '', '', '[]'::jsonb,
    (ARRAY['store', 'wechat', 'app'])[1 + {H.format(2)} % 3], '', '{{}}'::jsonb,
    timestamptz '2023-06-01' + make_interval(days => ({H.format(3)} % 900)::int), now(), now()
FROM generate_series(1, $2::bigint) AS g(i)
"""

ORDERS_SQL = f"""
INSERT INTO sales_order (brand_id, member_id, external_id, store_code, channel, occurred_at,
    amount_paid, retail_amount, discount, coupon_codes, units, refunded_amount, refunded_units,
    fingerprint, created_at)
SELECT $1::int, m.first_id + ({H.format(4)} % $3::bigint), 'o' || g.i,
    'S' || ({H.format(5)} % 20), (ARRAY['pos', 'app', 'mini'])[1 + {H.format(6)} % 3],
    timestamptz '2024-01-01 00:00+08' + make_interval(secs => ({H.format(7)} % (731 * 86400))::int),
    p.paid, p.paid + ({H.format(8)} % 3) * p.paid / 10, ({H.format(8)} % 3) * p.paid / 10, '[]'::jsonb,
    1 + ({H.format(9)} % 4), CASE WHEN {H.format(10)} % 50 = 0 THEN p.paid / 2 ELSE 0 END, 0,
    'bench', now()
FROM generate_series(1, $2::bigint) AS g(i)
CROSS JOIN (SELECT min(id) AS first_id FROM member WHERE brand_id = $1::int) AS m
CROSS JOIN LATERAL (SELECT 1000 + ({H.format(11)} % 50000) AS paid) AS p
"""

HAND_TOTALS = """
SELECT count(*) AS orders, count(DISTINCT o.member_id) AS buyers,
    sum(o.amount_paid - o.refunded_amount) AS sales, sum(o.units - o.refunded_units) AS units,
    sum(o.amount_paid) AS paid, sum(o.retail_amount) AS retail,
    sum(CASE WHEN m.card_number IS NOT NULL THEN o.amount_paid - o.refunded_amount ELSE 0 END)
        AS member_sales
FROM sales_order o JOIN member m ON m.id = o.member_id
WHERE o.brand_id = $1 AND o.occurred_at >= $2 AND o.occurred_at < $3
"""
HAND_MONTHS = """
SELECT date_trunc('month', o.occurred_at AT TIME ZONE $4) AS month, count(*) AS orders,
    count(DISTINCT o.member_id) AS buyers, sum(o.amount_paid - o.refunded_amount) AS sales
FROM sales_order o WHERE o.brand_id = $1 AND o.occurred_at >= $2 AND o.occurred_at < $3
GROUP BY 1 ORDER BY 1
"""
HAND_BY = """
SELECT coalesce(o.{col}, '') AS k, count(*) AS orders, count(DISTINCT o.member_id) AS buyers,
    sum(o.amount_paid - o.refunded_amount) AS sales
FROM sales_order o WHERE o.brand_id = $1 AND o.occurred_at >= $2 AND o.occurred_at < $3
GROUP BY 1 ORDER BY 1
"""
HAND_GAPS = """
SELECT count(*) AS n, sum(extract(epoch FROM at - prev) / 86400.0) AS days FROM (
    SELECT occurred_at AS at, lag(occurred_at) OVER (PARTITION BY member_id ORDER BY occurred_at, id)
        AS prev
    FROM sales_order WHERE brand_id = $1 AND occurred_at < $3) g
WHERE prev IS NOT NULL AND at >= $2
"""
HAND_COHORTS = """
SELECT date_trunc('month', f.first_at AT TIME ZONE 'UTC') AS cohort,
    date_trunc('month', o.occurred_at AT TIME ZONE 'UTC') AS month, count(DISTINCT o.member_id)
FROM (SELECT member_id, min(occurred_at) AS first_at FROM sales_order WHERE brand_id = $1
      GROUP BY member_id) f
JOIN sales_order o ON o.brand_id = $1 AND o.member_id = f.member_id
WHERE f.first_at >= $2 AND f.first_at < $3 AND o.occurred_at < $3
GROUP BY 1, 2
"""
HAND_REPURCHASE = """
SELECT count(*) AS old, count(*) FILTER (WHERE EXISTS (
    SELECT 1 FROM sales_order n WHERE n.brand_id = $1 AND n.member_id = f.member_id
    AND n.occurred_at >= $2 AND n.occurred_at < $3)) AS again
FROM (SELECT DISTINCT member_id FROM sales_order WHERE brand_id = $1 AND occurred_at < $2) f
"""


HAND_GROWTH = """
SELECT count(*) AS joined, count(*) FILTER (WHERE EXISTS (
    SELECT 1 FROM sales_order o WHERE o.brand_id = $1 AND o.member_id = m.id
    AND o.occurred_at < $3)) AS converted,
    (SELECT count(*) FROM member c WHERE c.brand_id = $1 AND c.joined_at < $3) AS total
FROM member m WHERE m.brand_id = $1 AND m.joined_at >= $2 AND m.joined_at < $3
"""
HAND_GROWTH_MONTHS = """
SELECT date_trunc('month', joined_at AT TIME ZONE $4) AS month, count(*) FROM member
WHERE brand_id = $1 AND joined_at >= $2 AND joined_at < $3 GROUP BY 1
"""
HAND_GROWTH_BY = """
SELECT m.join_channel, m.join_source, count(*) AS joined, count(*) FILTER (WHERE EXISTS (
    SELECT 1 FROM sales_order o WHERE o.brand_id = $1 AND o.member_id = m.id
    AND o.occurred_at < $3)) AS converted
FROM member m WHERE m.brand_id = $1 AND m.joined_at >= $2 AND m.joined_at < $3 GROUP BY 1, 2
"""

SALES_FIGURES = ("orders", "buyers", "sales", "units", "discount_depth", "member_share")


async def timed(label: str, work: Any, repeat: int, warm: int = 1) -> float:
    """The median, printed as soon as measured: a large run takes an hour."""
    spent = await median_seconds(work, repeat, warm=warm)
    print(f"  {label}: {spent * 1000:.0f} ms", flush=True)
    return spent


def _differs(label: str, got: Any, want: Any) -> None:
    print(f"!!! {label} differs: {got} against {want}")


async def main() -> None:
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(TIMEZONE)
    year = (datetime(2025, 1, 1, tzinfo=tz), datetime(2026, 1, 1, tzinfo=tz))
    before = (datetime(2024, 1, 1, tzinfo=tz), datetime(2025, 1, 1, tzinfo=tz))
    # Not a whole day, week, month or year: buyers come from the member rows.
    odd = {"start": "2025-02-15", "end": "2025-11-14", "granularity": "month"}
    odd_bounds = (datetime(2025, 2, 15, tzinfo=tz), datetime(2025, 11, 15, tzinfo=tz))
    yoy = {**YEAR, "comparison": "yoy"}
    async with bench_database() as url:
        with tempfile.TemporaryDirectory() as var:
            async with bench_runtime(url, Path(var)):
                await create_tenant("bench", "Bench")
                brand = await create_brand("bench", "bench", "Bench", timezone=TIMEZONE)
                other = await create_brand("bench", "other", "Other", timezone=TIMEZONE)
                conn: Any = connections.get("default")
                began = time.perf_counter()
                for b, members, orders in ((brand, MEMBERS, ORDERS), (other, 1000, ORDERS // 20)):
                    await conn.execute_query(MEMBERS_SQL, [b.id, members])
                    await conn.execute_query(ORDERS_SQL, [b.id, orders, members])
                await conn.execute_query("ANALYZE")
                t_load = time.perf_counter() - began
                scope = BrandScope(brand)
                for key in ("reports.sales", "reports.retention", "reports.member_growth"):
                    await set_feature(scope, key, enabled=True)
                print(
                    f"{MEMBERS} members, {ORDERS} orders over two years (+ another brand), "
                    f"generated in {t_load:.1f} s"
                )

                def sales(params: dict[str, str], rollups: bool) -> Any:
                    async def run() -> Any:
                        return await run_report(
                            scope, "reports.sales", params, use_cache=False, rollups=rollups
                        )

                    return run

                async def hand_sales(bounds: tuple[datetime, datetime]) -> Any:
                    totals = await conn.execute_query_dict(HAND_TOTALS, [brand.id, *bounds])
                    await conn.execute_query_dict(HAND_MONTHS, [brand.id, *bounds, TIMEZONE])
                    for col in ("store_code", "channel"):
                        await conn.execute_query_dict(HAND_BY.format(col=col), [brand.id, *bounds])
                    return totals[0]

                async def hand() -> Any:
                    return await hand_sales(year)

                async def hand_yoy() -> Any:
                    await hand_sales(before)
                    return await hand_sales(year)

                async def hand_odd() -> Any:
                    return await hand_sales(odd_bounds)

                raw = (await sales(YEAR, False)()).result
                theirs = await hand()
                for key in ("orders", "buyers", "sales", "units"):
                    if raw.figure(key).value != int(theirs[key]):
                        _differs(f"raw {key}", raw.figure(key).value, theirs[key])

                t_report = await timed("report", sales(YEAR, False), REPEAT, warm=1)
                t_hand = await timed("hand", hand, REPEAT, warm=1)
                t_yoy_raw = await timed("yoy_raw", sales(yoy, False), REPEAT, warm=1)
                t_hand_yoy = await timed("hand_yoy", hand_yoy, REPEAT, warm=1)
                t_odd_raw = await timed("odd_raw", sales(odd, False), REPEAT, warm=1)
                t_hand_odd = await timed("hand_odd", hand_odd, REPEAT, warm=1)
                # What `tessera reports rollup --brand bench` runs.
                began = time.perf_counter()
                built = await build(scope)
                t_build = time.perf_counter() - began
                await conn.execute_query("ANALYZE")
                for params in (YEAR, yoy, odd):
                    through = (await sales(params, True)()).result
                    plain = (await sales(params, False)()).result
                    if through != plain:
                        _differs(f"sales overview {params} through the rollup", through, plain)
                t_rollup = await timed("rollup", sales(YEAR, True), REPEAT, warm=1)
                t_yoy = await timed("yoy", sales(yoy, True), REPEAT, warm=1)
                t_odd = await timed("odd", sales(odd, True), REPEAT, warm=1)
                # A day of late orders, read from the orders until the job rebuilds it;
                # its year's buyer counts are not used meanwhile.
                async with unit_of_work(scope) as uow:
                    await mark_dirty(scope, uow.connection, [datetime(2025, 6, 1, 12, tzinfo=tz)])
                t_dirty = await timed("dirty", sales(YEAR, True), REPEAT, warm=1)

                async def rebuild() -> Any:
                    return await rebuild_day(scope, date(2025, 6, 1))

                t_day = await timed("day", rebuild, REPEAT, warm=1)
                began = time.perf_counter()
                periods = await rebuild_periods(scope)
                t_periods = time.perf_counter() - began
                rows = {
                    table: (
                        await conn.execute_query_dict(
                            f"SELECT count(*) AS n FROM {table} WHERE brand_id = $1", [brand.id]
                        )
                    )[0]["n"]
                    for table in ("report_sales_day", "report_sales_cube", "report_buyer_count")
                }
                print(
                    f"rollup: {built} days built in {t_build:.1f} s; rows: {rows}; one day "
                    f"rebuilt in {t_day * 1000:.0f} ms, its {periods} periods recounted in "
                    f"{t_periods:.1f} s"
                )
                clear_cache()
                await run_report(scope, "reports.sales", YEAR)

                async def cached() -> Any:
                    return await run_report(scope, "reports.sales", YEAR)

                t_cached = await timed("cached", cached, REPEAT, warm=1)

                async def retention() -> Any:
                    return await run_report(scope, "reports.retention", YEAR, use_cache=False)

                async def hand_repurchase() -> Any:
                    return await conn.execute_query_dict(HAND_REPURCHASE, [brand.id, *year])

                async def hand_retention() -> Any:
                    await conn.execute_query_dict(HAND_GAPS, [brand.id, *year])
                    await conn.execute_query_dict(HAND_COHORTS, [brand.id, *year])
                    return await hand_repurchase()

                got = {f.key: f.value for f in (await retention()).result.figures}
                want = (await hand_repurchase())[0]
                if (got["old_customers"], got["repurchasers"]) != (want["old"], want["again"]):
                    _differs("repurchase", got, want)
                t_ret = await timed("ret", retention, REPEAT, warm=1)
                t_ret_hand = await timed("ret_hand", hand_retention, REPEAT, warm=1)

                async def growth() -> Any:
                    return await run_report(scope, "reports.member_growth", YEAR, use_cache=False)

                async def hand_growth() -> Any:
                    totals = await conn.execute_query_dict(HAND_GROWTH, [brand.id, *year])
                    await conn.execute_query_dict(HAND_GROWTH_MONTHS, [brand.id, *year, TIMEZONE])
                    await conn.execute_query_dict(HAND_GROWTH_BY, [brand.id, *year])
                    return totals[0]

                got = {f.key: f.value for f in (await growth()).result.figures}
                want = await hand_growth()
                if (got["new_members"], got["converted"], got["members"]) != (
                    want["joined"],
                    want["converted"],
                    want["total"],
                ):
                    _differs("growth", got, want)
                t_growth = await timed("growth", growth, REPEAT, warm=1)
                t_growth_hand = await timed("growth_hand", hand_growth, REPEAT, warm=1)

                result = Report(
                    "reports",
                    {
                        "members": MEMBERS,
                        "orders": ORDERS,
                        "load_s": round(t_load, 1),
                        **{f"{table}_rows": int(n) for table, n in rows.items()},
                        "rollup_build_s": round(t_build, 1),
                        "rollup_day_rebuild_s": round(t_day, 4),
                        "rollup_periods_recount_s": round(t_periods, 2),
                    },
                )
                four = "hand SQL over raw orders, 4 queries"
                result.table(
                    "Reports over one year (PostgreSQL)",
                    [
                        Figure(
                            "sales overview (figures, months, tables), raw", t_report, t_hand, four
                        ),
                        Figure("sales overview through the rollups", t_rollup, t_hand, four),
                        Figure(
                            "… with YoY, raw orders", t_yoy_raw, t_hand_yoy, "the same, 8 queries"
                        ),
                        Figure(
                            "… with YoY, through the rollups",
                            t_yoy,
                            t_hand_yoy,
                            "the same, 8 queries",
                        ),
                        Figure("… with one dirty day read from the orders", t_dirty, t_hand, four),
                        Figure("… from the cache", t_cached, t_hand, four),
                        Figure("15 Feb-14 Nov (no whole period), raw", t_odd_raw, t_hand_odd, four),
                        Figure("15 Feb-14 Nov through the rollups", t_odd, t_hand_odd, four),
                        Figure(
                            "retention (repurchase, gaps, cohorts)",
                            t_ret,
                            t_ret_hand,
                            "hand SQL: the same three, 3 queries",
                        ),
                        Figure(
                            "member growth (figures, months, sources)",
                            t_growth,
                            t_growth_hand,
                            "hand SQL: the same, 3 queries",
                        ),
                    ],
                )
                result.save()


if __name__ == "__main__":
    asyncio.run(main())
