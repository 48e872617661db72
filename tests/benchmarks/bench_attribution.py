"""Campaign attribution on PostgreSQL: ``campaign_results`` for one campaign
of ``BENCH_ATTRIBUTION_MEMBERS`` recipients (default 100,000; 10% holdout,
ten batches an hour apart) over a brand with ``BENCH_ATTRIBUTION_ORDERS``
orders in the two months around the send (default 1,000,000), beside one
hand-written statement computing the same groups (members, converters,
orders, revenue) in the same run. Ours also computes the daily curve and
the messages sent (a second statement). Another brand has orders on the
same days, so brand scoping is real. The figures are compared; a difference
is printed loudly (a bug).

Run by ``make bench BENCHES=attribution``; prints, asserts nothing.
``BENCH_ATTRIBUTION_REPEAT`` timed repetitions (default 5). Figures go to
``var/bench/attribution.json``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tortoise import connections

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Figure, Report, bench_database, bench_runtime, median_seconds

from tessera.campaigns.attribution import campaign_results
from tessera.campaigns.models import Campaign, CampaignStatus
from tessera.channels.models import Channel, MessageTemplate
from tessera.scope import BrandScope
from tessera.tenancy.service import create_brand, create_tenant

MEMBERS = int(os.environ.get("BENCH_ATTRIBUTION_MEMBERS", "100000"))
ORDERS = int(os.environ.get("BENCH_ATTRIBUTION_ORDERS", "1000000"))
REPEAT = int(os.environ.get("BENCH_ATTRIBUTION_REPEAT", "5"))
LAUNCH = datetime(2025, 3, 1, 2, tzinfo=UTC)

H = "abs(hashint8extended(g.i, {}))"
MEMBERS_SQL = """
INSERT INTO member (brand_id, external_id, card_number, status, name, gender, province, city,
    education, occupation, income_range, interests, join_channel, join_source, attributes,
    joined_at, created_at, updated_at)
SELECT $1::int, 'm' || g.i, 'C' || $1::int || '-' || g.i, 'active', '', 'unknown', '', '', '',
    '', '', '[]'::jsonb, 'app', '', '{}'::jsonb, timestamptz '2024-01-01', now(), now()
FROM generate_series(1, $2::bigint) AS g(i)
"""
ORDERS_SQL = f"""
INSERT INTO sales_order (brand_id, member_id, external_id, occurred_at, amount_paid,
    retail_amount, discount, coupon_codes, units, refunded_amount, refunded_units, fingerprint,
    created_at)
SELECT $1::int, m.first_id + ({H.format(1)} % $3::bigint), 'o' || g.i,
    timestamptz '2025-02-01' + make_interval(secs => ({H.format(2)} % (59 * 86400))::int),
    p.paid, p.paid, 0, '[]'::jsonb, 1, CASE WHEN {H.format(3)} % 40 = 0 THEN p.paid / 2 ELSE 0 END,
    0, 'bench', now()
FROM generate_series(1, $2::bigint) AS g(i)
CROSS JOIN (SELECT min(id) AS first_id FROM member WHERE brand_id = $1::int) AS m
CROSS JOIN LATERAL (SELECT 1000 + ({H.format(4)} % 50000) AS paid) AS p
"""
# Members whose id hashes to 0 mod 10 are the holdout; batch = id mod 10,
# an hour apart; within a batch the sends are spread over its minutes.
MESSAGES_SQL = """
INSERT INTO message (brand_id, member_id, channel, purpose, template_id, source, variables,
    idempotency_key, status, reason, provider, attempts, send_after, created_at, sent_at,
    updated_at)
SELECT $1::int, m.id, 'sms', 'marketing', $2::bigint, 'campaign:' || $3::bigint, '{}'::jsonb,
    'campaign:' || $3::bigint, 'sent', '', 'bench', 1, $4::timestamptz, now(),
    $4::timestamptz + make_interval(hours => (m.id % 10)::int, secs => (m.id % 3000)::int), now()
FROM member m WHERE m.brand_id = $1::int AND abs(hashint8extended(m.id, 7)) % 10 <> 0
"""
RECIPIENTS_SQL = """
INSERT INTO campaign_recipient (brand_id, campaign_id, member_id, holdout, batch, message_id,
    created_at)
SELECT $1::int, $2::bigint, m.id, abs(hashint8extended(m.id, 7)) % 10 = 0, (m.id % 10)::int,
    msg.id, now()
FROM member m LEFT JOIN message msg ON msg.brand_id = $1::int AND msg.member_id = m.id
    AND msg.idempotency_key = 'campaign:' || $2::bigint
