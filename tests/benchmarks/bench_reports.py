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
  is no whole period (and, through the rollups, 1 February-14 November, a
  range starting on a month's first day: its store and channel tables read
  ``report_buyer_dim_day``);
- the same through the rollups (``report_sales_cube`` and the buyer counts,
  built by ``tessera.reports.rollup.build`` as ``tessera reports rollup``
  does, timed), then with one dirty day read from the orders; one day's
  rebuild and the recount of the periods it dropped are timed too;
- the same answered from the result cache (no new facts since);
- the retention report (repurchase rate of old customers, days between
  orders, monthly cohorts) against three hand-written queries, and member
  growth against three, over the members and, with the rollups built,
  through ``report_join_day`` (and with one dirty day);
- lifecycle and RFM with the stage flows over the year against the stages,
  the scores and the flows in one pass over the orders, by the statement
  and from the flows the job stored for the closed year (the store timed);
  tiers (distribution, moves) against two queries; loyalty liability
  (balances, points flows, expiring lots, coupons) against four; the campaign effect of twelve
  campaigns launched in the year (treated, holdout and unreached groups,
  orders in each recipient's window, the day of the first) against one:
  by the attribution statement, from the rows the job stored (the store
  timed), and with one campaign's window changed (that one live).
  Their state rows (lifecycle, tier state and history, accounts, ledger
  entries, lots, coupons, campaign recipients and messages) are generated
  set-based too, sized on the members.

The data is generated with set-based SQL (``generate_series`` and seeded
hashes, so every run has the same history). A second brand has orders in the
same days, so brand scoping is real. The figures of the report and of the
hand query are compared; a difference is printed loudly (a bug).

Run by ``make bench``; prints, asserts nothing. ``BENCH_REPORT_REPEAT``
timed repetitions (default 5) after ``BENCH_REPORT_WARM`` untimed ones
(default 1). ``BENCH_REPORT_PARTS`` picks parts, comma-separated: sales,
rollup (builds the rollups: the slow part at scale), retention, growth,
lifecycle, tiers, liability, campaign (default all); empty generates the
data and stops. With ``BENCH_DATABASE`` (harness.py) the database is kept
and a later run measures its data without generating it again (its sizes
are those it was generated with). Figures go to ``var/bench/reports.json``.
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
from tessera.reports.api import ratio
from tessera.reports.models import JoinDay
from tessera.reports.rollup import (
    build,
    build_join_days,
    mark_dirty,
    rebuild_day,
    rebuild_periods,
    rollups_ready,
)
from tessera.reports.service import clear_cache, run_report
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand
from tessera.tenancy.service import create_brand, create_tenant
from tessera.uow import unit_of_work

MEMBERS = int(os.environ.get("BENCH_REPORT_MEMBERS", "20000"))
ORDERS = int(os.environ.get("BENCH_REPORT_ORDERS", "200000"))
REPEAT = int(os.environ.get("BENCH_REPORT_REPEAT", "5"))
# Untimed runs before the timed ones; 0 at the largest size, where each query
# has just run once for the comparison of figures.
WARM = int(os.environ.get("BENCH_REPORT_WARM", "1"))
ALL_PARTS = "sales,rollup,retention,growth,lifecycle,tiers,liability,campaign"
STATE_PARTS = {"lifecycle", "tiers", "liability", "campaign"}
PARTS = set(filter(None, os.environ.get("BENCH_REPORT_PARTS", ALL_PARTS).split(",")))
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

# The state the nightly jobs and the ledger keep, set-based like the orders:
# a lifecycle row for 90% of the members, a tier for 60% and two tier changes
# for half, a points account for 80% (three entries each, a lot per earning)
# and a stored-value account for 20%, a coupon for 80%.
M = "abs(hashint8extended(m.id, {}))"
STATE_SQL = [
    f"""
INSERT INTO member_lifecycle (brand_id, member_id, recency_score, frequency_score,
    monetary_score, stage, computed_at)
SELECT $1::int, m.id, CASE WHEN {M.format(21)} % 20 = 0 THEN NULL ELSE 1 + {M.format(22)} % 5 END,
    1 + {M.format(23)} % 5, 1 + {M.format(24)} % 5,
    (ARRAY['new', 'active', 'silent', 'sleeping', 'about_to_churn', 'churned'])[1 + {M.format(25)} % 6],
    now()
FROM member m WHERE m.brand_id = $1::int AND {M.format(20)} % 10 <> 0
""",
    """
INSERT INTO tier_definition (brand_id, code, name, rank, benefits, gift_points,
    gift_coupon_template_ids, validity_months, created_at, updated_at)
SELECT $1::int, 'T' || r, 'Tier ' || r, r, '[]'::jsonb, 0, '[]'::jsonb, 12, now(), now()
FROM generate_series(0, 3) AS r
""",
    f"""
INSERT INTO member_tier_state (brand_id, member_id, tier_id, lapsed_tier_id, since, expires_at,
    updated_at)
SELECT $1::int, m.id, td.id, NULL, m.joined_at, m.joined_at + interval '1 year', now()
FROM member m JOIN tier_definition td ON td.brand_id = $1::int AND td.rank = {M.format(31)} % 4
WHERE m.brand_id = $1::int AND {M.format(30)} % 10 < 6
""",
    f"""
INSERT INTO tier_history (brand_id, member_id, from_tier_id, to_tier_id, reason, policy_key,
    source, at, expires_at, created_at)
SELECT $1::int, m.id, f.id, t.id,
    (ARRAY['upgrade', 'downgrade', 'renewed', 'reactivated', 'manual'])[1 + {M.format(33)} % 5], '',
    'bench-' || k, timestamptz '2024-01-01 00:00+08'
        + make_interval(secs => (abs(hashint8extended(m.id * 2 + k, 34)) % (731 * 86400))::int),
    NULL, now()
FROM member m CROSS JOIN generate_series(1, 2) AS k
LEFT JOIN tier_definition f ON f.brand_id = $1::int
    AND f.rank = abs(hashint8extended(m.id * 2 + k, 35)) % 5
LEFT JOIN tier_definition t ON t.brand_id = $1::int
    AND t.rank = abs(hashint8extended(m.id * 2 + k, 36)) % 5
WHERE m.brand_id = $1::int AND {M.format(32)} % 2 = 0
""",
    f"""
INSERT INTO asset_account (brand_id, member_id, kind, balance, pending, reserved, updated_at)
SELECT $1::int, m.id, a.kind, {M.format(41)} % 5000, 0, 0, now()
FROM member m CROSS JOIN (VALUES ('points', 8), ('stored_value', 2)) AS a(kind, tenths)
WHERE m.brand_id = $1::int AND {M.format(40)} % 10 < a.tenths
""",
    """
INSERT INTO ledger_entry (brand_id, member_id, account_id, kind, entry_type, amount, balance_after,
    reason, source_type, source_ref, idempotency_key, fingerprint, actor, occurred_at, created_at)
SELECT $1::int, a.member_id, a.id, 'points', e.t,
    CASE WHEN e.t IN ('earn', 'release') THEN e.amt ELSE -e.amt END, 0, '', '', NULL,
    'bench-' || a.id || '-' || k, 'bench', 'bench',
    timestamptz '2024-01-01 00:00+08' + make_interval(secs => (e.h % (731 * 86400))::int), now()
FROM asset_account a CROSS JOIN generate_series(1, 3) AS k
CROSS JOIN LATERAL (SELECT abs(hashint8extended(a.id * 3 + k, 42)) AS h) AS g
CROSS JOIN LATERAL (SELECT (ARRAY['earn', 'earn', 'redeem', 'expire', 'release', 'earn'])[1 + g.h % 6]
    AS t, 10 + g.h % 500 AS amt, g.h) AS e
WHERE a.brand_id = $1::int AND a.kind = 'points'
""",
    """
INSERT INTO points_lot (brand_id, account_id, entry_id, amount, remaining, earned_at, expires_at,
    status, available_at, warned_at)
SELECT $1::int, e.account_id, e.id, e.amount, e.amount * (e.id % 3) / 2, e.occurred_at, x.at,
    CASE WHEN x.at < now() THEN 'expired' ELSE 'available' END, e.occurred_at, NULL
FROM ledger_entry e
CROSS JOIN LATERAL (SELECT e.occurred_at + interval '1 year'
    + make_interval(days => (abs(hashint8extended(e.id, 43)) % 400)::int) AS at) AS x
WHERE e.brand_id = $1::int AND e.entry_type = 'earn'
""",
    """
INSERT INTO coupon_template (brand_id, kind, title, description, min_spend, categories,
    issued_count, active, created_at, updated_at)
VALUES ($1::int, 'amount', 'Bench', '', 0, '[]'::jsonb, 0, true, now(), now())
""",
    f"""
INSERT INTO coupon (brand_id, member_id, template_id, code, status, issued_at, valid_from,
    expires_at, idempotency_key, fingerprint, redeemed_at, voided_at, void_reason, created_at,
    updated_at)
SELECT $1::int, m.id, t.id, 'B' || m.id, CASE WHEN {M.format(51)} % 10 < 3 THEN 'redeemed'
    ELSE 'available' END, i.at, i.at, i.at + interval '90 days', 'bench-' || m.id, 'bench',
    CASE WHEN {M.format(51)} % 10 < 3 THEN i.at + interval '1 day' END, NULL, NULL, now(), now()
FROM member m
CROSS JOIN (SELECT max(id) AS id FROM coupon_template WHERE brand_id = $1::int) AS t
CROSS JOIN LATERAL (SELECT timestamptz '2024-01-01 00:00+08'
    + make_interval(secs => ({M.format(52)} % (731 * 86400))::int) AS at) AS i
WHERE m.brand_id = $1::int AND {M.format(50)} % 10 < 8
""",
]

# Twelve campaigns launched in 2025 (one a month, a 14-day window), each to
# 8% of the members with a 10% holdout, in four batches ten minutes apart; 95%
# of the others sent.
CAMPAIGN_SQL = [
    """
INSERT INTO message_template (brand_id, name, channel, subject, body, html, provider_template,
    created_at, updated_at)
VALUES ($1::int, 'bench', 'sms', '', 'hello', '', '', now(), now())
""",
    """
INSERT INTO campaign (brand_id, template_id, name, channel, purpose, holdout_share,
    attribution_days, cost_per_message, status, last_error, launched_at, created_at, updated_at)
SELECT $1::int, t.id, 'bench ' || k, 'sms', 'marketing', 0.1, 14, 0.05, 'completed', '',
    timestamptz '2025-01-05 10:00+08' + make_interval(months => k - 1), now(), now()
FROM generate_series(1, 12) AS k
CROSS JOIN (SELECT max(id) AS id FROM message_template WHERE brand_id = $1::int) AS t
""",
    f"""
INSERT INTO message (brand_id, member_id, channel, purpose, source, variables, idempotency_key,
    status, reason, provider, attempts, send_after, sent_at, created_at, updated_at)
SELECT $1::int, m.id, 'sms', 'marketing', 'campaign', '{{}}'::jsonb, 'bench-c' || c.id,
    CASE WHEN x.h % 20 = 0 THEN 'failed' ELSE 'sent' END, '', 'bench', 1, c.launched_at,
    CASE WHEN x.h % 20 <> 0 THEN c.launched_at
        + make_interval(mins => (10 * ({M.format(61)} % 4) + x.h % 7)::int) END, now(), now()
FROM campaign c JOIN member m ON m.brand_id = $1::int
    AND abs(hashint8extended(m.id * 16 + c.id, 60)) % 100 < 8
CROSS JOIN LATERAL (SELECT abs(hashint8extended(m.id * 16 + c.id, 62)) AS h) AS x
WHERE c.brand_id = $1::int AND {M.format(63)} % 10 <> 0
""",
    f"""
INSERT INTO campaign_recipient (brand_id, campaign_id, member_id, holdout, batch, message_id,
    created_at)
SELECT $1::int, c.id, m.id, {M.format(63)} % 10 = 0, ({M.format(61)} % 4)::int, g.id, now()
FROM campaign c JOIN member m ON m.brand_id = $1::int
    AND abs(hashint8extended(m.id * 16 + c.id, 60)) % 100 < 8
LEFT JOIN message g ON g.brand_id = $1::int AND g.member_id = m.id
    AND g.idempotency_key = 'bench-c' || c.id
WHERE c.brand_id = $1::int
""",
]
# Each recipient's clock (their send, the holdout's the batch's first send),
# the orders in the window after it, by campaign, group and day of the first.
HAND_CAMPAIGNS = """
WITH b AS (
    SELECT r.campaign_id, r.batch, min(m.sent_at) AS at
    FROM campaign c JOIN campaign_recipient r ON r.campaign_id = c.id
    JOIN message m ON m.id = r.message_id
    WHERE c.brand_id = $1 AND c.launched_at >= $2 AND c.launched_at < $3
    GROUP BY 1, 2
), x AS (
    SELECT r.campaign_id, r.member_id, c.attribution_days AS days,
        CASE WHEN r.holdout THEN 'holdout' WHEN m.sent_at IS NOT NULL THEN 'treated'
            ELSE 'unreached' END AS grp,
        CASE WHEN r.holdout THEN coalesce(b.at, c.launched_at)
            ELSE coalesce(m.sent_at, b.at, c.launched_at) END AS t0
    FROM campaign c JOIN campaign_recipient r ON r.campaign_id = c.id
    LEFT JOIN message m ON m.id = r.message_id AND NOT r.holdout
    LEFT JOIN b ON b.campaign_id = r.campaign_id AND b.batch = r.batch
    WHERE c.brand_id = $1 AND c.launched_at >= $2 AND c.launched_at < $3
)
SELECT x.campaign_id, x.grp, floor(extract(epoch FROM o.first - x.t0) / 86400)::int AS day,
    count(*) AS members, sum(o.revenue) AS revenue
FROM x CROSS JOIN LATERAL (
    SELECT min(occurred_at) AS first, coalesce(sum(amount_paid - refunded_amount), 0) AS revenue
    FROM sales_order WHERE brand_id = $1 AND member_id = x.member_id AND occurred_at >= x.t0
    AND occurred_at < x.t0 + x.days * interval '24 hours'
) o
GROUP BY 1, 2, 3
"""

HAND_STAGES = """
SELECT stage, count(*) AS n FROM member_lifecycle WHERE brand_id = $1 GROUP BY stage
"""
HAND_RFM = """
SELECT recency_score, frequency_score, monetary_score, count(*) AS n FROM member_lifecycle
WHERE brand_id = $1 GROUP BY 1, 2, 3
"""
# One pass over the orders for both instants; $4.. are the day starts of the
# stage thresholds (active, silent, sleeping, about to churn) at the start,
# $8.. at the end; at most one order is "new" (the default settings).
_STAGE = """CASE WHEN {last} >= ${a} THEN (CASE WHEN coalesce({n}, 0) <= 1 THEN 'new' ELSE 'active' END)
    WHEN {last} >= ${b} THEN 'silent' WHEN {last} >= ${c} THEN 'sleeping'
    WHEN {last} >= ${d} THEN 'about_to_churn' ELSE 'churned' END"""
HAND_FLOWS = f"""
SELECT s_from, s_to, count(*) AS n FROM (
    SELECT CASE WHEN m.joined_at >= $2 THEN 'none' ELSE
        {_STAGE.format(last="coalesce(h.last_a, m.joined_at)", n="h.n_a", a=4, b=5, c=6, d=7)}
        END AS s_from,
        {_STAGE.format(last="coalesce(h.last_b, m.joined_at)", n="h.n_b", a=8, b=9, c=10, d=11)}
        AS s_to
    FROM member m LEFT JOIN (
        SELECT member_id, count(*) FILTER (WHERE occurred_at < $2) AS n_a,
            max(occurred_at) FILTER (WHERE occurred_at < $2) AS last_a,
            count(*) AS n_b, max(occurred_at) AS last_b
        FROM sales_order WHERE brand_id = $1 AND occurred_at < $3 GROUP BY member_id
    ) h ON h.member_id = m.id
    WHERE m.brand_id = $1 AND m.joined_at < $3
) s GROUP BY 1, 2
"""
HAND_TIERS = """
SELECT td.code, count(ts.member_id) AS n FROM tier_definition td
LEFT JOIN member_tier_state ts ON ts.tier_id = td.id AND ts.brand_id = $1
WHERE td.brand_id = $1 GROUP BY td.code
"""
HAND_TIER_MOVES = """
SELECT h.from_tier_id, h.to_tier_id, h.reason, count(*) AS n,
    count(*) FILTER (WHERE coalesce(t.rank, -1) > coalesce(f.rank, -1)) AS up
FROM tier_history h LEFT JOIN tier_definition f ON f.id = h.from_tier_id
LEFT JOIN tier_definition t ON t.id = h.to_tier_id
WHERE h.brand_id = $1 AND h.at >= $2 AND h.at < $3 GROUP BY 1, 2, 3
"""
HAND_BALANCES = """
SELECT kind, sum(balance) AS total FROM asset_account WHERE brand_id = $1 GROUP BY kind
"""
HAND_POINTS_FLOWS = """
SELECT entry_type, sum(amount) AS total FROM ledger_entry
WHERE brand_id = $1 AND kind = 'points' AND occurred_at >= $2 AND occurred_at < $3
GROUP BY entry_type
"""
HAND_EXPIRING = """
SELECT sum(remaining) FILTER (WHERE expires_at < $2::timestamptz + interval '30 days') AS d30,
    sum(remaining) FILTER (WHERE expires_at < $2::timestamptz + interval '90 days') AS d90
FROM points_lot WHERE brand_id = $1 AND status = 'available' AND expires_at >= $2
"""
HAND_COUPONS = """
SELECT count(*) AS issued, count(redeemed_at) AS redeemed FROM coupon
WHERE brand_id = $1 AND issued_at >= $2 AND issued_at < $3
"""

SALES_FIGURES = ("orders", "buyers", "sales", "units", "discount_depth", "member_share")


async def timed(label: str, work: Any, repeat: int, warm: int = WARM) -> float:
    """The median, printed as soon as measured: a large run takes an hour."""
    spent = await median_seconds(work, repeat, warm=warm)
    print(f"  {label}: {spent * 1000:.0f} ms", flush=True)
    return spent


def _differs(label: str, got: Any, want: Any) -> None:
    print(f"!!! {label} differs: {got} against {want}")


def _table(result: Any, key: str) -> list[list[Any]]:
    return [list(r) for t in result.tables if t.key == key for r in t.rows]


async def state_reports(
    scope: BrandScope, conn: Any, year: tuple[Any, Any], t_state: float
) -> list[Figure]:
    """Lifecycle with flows, tiers and loyalty liability over the state
    tables, each beside hand SQL computing the same figures."""
    from datetime import UTC, date, datetime, timedelta
    from zoneinfo import ZoneInfo

    brand = scope.brand
    figures: list[Figure] = []

    def report(key: str) -> Any:
        async def run() -> Any:
            return (await run_report(scope, key, YEAR, use_cache=False)).result

        return run

    if "lifecycle" in PARTS:
        from tessera.reports.flows import store as store_flows
        from tessera.reports.models import FlowPeriod, StageFlow

        tz = ZoneInfo(TIMEZONE)
        # The statement first: a kept database may hold stored flows.
        await scope.query(StageFlow).delete()
        await scope.query(FlowPeriod).delete()

        def starts(day: date) -> list[datetime]:
            return [
                datetime.combine(day - timedelta(days=n), datetime.min.time(), tz).astimezone(UTC)
                for n in (90, 180, 270, 365)
            ]

        # The flows' stage at the start is as of the end of the day before.
        thresholds = [*starts(date(2024, 12, 31)), *starts(date(2025, 12, 31))]

        async def hand_lifecycle() -> Any:
            stages = await conn.execute_query_dict(HAND_STAGES, [brand.id])
            await conn.execute_query_dict(HAND_RFM, [brand.id])
            flows = await conn.execute_query_dict(HAND_FLOWS, [brand.id, *year, *thresholds])
            return stages, flows

        got = await report("reports.lifecycle")()
        stages, flows = await hand_lifecycle()
        want_stages = sorted([r["stage"], int(r["n"])] for r in stages)
        if sorted(r[:2] for r in _table(got, "stages")) != want_stages:
            _differs("lifecycle stages", _table(got, "stages"), want_stages)
        want_flows = sorted([r["s_from"], r["s_to"], int(r["n"])] for r in flows)
        if sorted(_table(got, "flows")) != want_flows:
            _differs("lifecycle flows", _table(got, "flows"), want_flows)
        print(f"  lifecycle flows: {_table(got, 'flows')}", flush=True)
        t_life = await timed("lifecycle", report("reports.lifecycle"), REPEAT)
        t_life_hand = await timed("lifecycle_hand", hand_lifecycle, REPEAT)
        # The job stores the closed year's flows (what stage_flows_tick runs
        # for it); the report reads them.
        began = time.perf_counter()
        await store_flows(scope, date(2025, 1, 1), date(2025, 12, 31))
        t_store = time.perf_counter() - began
        print(f"  stage flows of 2025 stored in {t_store * 1000:.0f} ms", flush=True)
        stored = await report("reports.lifecycle")()
        if sorted(_table(stored, "flows")) != want_flows:
            _differs("lifecycle flows (stored)", _table(stored, "flows"), want_flows)
        t_life_stored = await timed("lifecycle_stored", report("reports.lifecycle"), REPEAT)
        figures += [
            Figure(
                "lifecycle and RFM with stage flows",
                t_life,
                t_life_hand,
                "hand SQL: stages, RFM, flows in one pass over the orders, 3 queries",
            ),
            Figure(
                "… the year's stage flows stored",
                t_life_stored,
                t_life_hand,
                f"the same hand SQL; the job stored the year in {t_store:.1f} s",
            ),
        ]
    if "tiers" in PARTS:

        async def hand_tiers() -> Any:
            dist = await conn.execute_query_dict(HAND_TIERS, [brand.id])
            moves = await conn.execute_query_dict(HAND_TIER_MOVES, [brand.id, *year])
            return dist, moves

        got = await report("reports.tiers")()
        dist, moves = await hand_tiers()
        want = {
            "members_in_tiers": sum(int(r["n"]) for r in dist),
            "upgrades": sum(int(r["up"]) for r in moves),
            "downgrades": sum(int(r["n"]) - int(r["up"]) for r in moves),
        }
        for key, value in want.items():
            if got.figure(key).value != value:
                _differs(f"tiers {key}", got.figure(key).value, value)
        t_tiers = await timed("tiers", report("reports.tiers"), REPEAT)
        t_tiers_hand = await timed("tiers_hand", hand_tiers, REPEAT)
        figures.append(
            Figure("tiers (distribution, moves)", t_tiers, t_tiers_hand, "hand SQL: 2 queries")
        )
    if "liability" in PARTS:

        async def hand_liability() -> Any:
            now = datetime.now(UTC)
            balances = await conn.execute_query_dict(HAND_BALANCES, [brand.id])
            flows = await conn.execute_query_dict(HAND_POINTS_FLOWS, [brand.id, *year])
            expiring = await conn.execute_query_dict(HAND_EXPIRING, [brand.id, now])
            coupons = await conn.execute_query_dict(HAND_COUPONS, [brand.id, *year])
            return balances, flows, expiring[0], coupons[0]

        got = await report("reports.liability")()
        balances, flows, expiring, coupons = await hand_liability()
        sums = {r["kind"]: int(r["total"]) for r in balances}
        moved = {r["entry_type"]: int(r["total"]) for r in flows}
        want = {
            "points_outstanding": sums.get("points", 0),
            "stored_value_outstanding": sums.get("stored_value", 0),
            "points_issued": moved.get("earn", 0) + moved.get("release", 0),
            "points_redeemed": -moved.get("redeem", 0),
            "points_expired": -moved.get("expire", 0),
            "points_expiring_30": int(expiring["d30"] or 0),
            "points_expiring_90": int(expiring["d90"] or 0),
            "coupons_issued": int(coupons["issued"]),
            "coupons_redeemed": int(coupons["redeemed"]),
        }
        for key, value in want.items():
            if got.figure(key).value != value:
                _differs(f"liability {key}", got.figure(key).value, value)
        t_liab = await timed("liability", report("reports.liability"), REPEAT)
        t_liab_hand = await timed("liability_hand", hand_liability, REPEAT)
        figures.append(
            Figure(
                "loyalty liability (balances, flows, expiring, coupons)",
                t_liab,
                t_liab_hand,
                "hand SQL: the same, 4 queries",
            )
        )
    if "campaign" in PARTS:
        from tessera.campaigns.models import StoredResults
        from tessera.campaigns.stored import refresh

        async def hand_campaigns() -> Any:
            return await conn.execute_query_dict(HAND_CAMPAIGNS, [brand.id, *year])

        # The statement first: a kept database may hold stored results.
        await scope.query(StoredResults).delete()
        got = await report("reports.campaign_effect")()
        rows = await hand_campaigns()

        def total(group: str, column: str, converted: bool = False) -> int:
            return sum(
                int(r[column])
                for r in rows
                if r["grp"] == group and (not converted or r["day"] is not None)
            )

        want = {
            "campaigns": len({r["campaign_id"] for r in rows}),
            "treated": total("treated", "members"),
            "messages_sent": total("treated", "members"),
            "revenue": total("treated", "revenue"),
            "conversion": ratio(total("treated", "members", True), total("treated", "members")),
            "holdout_conversion": ratio(
                total("holdout", "members", True), total("holdout", "members")
            ),
        }

        def check(got: Any, how: str) -> None:
            for key, value in want.items():
                if got.figure(key).value != value:
                    _differs(f"campaign effect {key} ({how})", got.figure(key).value, value)

        check(got, "statement")
        print(f"  campaign effect: {want}", flush=True)
        t_camp = await timed("campaign", report("reports.campaign_effect"), REPEAT)
        t_camp_hand = await timed("campaign_hand", hand_campaigns, REPEAT)
        # The job stores the twelve closed campaigns' rows; the report reads them.
        began = time.perf_counter()
        stored = await refresh(scope)
        t_store = time.perf_counter() - began
        print(f"  campaign results stored: {stored} in {t_store * 1000:.0f} ms", flush=True)
        check(await report("reports.campaign_effect")(), "stored")
        t_stored = await timed("campaign_stored", report("reports.campaign_effect"), REPEAT)
        # A late order in one campaign's window: that one is computed live.
        async with unit_of_work(scope) as uow:
            await mark_dirty(scope, uow.connection, [datetime(2025, 6, 8, 12, tzinfo=UTC)])
        check(await report("reports.campaign_effect")(), "one window changed")
        t_one = await timed("campaign_one_live", report("reports.campaign_effect"), REPEAT)
        await refresh(scope)
        figures += [
            Figure(
                "campaign effect (12 campaigns, groups, windows, curve), statement",
                t_camp,
                t_camp_hand,
                "hand SQL: 1 query, orders per recipient window",
            ),
            Figure(
                "… stored results of the 12 closed campaigns",
                t_stored,
                t_camp_hand,
                f"the same hand query; the job stored them in {t_store:.1f} s",
            ),
            Figure(
                "… a day of one campaign's window changed (1 live, 11 stored)",
                t_one,
                t_camp_hand,
                "the same hand query",
            ),
        ]
    if PARTS & STATE_PARTS:
        counts = {
            table: (
                await conn.execute_query_dict(
                    f"SELECT count(*) AS n FROM {table} WHERE brand_id = $1", [brand.id]
                )
            )[0]["n"]
            for table in (
                "member_lifecycle",
                "member_tier_state",
                "tier_history",
                "asset_account",
                "ledger_entry",
                "points_lot",
                "coupon",
                "campaign_recipient",
                "message",
            )
        }
        print(f"state rows (generated in {t_state:.1f} s): {counts}", flush=True)
    return figures


async def main() -> None:
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(TIMEZONE)
    year = (datetime(2025, 1, 1, tzinfo=tz), datetime(2026, 1, 1, tzinfo=tz))
    before = (datetime(2024, 1, 1, tzinfo=tz), datetime(2025, 1, 1, tzinfo=tz))
    # Not a whole day, week, month or year: buyers come from the member rows.
    odd = {"start": "2025-02-15", "end": "2025-11-14", "granularity": "month"}
    odd_bounds = (datetime(2025, 2, 15, tzinfo=tz), datetime(2025, 11, 15, tzinfo=tz))
    # No whole period either, but from a month's first day: the by-store and
    # by-channel tables sum report_buyer_dim_day.
    feb = {"start": "2025-02-01", "end": "2025-11-14", "granularity": "month"}
    feb_bounds = (datetime(2025, 2, 1, tzinfo=tz), datetime(2025, 11, 15, tzinfo=tz))
    yoy = {**YEAR, "comparison": "yoy"}
    async with bench_database() as url:
        with tempfile.TemporaryDirectory() as var:
            async with bench_runtime(url, Path(var)):
                conn: Any = connections.get("default")
                began = time.perf_counter()
                brand = await Brand.filter(code="bench").first()
                if brand is None:
                    await create_tenant("bench", "Bench")
                    brand = await create_brand("bench", "bench", "Bench", timezone=TIMEZONE)
                    other = await create_brand("bench", "other", "Other", timezone=TIMEZONE)
                    for b, members, orders in (
                        (brand, MEMBERS, ORDERS),
                        (other, 1000, ORDERS // 20),
                    ):
                        await conn.execute_query(MEMBERS_SQL, [b.id, members])
                        await conn.execute_query(ORDERS_SQL, [b.id, orders, members])
                    # As autovacuum leaves a table in production: without it the
                    # first reads of 10M fresh rows set their hint bits and the
                    # index-only scans visit the heap (a query of 3 s took minutes).
                    await conn.execute_query("VACUUM (ANALYZE)")
                    print(f"members and orders generated in {time.perf_counter() - began:.1f} s")
                else:
                    print("members and orders from the kept database (BENCH_DATABASE)")
                t_load = time.perf_counter() - began
                began = time.perf_counter()
                state = await conn.execute_query_dict(
                    "SELECT 1 FROM member_lifecycle WHERE brand_id = $1 LIMIT 1", [brand.id]
                )
                if not state and (not PARTS or PARTS & STATE_PARTS):
                    for sql in STATE_SQL + CAMPAIGN_SQL:
                        await conn.execute_query(sql, [brand.id])
                    await conn.execute_query("VACUUM (ANALYZE)")
                    print(f"state rows generated in {time.perf_counter() - began:.1f} s")
                t_state = time.perf_counter() - began
                if not PARTS:
                    return
                scope = BrandScope(brand)
                for key in (
                    "reports.sales",
                    "reports.retention",
                    "reports.member_growth",
                    "reports.lifecycle",
                    "reports.tiers",
                    "reports.liability",
                    "reports.campaign_effect",
                ):
                    await set_feature(scope, key, enabled=True)
                # A kept database has the sizes it was generated with.
                sizes = (
                    await conn.execute_query_dict(
                        "SELECT (SELECT count(*) FROM member WHERE brand_id = $1) AS members, "
                        "(SELECT count(*) FROM sales_order WHERE brand_id = $1) AS orders",
                        [brand.id],
                    )
                )[0]
                print(
                    f"{sizes['members']} members, {sizes['orders']} orders over two years "
                    f"(+ another brand), generated in {t_load:.1f} s"
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

                async def hand_feb() -> Any:
                    return await hand_sales(feb_bounds)

                figures: list[Figure] = []
                four = "hand SQL over raw orders, 4 queries"
                eight = "the same, 8 queries"
                rows: dict[str, int] = {}
                t_build = t_day = t_periods = t_hand_feb = 0.0
                if "sales" in PARTS or "rollup" in PARTS:
                    raw = (await sales(YEAR, False)()).result
                    theirs = await hand()
                    for key in ("orders", "buyers", "sales", "units"):
                        if raw.figure(key).value != int(theirs[key]):
                            _differs(f"raw {key}", raw.figure(key).value, theirs[key])

                    t_report = await timed("report", sales(YEAR, False), REPEAT)
                    t_hand = await timed("hand", hand, REPEAT)
                    t_yoy_raw = await timed("yoy_raw", sales(yoy, False), REPEAT)
                    t_hand_yoy = await timed("hand_yoy", hand_yoy, REPEAT)
                    t_odd_raw = await timed("odd_raw", sales(odd, False), REPEAT)
                    t_hand_odd = await timed("hand_odd", hand_odd, REPEAT)
                    t_hand_feb = await timed("hand_feb", hand_feb, REPEAT)
                    figures += [
                        Figure(
                            "sales overview (figures, months, tables), raw", t_report, t_hand, four
                        ),
                        Figure("… with YoY, raw orders", t_yoy_raw, t_hand_yoy, eight),
                        Figure("15 Feb-14 Nov (no whole period), raw", t_odd_raw, t_hand_odd, four),
                    ]
                if "rollup" in PARTS:
                    # What `tessera reports rollup --brand bench` runs.
                    began = time.perf_counter()
                    built = await build(scope)
                    t_build = time.perf_counter() - began
                    await conn.execute_query("ANALYZE")
                    for params in (YEAR, yoy, odd, feb):
                        through = (await sales(params, True)()).result
                        plain = (await sales(params, False)()).result
                        if through != plain:
                            _differs(f"sales overview {params} through the rollup", through, plain)
                    t_rollup = await timed("rollup", sales(YEAR, True), REPEAT)
                    t_yoy = await timed("yoy", sales(yoy, True), REPEAT)
                    t_odd = await timed("odd", sales(odd, True), REPEAT)
                    t_feb = await timed("feb", sales(feb, True), REPEAT)
                    # A day of late orders, read from the orders until the job rebuilds it;
                    # its year's buyer counts are not used meanwhile.
                    async with unit_of_work(scope) as uow:
                        await mark_dirty(
                            scope, uow.connection, [datetime(2025, 6, 1, 12, tzinfo=tz)]
                        )
                    t_dirty = await timed("dirty", sales(YEAR, True), REPEAT)

                    async def rebuild() -> Any:
                        return await rebuild_day(scope, date(2025, 6, 1))

                    t_day = await timed("day", rebuild, REPEAT)
                    began = time.perf_counter()
                    periods = await rebuild_periods(scope)
                    t_periods = time.perf_counter() - began
                    rows = {
                        table: (
                            await conn.execute_query_dict(
                                f"SELECT count(*) AS n FROM {table} WHERE brand_id = $1", [brand.id]
                            )
                        )[0]["n"]
                        for table in (
                            "report_sales_day",
                            "report_sales_cube",
                            "report_buyer_count",
                            "report_buyer_day",
                            "report_cohort_day",
                            "report_buyer_dim_day",
                        )
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

                    t_cached = await timed("cached", cached, REPEAT)
                    figures += [
                        Figure("sales overview through the rollups", t_rollup, t_hand, four),
                        Figure("… with YoY, through the rollups", t_yoy, t_hand_yoy, eight),
                        Figure("… with one dirty day read from the orders", t_dirty, t_hand, four),
                        Figure("… from the cache", t_cached, t_hand, four),
                        Figure("15 Feb-14 Nov through the rollups", t_odd, t_hand_odd, four),
                        Figure("1 Feb-14 Nov through the rollups", t_feb, t_hand_feb, four),
                    ]
                if "retention" in PARTS:

                    def retention(params: dict[str, str], rollups: bool) -> Any:
                        async def run() -> Any:
                            return await run_report(
                                scope, "reports.retention", params, use_cache=False, rollups=rollups
                            )

                        return run

                    async def hand_repurchase() -> Any:
                        return await conn.execute_query_dict(HAND_REPURCHASE, [brand.id, *year])

                    async def hand_retention() -> Any:
                        await conn.execute_query_dict(HAND_GAPS, [brand.id, *year])
                        await conn.execute_query_dict(HAND_COHORTS, [brand.id, *year])
                        return await hand_repurchase()

                    raw_retention = (await retention(YEAR, False)()).result
                    got = {f.key: f.value for f in raw_retention.figures}
                    want = (await hand_repurchase())[0]
                    if (got["old_customers"], got["repurchasers"]) != (want["old"], want["again"]):
                        _differs("repurchase", got, want)
                    t_ret = await timed("ret", retention(YEAR, False), REPEAT)
                    t_ret_hand = await timed("ret_hand", hand_retention, REPEAT)
                    figures.append(
                        Figure(
                            "retention (repurchase, gaps, cohorts), raw",
                            t_ret,
                            t_ret_hand,
                            "hand SQL: the same three, 3 queries",
                        )
                    )
                    # Built by this run's rollup part or an earlier run's (BENCH_DATABASE).
                    if await rollups_ready(scope):
                        for params in (YEAR, odd):
                            through = (await retention(params, True)()).result
                            plain = (await retention(params, False)()).result
                            if through != plain:
                                _differs(f"retention {params} through the rollup", through, plain)
                        t_ret_rolled = await timed("ret_rolled", retention(YEAR, True), REPEAT)
                        t_ret_odd = await timed("ret_odd", retention(odd, True), REPEAT)
                        # A day of late orders: read from the orders until rebuilt.
                        june = date(2025, 6, 1)
                        async with unit_of_work(scope) as uow:
                            await mark_dirty(
                                scope, uow.connection, [datetime(2025, 6, 1, 12, tzinfo=tz)]
                            )
                        t_ret_dirty = await timed("ret_dirty", retention(YEAR, True), REPEAT)
                        await rebuild_day(scope, june)
                        figures += [
                            Figure(
                                "retention through the rollups",
                                t_ret_rolled,
                                t_ret_hand,
                                "hand SQL over raw orders, 3 queries",
                            ),
                            Figure(
                                "… with one dirty day read from the orders",
                                t_ret_dirty,
                                t_ret_hand,
                                "hand SQL over raw orders, 3 queries",
                            ),
                            Figure(
                                "retention 15 Feb-14 Nov through the rollups",
                                t_ret_odd,
                                t_ret_hand,
                                "hand SQL over the year's raw orders, 3 queries",
                            ),
                        ]
                if "growth" in PARTS:

                    def growth(params: dict[str, str], rollups: bool) -> Any:
                        async def run() -> Any:
                            return await run_report(
                                scope,
                                "reports.member_growth",
                                params,
                                use_cache=False,
                                rollups=rollups,
                            )

                        return run

                    async def hand_growth() -> Any:
                        totals = await conn.execute_query_dict(HAND_GROWTH, [brand.id, *year])
                        await conn.execute_query_dict(
                            HAND_GROWTH_MONTHS, [brand.id, *year, TIMEZONE]
                        )
                        await conn.execute_query_dict(HAND_GROWTH_BY, [brand.id, *year])
                        return totals[0]

                    raw_growth = (await growth(YEAR, False)()).result
                    got = {f.key: f.value for f in raw_growth.figures}
                    want = await hand_growth()
                    if (got["new_members"], got["converted"], got["members"]) != (
                        want["joined"],
                        want["converted"],
                        want["total"],
                    ):
                        _differs("growth", got, want)
                    t_growth = await timed("growth", growth(YEAR, False), REPEAT)
                    t_growth_hand = await timed("growth_hand", hand_growth, REPEAT)
                    figures.append(
                        Figure(
                            "member growth (figures, months, sources), raw",
                            t_growth,
                            t_growth_hand,
                            "hand SQL: the same, 3 queries",
                        )
                    )
                    # Built by this run's rollup part or an earlier run's (BENCH_DATABASE);
                    # a database kept from before report_join_day gets its join days here.
                    if await rollups_ready(scope):
                        if not await scope.query(JoinDay).exists():
                            began = time.perf_counter()
                            await build_join_days(scope)
                            print(f"join days built in {time.perf_counter() - began:.1f} s")
                        for params in (YEAR, odd):
                            through = (await growth(params, True)()).result
                            plain = (await growth(params, False)()).result
                            if through != plain:
                                _differs(f"growth {params} through the rollup", through, plain)
                        t_growth_rolled = await timed("growth_rolled", growth(YEAR, True), REPEAT)
                        # A signup day: its members read from the member table until rebuilt.
                        async with unit_of_work(scope) as uow:
                            await mark_dirty(
                                scope, uow.connection, [datetime(2025, 6, 1, 12, tzinfo=tz)]
                            )
                        t_growth_dirty = await timed("growth_dirty", growth(YEAR, True), REPEAT)
                        await rebuild_day(scope, date(2025, 6, 1))
                        joins = (
                            await conn.execute_query_dict(
                                "SELECT count(*) AS n FROM report_join_day WHERE brand_id = $1",
                                [brand.id],
                            )
                        )[0]["n"]
                        rows["report_join_day"] = int(joins)
                        figures += [
                            Figure(
                                "member growth through the join-day rollup",
                                t_growth_rolled,
                                t_growth_hand,
                                "hand SQL: the same, 3 queries",
                            ),
                            Figure(
                                "… with one dirty day read from the members",
                                t_growth_dirty,
                                t_growth_hand,
                                "hand SQL: the same, 3 queries",
                            ),
                        ]
                figures += await state_reports(scope, conn, year, t_state)
                result = Report(
                    "reports",
                    {
                        "members": MEMBERS,
                        "orders": ORDERS,
                        "parts": ",".join(sorted(PARTS)),
                        "load_s": round(t_load, 1),
                        "state_load_s": round(t_state, 1),
                        **{f"{table}_rows": int(n) for table, n in rows.items()},
                        "rollup_build_s": round(t_build, 1),
                        "rollup_day_rebuild_s": round(t_day, 4),
                        "rollup_periods_recount_s": round(t_periods, 2),
                    },
                )
                result.table("Reports over one year (PostgreSQL)", figures)
                result.save()


if __name__ == "__main__":
    asyncio.run(main())
