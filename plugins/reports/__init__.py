"""Built-in report types (docs/reports.md has every definition).

Each aggregates in SQL over the brand's facts, one statement per figure
group, on SQLite and PostgreSQL alike; Tessera runs the same code again over
the comparison period.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, timedelta
from fractions import Fraction
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tessera import (
    Column,
    Figure,
    ReportContext,
    ReportParams,
    ReportResult,
    ReportType,
    Series,
    Table,
    Unit,
    hookimpl,
    ratio,
)

MEMBER_FILTERS = frozenset({"tier", "segment", "buyer"})


def _int(value: Any) -> int:
    return int(value or 0)


class SalesOverview(ReportType):
    key = "reports.sales"
    title = "Sales overview"
    description = (
        "Sales, orders, buyers and units, with their averages, discount depth and "
        "members' share of sales."
    )

    async def run(self, context: ReportContext, params: ReportParams) -> ReportResult:
        # The figures, the series and the two tables are independent
        # statements: run side by side, each on its own pooled connection.
        totals, series, by_store, by_channel = await asyncio.gather(
            self._totals(context, params),
            self._series(context, params),
            self._by(context, params, "store_code", "by_store", "By store"),
            self._by(context, params, "channel", "by_channel", "By channel"),
        )
        figures = sales_figures(
            orders=_int(totals["orders"]),
            buyers=_int(totals["buyers"]),
            sales=_int(totals["sales"]),
            units=_int(totals["units"]),
            paid=_int(totals["paid"]),
            retail=_int(totals["retail"]),
            member_sales=_int(totals["member_sales"]),
        )
        return ReportResult(figures=figures, series=series, tables=[by_store, by_channel])

    async def _totals(self, context: ReportContext, params: ReportParams) -> dict[str, Any]:
        if context.cube_ready(params):
            return await self._cube_totals(context, params)
        q = context.query()
        facts = context.order_facts(q, params)
        return (
            await q.rows(
                "SELECT SUM(o.orders) AS orders, COUNT(DISTINCT o.member_id) AS buyers, "
                "SUM(o.sales) AS sales, SUM(o.units) AS units, "
                "SUM(o.paid) AS paid, SUM(o.retail) AS retail, "
                "SUM(CASE WHEN m.card_number IS NOT NULL THEN o.sales ELSE 0 END) "
                f"AS member_sales FROM {facts} o JOIN member m ON m.id = o.member_id "
                f"WHERE 1 = 1{context.order_filter(q, params)}"
            )
        )[0]

    async def _cube_totals(self, context: ReportContext, params: ReportParams) -> dict[str, Any]:
        """The sums from the sales cube; buyers from the period's count when
        the period is one, else from the buyer rollup when no filter is set,
        else counted from the member rows."""
        q = context.query()
        sums = context.order_sums(q, params)
        totals = (
            await q.rows(
                "SELECT SUM(o.orders) AS orders, SUM(o.sales) AS sales, SUM(o.units) AS units, "
                "SUM(o.paid) AS paid, SUM(o.retail) AS retail, "
                "SUM(CASE WHEN o.carded = 1 THEN o.sales ELSE 0 END) AS member_sales "
                f"FROM {sums} o WHERE 1 = 1{context.sums_filter(q, params)}"
            )
        )[0]
        counted = await context.period_buyers(params, [(params.start, params.end)])
        summed = await context.rolled_up_buyers(params) if counted is None else None
        # One store's or one channel's buyers: that key of its table's count.
        by = "store_code" if params.store is not None else "channel"
        keyed = (
            await context.store_channel_buyers(params, by)
            if counted is None
            and summed is None
            and (params.store is not None or params.channel is not None)
            else None
        )
        if counted is not None:
            totals["buyers"] = counted[0].get("", 0)
        elif summed is not None:
            totals["buyers"] = summed[0]
        elif keyed is not None:
            totals["buyers"] = sum(keyed[0].values())
        else:
            q2 = context.query()
            facts = context.order_facts(q2, params)
            totals["buyers"] = (
                await q2.rows(
                    f"SELECT COUNT(DISTINCT o.member_id) AS n FROM {facts} o "
                    f"WHERE 1 = 1{context.order_filter(q2, params)}"
                )
            )[0]["n"]
        return totals

    async def _series(self, context: ReportContext, params: ReportParams) -> list[Series]:
        cut = context.buckets(params)
        counted = None
        if context.cube_ready(params):
            q = context.query()
            sums = context.order_sums(q, params)
            idx = context.bucket_index(q, params, "o.at")
            rows = await q.rows(
                f"SELECT {idx} AS idx, SUM(o.orders) AS orders, SUM(o.sales) AS sales "
                f"FROM {sums} o WHERE 1 = 1{context.sums_filter(q, params)} GROUP BY 1"
            )
            periods = [(b.first, b.after - timedelta(days=1)) for b in cut]
            counted = await context.period_buyers(params, periods)
            if counted is None:
                summed = await context.rolled_up_buyers(params, series=True)
                if summed is not None:
                    counted = [{"": n} for n in summed]
            if counted is None and (params.store is not None or params.channel is not None):
                by = "store_code" if params.store is not None else "channel"
                keyed = await context.store_channel_buyers(params, by, series=True)
                if keyed is not None:
                    counted = [{"": sum(k.values())} for k in keyed]
        if counted is None:
            q = context.query()
            facts = context.order_facts(q, params)
            idx = context.bucket_index(q, params, "o.at")
            sums_of = (
                ""
                if context.cube_ready(params)
                else ", SUM(o.orders) AS orders, SUM(o.sales) AS sales"
            )
            buyer_rows = await q.rows(
                f"SELECT {idx} AS idx, COUNT(DISTINCT o.member_id) AS buyers{sums_of} "
                f"FROM {facts} o WHERE 1 = 1{context.order_filter(q, params)} GROUP BY 1"
            )
            if not context.cube_ready(params):
                rows = buyer_rows
            counted = [{} for _ in cut]
            for r in buyer_rows:
                counted[int(r["idx"])] = {"": _int(r["buyers"])}
        by_idx = {int(r["idx"]): r for r in rows}
        labels = [b.label for b in cut]

        def values(name: str) -> list[int | Fraction | None]:
            return [_int(by_idx.get(i, {}).get(name)) for i in range(len(cut))]

        return [
            Series("sales", "Sales", Unit.MONEY, labels, values("sales"), chart="bar"),
            Series("orders", "Orders", Unit.COUNT, labels, values("orders")),
            Series(
                "buyers",
                "Buyers",
                Unit.COUNT,
                labels,
                [c.get("", 0) for c in counted],
            ),
        ]

    async def _by(
        self, context: ReportContext, params: ReportParams, column: str, key: str, label: str
    ) -> Table:
        counted = None
        if context.cube_ready(params):
            q = context.query()
            sums = context.order_sums(q, params)
            rows = await q.rows(
                f"SELECT o.{column} AS k, SUM(o.orders) AS orders, SUM(o.sales) AS sales "
                f"FROM {sums} o WHERE 1 = 1{context.sums_filter(q, params)} "
                f"GROUP BY o.{column} ORDER BY k"
            )
            found = await context.period_buyers(params, [(params.start, params.end)], by=column)
            counted = found[0] if found is not None else None
            if counted is None:
                keyed = await context.store_channel_buyers(params, column)
                counted = keyed[0] if keyed is not None else None
        if counted is None:
            q = context.query()
            facts = context.order_facts(q, params)
            sums_of = (
                ""
                if context.cube_ready(params)
                else ", SUM(o.orders) AS orders, SUM(o.sales) AS sales"
            )
            buyer_rows = await q.rows(
                f"SELECT o.{column} AS k, COUNT(DISTINCT o.member_id) AS buyers{sums_of} "
                f"FROM {facts} o WHERE 1 = 1{context.order_filter(q, params)} "
                f"GROUP BY o.{column} ORDER BY k"
            )
            if not context.cube_ready(params):
                rows = buyer_rows
            counted = {str(r["k"]): _int(r["buyers"]) for r in buyer_rows}
        total = sum(_int(r["sales"]) for r in rows)
        return Table(
            key,
            label,
            [
                Column("key", label.removeprefix("By ").capitalize(), Unit.TEXT),
                Column("sales", "Sales", Unit.MONEY),
                Column("orders", "Orders", Unit.COUNT),
                Column("buyers", "Buyers", Unit.COUNT),
                Column("share", "Share of sales", Unit.RATIO),
            ],
            [
                [
                    r["k"],
                    _int(r["sales"]),
                    _int(r["orders"]),
                    counted.get(str(r["k"]), 0),
                    ratio(_int(r["sales"]), total),
                ]
                for r in rows
            ],
        )


def sales_figures(
    *, orders: int, buyers: int, sales: int, units: int, paid: int, retail: int, member_sales: int
) -> list[Figure]:
    """The sales overview's figures from its sums; each identity in
    docs/reports.md holds exactly (the quotients are fractions)."""
    return [
        Figure("sales", "Sales", Unit.MONEY, sales, "Σ (amount paid − refunded) of the orders"),
        Figure("orders", "Orders", Unit.COUNT, orders, "orders placed in the period"),
        Figure("buyers", "Buyers", Unit.COUNT, buyers, "distinct members who placed them"),
        Figure("units", "Units", Unit.ITEMS, units, "Σ (units − refunded units)"),
        Figure(
            "spend_per_buyer",
            "Spend per buyer",
            Unit.MONEY,
            ratio(sales, buyers),
            "sales / buyers, so sales = spend per buyer × buyers",
        ),
        Figure(
            "aspt", "ASPT (AOV)", Unit.MONEY, ratio(sales, orders), "sales / orders = ASPU × UPT"
        ),
        Figure("aspu", "ASPU", Unit.MONEY, ratio(sales, units), "sales / units"),
        Figure("upt", "UPT", Unit.ITEMS, ratio(units, orders), "units / orders"),
        Figure(
            "discount_depth",
            "Discount depth",
            Unit.RATIO,
            1 - ratio(paid, retail) if retail else None,  # type: ignore[operator]
            "1 − Σ amount paid / Σ retail amount (before refunds)",
        ),
        Figure(
            "member_share",
            "Member share of sales",
            Unit.RATIO,
            ratio(member_sales, sales),
            "sales to members holding a card / sales",
        ),
    ]


class MemberGrowth(ReportType):
    key = "reports.member_growth"
    title = "Member growth"
    description = "New members by join channel and source, the running total, first purchases."
    filters = MEMBER_FILTERS

    async def run(self, context: ReportContext, params: ReportParams) -> ReportResult:
        rolled_up = await context.rolled_up_joins(params)
        if rolled_up is not None:
            groups, total = rolled_up
        else:
            groups, total = await self._of_members(context, params)
        joined = sum(_int(r["joined"]) for r in groups)
        converted = sum(_int(r["converted"]) for r in groups)
        figures = [
            Figure("new_members", "New members", Unit.COUNT, joined, "joined in the period"),
            Figure("members", "Members", Unit.COUNT, total, "joined by the period's end"),
            Figure(
                "converted",
                "Converted",
                Unit.COUNT,
                converted,
                "new members with an order before the period's end",
            ),
            Figure(
                "conversion",
                "Conversion to first purchase",
                Unit.RATIO,
                ratio(converted, joined),
                "converted / new members",
            ),
        ]
        cut = context.buckets(params)
        joined_series = [0] * len(cut)
        by_source: dict[tuple[str, str], list[int]] = {}
        for r in groups:
            joined_series[int(r["idx"])] += _int(r["joined"])
            sums = by_source.setdefault((r["channel"], r["source"]), [0, 0])
            sums[0] += _int(r["joined"])
            sums[1] += _int(r["converted"])
        before = total - joined
        running = []
        for value in joined_series:
            before += value
            running.append(before)
        labels = [b.label for b in cut]
        series = [
            Series("new_members", "New members", Unit.COUNT, labels, joined_series, chart="bar"),
            Series("members", "Members (cumulative)", Unit.COUNT, labels, running),
        ]
        table = Table(
            "by_source",
            "By join channel and source",
            [
                Column("channel", "Join channel", Unit.TEXT),
                Column("source", "Join source", Unit.TEXT),
                Column("joined", "New members", Unit.COUNT),
                Column("converted", "Converted", Unit.COUNT),
                Column("conversion", "Conversion", Unit.RATIO),
            ],
            [
                [channel, source, n, won, ratio(won, n)]
                for (channel, source), (n, won) in sorted(by_source.items())
            ],
        )
        return ReportResult(figures=figures, series=series, tables=[table])

    async def _of_members(
        self, context: ReportContext, params: ReportParams
    ) -> tuple[list[dict[str, Any]], int]:
        start, end = context.bounds(params)
        # The new members once, grouped by bucket and source: the figures,
        # the series and the table all add up from these rows. Whether a new
        # member has ordered is told by grouping their row with the brand's
        # orders by member, not by probing the orders once per member: on
        # tables just filled, whose statistics do not know the brand yet,
        # PostgreSQL planned that probe on the (brand, time) index, reading
        # every order of the brand for each member (two minutes for CDNOW's
        # 23,570 customers); the grouping is one pass whatever the plan.
        q = context.query()
        brand = q(context.brand.id)
        idx = context.bucket_index(q, params, "m.joined_at")
        groups = await q.rows(
            "SELECT w.idx AS idx, w.channel AS channel, w.source AS source, "
            "COUNT(*) AS joined, SUM(w.won) AS converted FROM ("
            "SELECT MAX(u.idx) AS idx, MAX(u.channel) AS channel, MAX(u.source) AS source, "
            "MAX(u.won) AS won FROM ("
            f"SELECT m.id AS member_id, {idx} AS idx, m.join_channel AS channel, "
            "m.join_source AS source, 1 AS joined, 0 AS won "
            f"FROM member m WHERE m.brand_id = {brand} "
            f"AND m.joined_at >= {q(start)} AND m.joined_at < {q(end)}"
            f"{context.member_filter(q, params, 'm.id')} UNION ALL "
            "SELECT o.member_id, NULL, NULL, NULL, 0, 1 FROM sales_order o "
            f"WHERE o.brand_id = {brand} AND o.member_id IS NOT NULL "
            f"AND o.occurred_at < {q(end)}"
            ") u GROUP BY u.member_id HAVING MAX(u.joined) = 1"
            ") w GROUP BY w.idx, w.channel, w.source"
        )
        q2 = context.query()
        total = _int(
            (
                await q2.rows(
                    f"SELECT COUNT(*) AS n FROM member c WHERE c.brand_id = "
                    f"{q2(context.brand.id)} AND c.joined_at < {q2(end)}"
                    f"{context.member_filter(q2, params, 'c.id')}"
                )
            )[0]["n"]
        )
        return groups, total


class Retention(ReportType):
    key = "reports.retention"
    title = "Retention and repurchase"
    description = (
        "Monthly cohorts of first purchases, repurchase of old customers, time between orders."
    )
    filters = MEMBER_FILTERS
    max_span_days = 1096

    async def run(self, context: ReportContext, params: ReportParams) -> ReportResult:
        rep, cohorts = await asyncio.gather(context.repurchase(params), context.cohorts(params))
        figures = [
            Figure(
                "old_customers", "Old customers", Unit.COUNT, rep.old, "ordered before the period"
            ),
            Figure(
                "repurchasers",
                "Repurchasers",
                Unit.COUNT,
                rep.again,
                "of them, ordered again in it",
            ),
            Figure(
                "repurchase_rate",
                "Repurchase rate",
                Unit.RATIO,
                ratio(rep.again, rep.old),
                "repurchasers / old customers",
            ),
            Figure(
                "days_between_orders",
                "Days between orders",
                Unit.DAYS,
                ratio(rep.gap_ms, rep.gaps * 86_400_000),
                "mean time from a member's previous order to each order placed in the period "
                "(each gap in whole milliseconds)",
            ),
        ]
        last_month = params.end.year * 12 + params.end.month - 1
        width = max((last_month - c for c in cohorts), default=-1) + 1
        table = Table(
            "cohorts",
            "Cohorts by month of first purchase (buyers in each month since)",
            [Column("cohort", "Cohort", Unit.TEXT)]
            + [Column(f"m{k}", f"+{k}", Unit.COUNT) for k in range(width)],
            [
                [f"{c // 12:04d}-{c % 12 + 1:02d}"]
                + [cohort.get(k, 0) if c + k <= last_month else None for k in range(width)]
                for c, cohort in sorted(cohorts.items())
            ],
        )
        return ReportResult(figures=figures, tables=[table])


class LifecycleReport(ReportType):
    key = "reports.lifecycle"
    title = "Lifecycle and RFM"
    description = (
        "Members by lifecycle stage and by RFM score, as last computed; flows between "
        "stages over the period."
    )
    filters = MEMBER_FILTERS

    async def run(self, context: ReportContext, params: ReportParams) -> ReportResult:
        q = context.query()
        mf = context.member_filter(q, params, "l.member_id")
        q2 = context.query()
        stages, scores, flows = await asyncio.gather(
            q.rows(
                "SELECT l.stage AS stage, COUNT(*) AS n FROM member_lifecycle l "
                f"WHERE l.brand_id = {q(context.brand.id)}{mf} GROUP BY l.stage ORDER BY l.stage"
            ),
            q2.rows(
                "SELECT l.recency_score AS r, l.frequency_score AS f, l.monetary_score AS m, "
                "COUNT(*) AS n "
                f"FROM member_lifecycle l WHERE l.brand_id = {q2(context.brand.id)}"
                f"{context.member_filter(q2, params, 'l.member_id')} "
                "GROUP BY l.recency_score, l.frequency_score, l.monetary_score ORDER BY 1, 2, 3"
            ),
            context.stage_flows(params),
        )
        total = sum(_int(r["n"]) for r in stages)
        return ReportResult(
            figures=[Figure("members", "Members scored", Unit.COUNT, total, "")],
            tables=[
                _members_and_share(
                    "stages", "By lifecycle stage", Column("stage", "Stage", Unit.TEXT), stages
                ),
                Table(
                    "rfm",
                    "By RFM score",
                    [
                        Column("r", "R", Unit.TEXT),
                        Column("f", "F", Unit.TEXT),
                        Column("m", "M", Unit.TEXT),
                        Column("members", "Members", Unit.COUNT),
                    ],
                    [[_text(r["r"]), _text(r["f"]), _text(r["m"]), _int(r["n"])] for r in scores],
                ),
                Table(
                    "flows",
                    "Stage flows over the period (stage at the start → at the end)",
                    [
                        Column("from", "From", Unit.TEXT),
                        Column("to", "To", Unit.TEXT),
                        Column("members", "Members", Unit.COUNT),
                    ],
                    [[a, b, n] for a, b, n in flows],
                ),
            ],
            notes=[
                "Stages and RFM scores are the current ones (the nightly lifecycle job); the "
                "flows compute each member's stage at the period's start and end from the "
                "orders placed until then (for an ended calendar month or year without a "
                "filter, stored by a job and read while nothing they depend on changed)."
            ],
        )


def _members_and_share(key: str, title: str, by: Column, rows: list[dict[str, Any]]) -> Table:
    """Members per group (each row's first column and ``n``) with the
    group's share of them all."""
    total = sum(_int(r["n"]) for r in rows)
    return Table(
        key,
        title,
        [by, Column("members", "Members", Unit.COUNT), Column("share", "Share", Unit.RATIO)],
        [[next(iter(r.values())), _int(r["n"]), ratio(_int(r["n"]), total)] for r in rows],
    )


def _text(value: Any) -> str:
    return "" if value is None else str(value)


class TierReport(ReportType):
    key = "reports.tiers"
    title = "Tiers"
    description = "Members per tier now; upgrades and downgrades in the period."
    filters = frozenset({"segment", "buyer"})

    async def run(self, context: ReportContext, params: ReportParams) -> ReportResult:
        q = context.query()
        brand = q(context.brand.id)
        dist = await q.rows(
            "SELECT td.code AS code, td.name AS name, td.rank AS rank, COUNT(ts.member_id) AS n "
            f"FROM tier_definition td LEFT JOIN member_tier_state ts ON ts.tier_id = td.id "
            f"AND ts.brand_id = {brand}{context.member_filter(q, params, 'ts.member_id')} "
            f"WHERE td.brand_id = {brand} GROUP BY td.code, td.name, td.rank ORDER BY td.rank"
        )
        start, end = context.bounds(params)
        q2 = context.query()
        moves = await q2.rows(
            "SELECT COALESCE(f.code, '') AS from_code, COALESCE(t.code, '') AS to_code, "
            "h.reason AS reason, COUNT(*) AS n, "
            "SUM(CASE WHEN COALESCE(t.rank, -1) > COALESCE(f.rank, -1) THEN 1 ELSE 0 END) AS up "
            "FROM tier_history h LEFT JOIN tier_definition f ON f.id = h.from_tier_id "
            "LEFT JOIN tier_definition t ON t.id = h.to_tier_id "
            f"WHERE h.brand_id = {q2(context.brand.id)} AND h.at >= {q2(start)} AND h.at < "
            f"{q2(end)}{context.member_filter(q2, params, 'h.member_id')} "
            "GROUP BY COALESCE(f.code, ''), COALESCE(t.code, ''), h.reason ORDER BY 1, 2, 3"
        )
        total = sum(_int(r["n"]) for r in dist)
        ups = sum(_int(r["up"]) for r in moves)
        downs = sum(_int(r["n"]) - _int(r["up"]) for r in moves)
        return ReportResult(
            figures=[
                Figure("members_in_tiers", "Members in a tier", Unit.COUNT, total, ""),
                Figure("upgrades", "Upgrades", Unit.COUNT, ups, "moves to a higher rank"),
                Figure(
                    "downgrades", "Downgrades", Unit.COUNT, downs, "moves to a lower rank or none"
                ),
            ],
            tables=[
                _members_and_share(
                    "distribution", "Members per tier", Column("tier", "Tier", Unit.TEXT), dist
                ),
                Table(
                    "moves",
                    "Tier changes in the period",
                    [
                        Column("from", "From", Unit.TEXT),
                        Column("to", "To", Unit.TEXT),
                        Column("reason", "Reason", Unit.TEXT),
                        Column("members", "Changes", Unit.COUNT),
                    ],
                    [[r["from_code"], r["to_code"], r["reason"], _int(r["n"])] for r in moves],
                ),
            ],
        )


class LoyaltyLiability(ReportType):
    key = "reports.liability"
    title = "Loyalty liability"
    description = "Points and stored value outstanding, points flows, coupon redemption."
    filters = MEMBER_FILTERS

    async def run(self, context: ReportContext, params: ReportParams) -> ReportResult:
        start, end = context.bounds(params)
        q = context.query()
        brand = q(context.brand.id)
        mf = context.member_filter(q, params, "a.member_id")
        balances = {
            r["kind"]: _int(r["total"])
            for r in await q.rows(
                "SELECT a.kind AS kind, SUM(a.balance) AS total FROM asset_account a "
                f"WHERE a.brand_id = {brand}{mf} GROUP BY a.kind"
            )
        }
        q2 = context.query()
        flows = {
            r["entry_type"]: _int(r["total"])
            for r in await q2.rows(
                "SELECT e.entry_type AS entry_type, SUM(e.amount) AS total FROM ledger_entry e "
                f"WHERE e.brand_id = {q2(context.brand.id)} AND e.kind = 'points' "
                f"AND e.occurred_at >= {q2(start)} AND e.occurred_at < {q2(end)}"
                f"{context.member_filter(q2, params, 'e.member_id')} GROUP BY e.entry_type"
            )
        }
        q3 = context.query()
        now = context.now
        d30, d90 = q3(now + timedelta(days=30)), q3(now + timedelta(days=90))
        lot_brand, lot_now = q3(context.brand.id), q3(now)
        lot_filter = context.member_filter(q3, params, "a.member_id")
        # A lot knows its account, not its member: the account is joined only
        # for a member filter (at 1M members the join is a third of the time).
        accounts = " JOIN asset_account a ON a.id = l.account_id" if lot_filter else ""
        expiring = (
            await q3.rows(
                f"SELECT SUM(CASE WHEN l.expires_at < {d30} THEN l.remaining ELSE 0 END) AS d30, "
                f"SUM(CASE WHEN l.expires_at < {d90} THEN l.remaining ELSE 0 END) AS d90 "
                f"FROM points_lot l{accounts} WHERE l.brand_id = {lot_brand} "
                "AND l.status = 'available' AND l.expires_at IS NOT NULL "
                f"AND l.expires_at >= {lot_now}{lot_filter}"
            )
        )[0]
        q4 = context.query()
        coupons = (
            await q4.rows(
                "SELECT COUNT(*) AS issued, SUM(CASE WHEN c.redeemed_at IS NOT NULL THEN 1 "
                "ELSE 0 END) AS redeemed FROM coupon c "
                f"WHERE c.brand_id = {q4(context.brand.id)} AND c.issued_at >= {q4(start)} "
                f"AND c.issued_at < {q4(end)}{context.member_filter(q4, params, 'c.member_id')}"
            )
        )[0]
        issued = _int(coupons["issued"])
        redeemed = _int(coupons["redeemed"])
        earned = flows.get("earn", 0) + flows.get("release", 0)
        return ReportResult(
            figures=[
                Figure(
                    "points_outstanding",
                    "Points outstanding",
                    Unit.POINTS,
                    balances.get("points", 0),
                    "Σ points balances now",
                ),
                Figure(
                    "points_issued",
                    "Points issued",
                    Unit.POINTS,
                    earned,
                    "earned (and released from pending) in the period",
                ),
                Figure(
                    "points_redeemed",
                    "Points redeemed",
                    Unit.POINTS,
                    -flows.get("redeem", 0),
                    "spent in the period",
                ),
                Figure(
                    "points_expired",
                    "Points expired",
                    Unit.POINTS,
                    -flows.get("expire", 0),
                    "expired in the period",
                ),
                Figure(
                    "points_expiring_30",
                    "Expiring in 30 days",
                    Unit.POINTS,
                    _int(expiring["d30"]),
                    "available points whose lot expires within 30 days",
                ),
                Figure(
                    "points_expiring_90",
                    "Expiring in 90 days",
                    Unit.POINTS,
                    _int(expiring["d90"]),
                    "… within 90 days",
                ),
                Figure(
                    "stored_value_outstanding",
                    "Stored value outstanding",
                    Unit.MONEY,
                    balances.get("stored_value", 0),
                    "Σ stored-value balances now",
                ),
                Figure(
                    "coupons_issued", "Coupons issued", Unit.COUNT, issued, "issued in the period"
                ),
                Figure(
                    "coupons_redeemed",
                    "Coupons redeemed",
                    Unit.COUNT,
                    redeemed,
                    "of those, redeemed by now",
                ),
                Figure(
                    "coupon_redemption_rate",
                    "Coupon redemption rate",
                    Unit.RATIO,
                    ratio(redeemed, issued),
                    "redeemed / issued",
                ),
            ],
        )


class CampaignEffectConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gross_margin: float = Field(
        1.0,
        ge=0,
        le=1,
        description="Gross margin on campaign sales, 0 to 1: profit = incremental revenue × "
        "margin. 1 counts the whole incremental revenue as profit (the revenue ROI). Also the "
        "default of campaignResults and the campaign results page.",
    )


class CampaignEffect(ReportType):
    key = "reports.campaign_effect"
    title = "Campaign effect"
    description = (
        "Campaigns launched in the period: conversion and revenue within their attribution "
        "window against the holdout, uplift, cost, profit and ROI, and the conversion curve "
        "after the send."
    )
    Config = CampaignEffectConfig
    # A campaign's audience is frozen at launch: the order and member
    # filters would compare parts of the two groups the draw did not balance.
    filters = frozenset()

    async def run(self, context: ReportContext, params: ReportParams) -> ReportResult:
        margin = Fraction(str(self.config.gross_margin))  # type: ignore[attr-defined]
        results = await context.campaign_results(params, margin)
        compared = [r for r in results if r.uplift.incremental_revenue is not None]
        sent = sum(r.messages_sent for r in results)
        treated = sum(r.treated.members for r in results)
        converters = sum(r.treated.converters for r in results)
        held = sum(r.holdout.members for r in results)
        held_converters = sum(r.holdout.converters for r in results)
        compared_treated = sum(r.treated.members for r in compared)
        incremental = sum((r.uplift.incremental_converters for r in compared), Fraction(0))
        incremental_revenue = sum((r.uplift.incremental_revenue for r in compared), Fraction(0))
        cost = sum((r.cost for r in results), Fraction(0))
        compared_cost = sum((r.cost for r in compared), Fraction(0))
        profit = incremental_revenue * margin
        figures = [
            Figure("campaigns", "Campaigns", Unit.COUNT, len(results), "launched in the period"),
            Figure("messages_sent", "Messages sent", Unit.COUNT, sent, "taken by the provider"),
            Figure(
                "treated", "Members reached", Unit.COUNT, treated, "recipients sent the message"
            ),
            Figure(
                "conversion",
                "Conversion",
                Unit.RATIO,
                ratio(converters, treated),
                "members reached with an order within the window / members reached",
            ),
            Figure(
                "holdout_conversion",
                "Holdout conversion",
                Unit.RATIO,
                ratio(held_converters, held),
                "holdout members with an order within the window / holdout members",
            ),
            Figure(
                "uplift",
                "Uplift",
                Unit.RATIO,
                ratio(incremental, compared_treated),
                "Σ incremental conversions / Σ members reached, over campaigns with a holdout "
                "(each campaign's treated − holdout rate, weighted by its members reached)",
            ),
            Figure(
                "revenue",
                "Revenue",
                Unit.MONEY,
                sum(r.treated.revenue for r in results),
                "Σ (paid − refunded) of members reached, within the window",
            ),
            Figure(
                "incremental_revenue",
                "Incremental revenue",
                Unit.MONEY,
                incremental_revenue if compared else None,
                "Σ (treated revenue − holdout revenue per member × members reached)",
            ),
            Figure("cost", "Cost", Unit.MONEY, cost, "Σ messages sent × cost per message"),
            Figure(
                "profit",
                "Profit",
                Unit.MONEY,
                profit if compared else None,
                "incremental revenue × gross margin",
            ),
            Figure(
                "roi",
                "ROI",
                Unit.RATIO,
                ratio(profit, compared_cost) if compared else None,
                "profit / cost, over campaigns with a holdout",
            ),
        ]
        width = max((r.days for r in results), default=0)
        labels = [f"D{d}" for d in range(width)]

        def pooled(group: str) -> list[int | Fraction | None]:
            converted = [0] * width
            members = 0
            for r in results:
                points = r.curve_treated if group == "treated" else r.curve_holdout
                size = r.treated.members if group == "treated" else r.holdout.members
                members += size
                for d in range(width):
                    share = points[min(d, len(points) - 1)] if points else None
                    converted[d] += int((share or 0) * size)
            return [ratio(c, members) for c in converted]

        series = [
            Series(
                "curve_treated",
                "Conversion after the send (members reached)",
                Unit.RATIO,
                labels,
                pooled("treated"),
            ),
            Series(
                "curve_holdout",
                "Conversion after the send (holdout)",
                Unit.RATIO,
                labels,
                pooled("holdout"),
            ),
        ]
        table = Table(
            "campaigns",
            "Campaigns",
            [
                Column("campaign", "Campaign", Unit.TEXT),
                Column("launched", "Launched", Unit.TEXT),
                Column("days", "Window (days)", Unit.DAYS),
                Column("treated", "Members reached", Unit.COUNT),
                Column("conversion", "Conversion", Unit.RATIO),
                Column("holdout", "Holdout", Unit.COUNT),
                Column("holdout_conversion", "Holdout conversion", Unit.RATIO),
                Column("uplift", "Uplift", Unit.RATIO),
                Column("p_value", "p-value", Unit.RATIO),
                Column("revenue", "Revenue", Unit.MONEY),
                Column("incremental_revenue", "Incremental revenue", Unit.MONEY),
                Column("cost", "Cost", Unit.MONEY),
                Column("roi", "ROI", Unit.RATIO),
            ],
            [
                [
                    r.name,
                    r.launched_at.astimezone(UTC).isoformat(timespec="minutes")
                    if r.launched_at
                    else "",
                    r.days,
                    r.treated.members,
                    r.treated.conversion,
                    r.holdout.members,
                    r.holdout.conversion,
                    r.uplift.absolute,
                    None if r.uplift.p_value is None else Fraction(str(round(r.uplift.p_value, 6))),
                    r.treated.revenue,
                    r.uplift.incremental_revenue,
                    r.cost,
                    r.roi,
                ]
                for r in results
            ],
        )
        return ReportResult(
            figures=figures,
            series=series,
            tables=[table],
            notes=[
                "Each campaign counts the orders placed within its attribution window after "
                "each member's send; holdout members' windows start when their batch started "
                "sending. Revenue is net of refunds known now."
            ],
        )


ALL: Sequence[type[ReportType]] = (
    SalesOverview,
    MemberGrowth,
    Retention,
    LifecycleReport,
    TierReport,
    LoyaltyLiability,
    CampaignEffect,
)


@hookimpl
def tessera_register_report_types() -> list[type[ReportType]]:
    return list(ALL)