WHERE m.brand_id = $1::int
"""
HAND = """
WITH b AS (
    SELECT r.batch, min(m.sent_at) AS at FROM campaign_recipient r
    JOIN message m ON m.id = r.message_id
    WHERE r.brand_id = $1 AND r.campaign_id = $2 GROUP BY r.batch),
x AS (
    SELECT r.member_id,
        CASE WHEN r.holdout THEN 'holdout' WHEN m.sent_at IS NOT NULL THEN 'treated'
            ELSE 'unreached' END AS grp,
        CASE WHEN r.holdout THEN coalesce(b.at, $3) ELSE coalesce(m.sent_at, b.at, $3) END AS t0
    FROM campaign_recipient r LEFT JOIN message m ON m.id = r.message_id
    LEFT JOIN b ON b.batch = r.batch
    WHERE r.brand_id = $1 AND r.campaign_id = $2),
p AS (
    SELECT x.grp, x.member_id, count(o.id) AS n,
        coalesce(sum(o.amount_paid - o.refunded_amount), 0) AS revenue
    FROM x LEFT JOIN sales_order o ON o.brand_id = $1 AND o.member_id = x.member_id
        AND o.occurred_at >= x.t0 AND o.occurred_at < x.t0 + interval '7 days'
    GROUP BY x.grp, x.member_id)
SELECT grp, count(*) AS members, count(*) FILTER (WHERE n > 0) AS converters,
    sum(n) AS orders, sum(revenue) AS revenue
FROM p GROUP BY grp
"""


async def main() -> None:
    async with bench_database() as url:
        with tempfile.TemporaryDirectory() as var:
            async with bench_runtime(url, Path(var)):
                await create_tenant("bench", "Bench")
                brand = await create_brand("bench", "bench", "Bench", timezone="Asia/Shanghai")
                other = await create_brand("bench", "other", "Other", timezone="Asia/Shanghai")
                conn: Any = connections.get("default")
                for b, members, orders in ((brand, MEMBERS, ORDERS), (other, 1000, ORDERS // 20)):
                    await conn.execute_query(MEMBERS_SQL, [b.id, members])
                    await conn.execute_query(ORDERS_SQL, [b.id, orders, members])
                scope = BrandScope(brand)
                template = await scope.create(
                    MessageTemplate, name="push", channel=Channel.SMS, body="Hi"
                )
                campaign = await scope.create(
                    Campaign,
                    name="spring",
                    template_id=template.id,
                    channel=Channel.SMS,
                    holdout_share=Decimal("0.1"),
                    cost_per_message=Decimal("0.05"),
                    status=CampaignStatus.COMPLETED,
                    launched_at=LAUNCH,
                )
                await conn.execute_query(MESSAGES_SQL, [brand.id, template.id, campaign.id, LAUNCH])
                await conn.execute_query("ANALYZE")  # the join below needs the statistics
                await conn.execute_query(RECIPIENTS_SQL, [brand.id, campaign.id])
                await conn.execute_query("ANALYZE")
                print(f"{MEMBERS} recipients, {ORDERS} orders in two months (+ another brand)")

                async def ours() -> Any:
                    return await campaign_results(scope, campaign.id)

                async def hand() -> Any:
                    return await conn.execute_query_dict(HAND, [brand.id, campaign.id, LAUNCH])

                got = await ours()
                want = {r["grp"]: r for r in await hand()}
                for group in got.groups:
                    row = want.get(group.name, {})
                    mine = (group.members, group.converters, group.orders, group.revenue)
                    theirs = tuple(
                        int(row.get(k) or 0) for k in ("members", "converters", "orders", "revenue")
                    )
                    if mine != theirs:
                        print(f"!!! {group.name} differs: ours {mine}, hand {theirs}")
                print(
                    f"treated {got.treated.members} ({float(got.treated.conversion or 0):.4f}), "
                    f"holdout {got.holdout.members} ({float(got.holdout.conversion or 0):.4f}), "
                    f"p = {got.uplift.p_value}"
                )
                t_ours = await median_seconds(ours, REPEAT, warm=1)
                t_hand = await median_seconds(hand, REPEAT, warm=1)
                result = Report("attribution", {"recipients": MEMBERS, "orders": ORDERS})
                result.table(
                    "Campaign attribution (PostgreSQL)",
                    [
                        Figure(
                            "campaignResults (groups, curve, sent count)",
                            t_ours,
                            t_hand,
                            "one hand-written statement, groups only",
                        )
                    ],
                )
                result.save()


if __name__ == "__main__":
    asyncio.run(main())
