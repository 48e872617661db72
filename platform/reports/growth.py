"""New members by join day, channel and source, those of them who ordered
by the period's end, and the running total: from the join-day rollup
(docs/reports.md, "Daily rollups") with the dirty days read from the
members in the same statement, so it equals what the member table gives."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tessera.reports.api import Buyer, ReportParams, dirty_rows
from tessera.reports.retention import day_bucket

if TYPE_CHECKING:
    from tessera.reports.api import ReportContext


def rollup_ready(context: ReportContext, params: ReportParams) -> bool:
    """The join rollup counts every member: no tier, segment or buyer filter."""
    return context.cube_ready(params) and params.buyer is Buyer.ALL


async def joins(context: ReportContext, params: ReportParams) -> tuple[list[dict[str, Any]], int]:
    """The period's new members and converted ones grouped by series bucket
    (``idx``), join channel and source, as the member query groups them,
    and the members who joined by the period's end; only when
    :func:`rollup_ready`. Days before the period count in the total only."""
    _, end = context.bounds(params)
    q = context.query()
    brand = q(context.brand.id)
    first, last = q(params.start), q(params.end)

    def idx(day: str) -> str:
        return f"CASE WHEN {day} < {first} THEN -1 ELSE {day_bucket(q, params, day)} END"

    rows = await q.rows(
        "SELECT x.idx AS idx, x.channel AS channel, x.source AS source, SUM(x.n) AS joined, "
        "SUM(x.won) AS converted FROM ("
        f"SELECT {idx('r.day')} AS idx, r.channel AS channel, r.source AS source, "
        f"r.members AS n, CASE WHEN r.day >= {first} AND r.first_order_day <= {last} "
        "THEN r.members ELSE 0 END AS won FROM report_join_day r "
        f"WHERE r.brand_id = {brand} AND r.day <= {last} AND NOT EXISTS (SELECT 1 "
        "FROM report_dirty_day d WHERE d.brand_id = r.brand_id AND d.day = r.day) "
        f"UNION ALL SELECT {idx('d.day')}, m.join_channel, m.join_source, 1, "
        f"CASE WHEN d.day >= {first} AND EXISTS (SELECT 1 FROM sales_order o "
        f"WHERE o.brand_id = {brand} AND o.member_id = m.id AND o.occurred_at < {q(end)}) "
        f"THEN 1 ELSE 0 END FROM {dirty_rows(q, 'member', 'joined_at', 'm')} "
        f"WHERE d.brand_id = {brand} AND d.day <= {last}) x "
        "GROUP BY x.idx, x.channel, x.source"
    )
    total = sum(int(r["joined"] or 0) for r in rows)
    return [r for r in rows if int(r["idx"]) >= 0], total
