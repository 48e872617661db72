"""Merging two members on PostgreSQL, beside hand-written SQL doing the same
updates.

Each pair: the merged member has ``BENCH_MERGE_ENTRIES`` points ledger
entries (default 10,000, each with its lot), as many stored-value entries
divided by ten, ``BENCH_MERGE_ORDERS`` orders (default 200) and as many
behaviour events; the survivor has a tenth of each. Seeded with set-based
SQL, not timed. Tessera's figure is one ``merge_members`` call (locks,
profile, every table moved with the ids it moved recorded for undo, the
accounts combined, statistics rebuilt from the orders, the merge record, the
audit entry and the outbox rows); the baseline is one transaction of
hand-written statements doing the same moves and the same combining, without
the record of what moved, the audit entry or the outbox. Median of
``BENCH_MERGE_REPEAT`` pairs (default 3) each.

Run by ``make bench`` (not in CI); ``make bench BENCHES=merge`` alone.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Figure, Report, bench_database, bench_runtime

from tessera import pg_client
from tessera.assets.verify import verify_brand
from tessera.members.merge import merge_members
from tessera.members.service import create_member
from tessera.scope import BrandScope
from tessera.tenancy.service import create_brand, create_tenant

ENTRIES = int(os.environ.get("BENCH_MERGE_ENTRIES", "10000"))
ORDERS = int(os.environ.get("BENCH_MERGE_ORDERS", "200"))
REPEAT = int(os.environ.get("BENCH_MERGE_REPEAT", "3"))

# Seeding: entries of +1 point each with their lot, stored value, orders and
# events, all by generate_series. $1 brand, $2 member, $3 account, $4 count.
SEED_POINTS = """
WITH e AS (
  INSERT INTO ledger_entry (brand_id, account_id, member_id, kind, entry_type, amount,
    balance_after, reason, source_type, idempotency_key, fingerprint, actor, occurred_at,
    created_at)
  SELECT $1, $3, $2, 'points', 'earn', 1, g, 'seed', 'bench', 'seed-' || $3::bigint::text || '-' || g, 'x',
    'bench', now(), now()
  FROM generate_series(1, $4) g RETURNING id)
INSERT INTO points_lot (brand_id, account_id, entry_id, amount, remaining, earned_at, status)
SELECT $1, $3, id, 1, 1, now(), 'available' FROM e
"""
SEED_STORED = """
INSERT INTO ledger_entry (brand_id, account_id, member_id, kind, entry_type, amount,
  balance_after, reason, source_type, idempotency_key, fingerprint, actor, occurred_at,
  created_at)
SELECT $1, $3, $2, 'stored_value', 'top_up', 100, 100 * g, 'seed', 'bench',
  'seed-' || $3::bigint::text || '-' || g, 'x', 'bench', now(), now()
FROM generate_series(1, $4) g
"""
SEED_ORDERS = """
INSERT INTO sales_order (brand_id, member_id, external_id, occurred_at, amount_paid,
  retail_amount, discount, coupon_codes, units, refunded_amount, refunded_units, fingerprint,
  created_at)
SELECT $1, $2, 'o-' || $2::bigint::text || '-' || g, now() - g * interval '1 hour', 1000, 1000, 0, '[]', 1,
  0, 0, 'x', now()
FROM generate_series(1, $3) g
"""
SEED_EVENTS = """
INSERT INTO behaviour_event (brand_id, member_id, event_id, type, occurred_at, properties,
  fingerprint, created_at)
SELECT $1, $2, 'ev-' || $2::bigint::text || '-' || g, 'view', now(), '{}', 'x', now()
FROM generate_series(1, $3) g
"""


async def seed_member(pool: asyncpg.Pool, scope: BrandScope, name: str, size: int) -> int:
    member = await create_member(scope, {"name": name}, identities=[("app_user_id", name)])
    brand = scope.brand_id
    async with pool.acquire() as conn, conn.transaction():
        accounts = {}
        for kind, balance in (("points", size), ("stored_value", 100 * (size // 10))):
            accounts[kind] = await conn.fetchval(
                "INSERT INTO asset_account (brand_id, member_id, kind, balance, pending, reserved,"
                " updated_at) VALUES ($1, $2, $3, $4, 0, 0, now()) RETURNING id",
                brand,
                member.id,
                kind,
                balance,
            )
        await conn.execute(SEED_POINTS, brand, member.id, accounts["points"], size)
        await conn.execute(SEED_STORED, brand, member.id, accounts["stored_value"], size // 10)
        await conn.execute(SEED_ORDERS, brand, member.id, ORDERS * size // ENTRIES)
        await conn.execute(SEED_EVENTS, brand, member.id, ORDERS * size // ENTRIES)
        await conn.execute(
            "INSERT INTO member_stats (brand_id, member_id, orders_count, gross_spent,"
            " units_bought, refunds_count, refunded_total, refunded_units) SELECT $1, $2,"
            " count(*), sum(amount_paid), sum(units), 0, 0, 0 FROM sales_order"
            " WHERE brand_id = $1 AND member_id = $2",
            brand,
            member.id,
        )
    return member.id


MOVES = [
    "UPDATE member_identity SET member_id = $3 WHERE brand_id = $1 AND member_id = $2",
    "UPDATE tag_assignment SET member_id = $3 WHERE brand_id = $1 AND member_id = $2",
    "UPDATE sales_order SET member_id = $3 WHERE brand_id = $1 AND member_id = $2",
    "UPDATE refund SET member_id = $3 WHERE brand_id = $1 AND member_id = $2",
    "UPDATE behaviour_event SET member_id = $3 WHERE brand_id = $1 AND member_id = $2",
    "UPDATE coupon SET member_id = $3 WHERE brand_id = $1 AND member_id = $2",
    "UPDATE coupon_redemption SET member_id = $3 WHERE brand_id = $1 AND member_id = $2",
    "UPDATE reward_hold SET member_id = $3 WHERE brand_id = $1 AND member_id = $2",
]


async def baseline_merge(pool: asyncpg.Pool, brand: int, survivor: int, merged: int) -> None:
    """The same moves by hand, in one transaction."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "SELECT id FROM asset_account WHERE brand_id = $1 AND member_id = ANY($2)"
            " ORDER BY kind, member_id FOR UPDATE",
            brand,
            [survivor, merged],
        )
        await conn.execute(
            "SELECT id FROM member WHERE brand_id = $1 AND id = ANY($2) ORDER BY id"
            " FOR NO KEY UPDATE",
            brand,
            [survivor, merged],
        )
        await conn.execute(
            "UPDATE member SET status = 'merged', merged_into_id = $3, external_id = NULL,"
            " card_number = NULL WHERE brand_id = $1 AND id = $2",
            brand,
            merged,
            survivor,
        )
        for statement in MOVES:
            await conn.execute(statement, brand, merged, survivor)
        for kind in ("points", "stored_value"):
            row = await conn.fetchrow(
                "UPDATE asset_account s SET balance = s.balance + m.balance,"
                " pending = s.pending + m.pending, reserved = s.reserved + m.reserved"
                " FROM asset_account m WHERE m.brand_id = $1 AND m.member_id = $2"
                " AND m.kind = $4 AND s.brand_id = $1 AND s.member_id = $3 AND s.kind = $4"
                " RETURNING s.id, s.balance, m.id AS gone",
                brand,
                merged,
                survivor,
                kind,
            )
            await conn.execute(
                "UPDATE ledger_entry SET account_id = $2, member_id = $3"
                " WHERE brand_id = $1 AND account_id = $4",
                brand,
                row["id"],
                survivor,
                row["gone"],
            )
            await conn.execute(
                "UPDATE points_lot SET account_id = $2 WHERE brand_id = $1 AND account_id = $3",
                brand,
                row["id"],
                row["gone"],
            )
            await conn.execute("DELETE FROM asset_account WHERE id = $1", row["gone"])
            await conn.execute(
                "INSERT INTO ledger_entry (brand_id, account_id, member_id, kind, entry_type,"
                " amount, balance_after, reason, source_type, idempotency_key, fingerprint,"
                " actor, occurred_at, created_at) VALUES ($1, $2, $3, $4, 'merge', 0, $5, '',"
                " 'merge', $6, 'x', '', now(), now())",
                brand,
                row["id"],
                survivor,
                kind,
                row["balance"],
                f"base-merge:{merged}:{kind}",
            )
        await conn.execute(
            "DELETE FROM member_stats WHERE brand_id = $1 AND member_id = ANY($2)",
            brand,
            [survivor, merged],
        )
        await conn.execute(
            "INSERT INTO member_stats (brand_id, member_id, orders_count, gross_spent,"
            " units_bought, first_order_at, last_order_at, refunds_count, refunded_total,"
            " refunded_units) SELECT $1, $2, count(*), sum(amount_paid), sum(units),"
            " min(occurred_at), max(occurred_at), 0, 0, 0 FROM sales_order"
            " WHERE brand_id = $1 AND member_id = $2",
            brand,
            survivor,
        )
        await conn.execute(
            "DELETE FROM segment_membership WHERE brand_id = $1 AND member_id = $2", brand, merged
        )


async def timed(work: Any) -> float:
    started = time.perf_counter()
    await work
    return time.perf_counter() - started


async def main() -> int:
    async with bench_database() as url:
        var_dir = Path(tempfile.mkdtemp(prefix="tessera-bench-"))
        async with bench_runtime(url, var_dir):
            tenant = await create_tenant("bench", "Bench")
            brand = await create_brand(
                tenant.code, "bench", "Bench", currency="CNY", timezone="UTC"
            )
            scope = BrandScope(brand)
            pool = await pg_client.create_pool(url, min_size=1, max_size=2)
            ours, theirs = [], []
            for run in range(REPEAT):
                for side in ("t", "b"):
                    survivor = await seed_member(pool, scope, f"{side}{run}s", ENTRIES // 10)
                    merged = await seed_member(pool, scope, f"{side}{run}m", ENTRIES)
                    if side == "t":
                        ours.append(
                            await timed(
                                merge_members(scope, survivor, merged, idempotency_key=f"m{run}")
                            )
                        )
                    else:
                        theirs.append(await timed(baseline_merge(pool, brand.id, survivor, merged)))
            problems = [str(p) async for p in verify_brand(scope)]
            if problems:
                print("ledger verify found:", *problems[:5], sep="\n  ")
                return 1
            await pool.close()
            print(
                f"merge on PostgreSQL: the merged member has {ENTRIES} points entries and lots, "
                f"{ENTRIES // 10} stored-value entries, {ORDERS} orders and events; "
                f"median of {REPEAT}"
            )
            report = Report("merge", {"entries": ENTRIES, "orders": ORDERS, "repeat": REPEAT})
            report.table(
                "member merge (time per merge)",
                [
                    Figure(
                        f"merge_members, {ENTRIES} entries",
                        statistics.median(ours),
                        statistics.median(theirs),
                        "hand-written SQL, same moves, one transaction",
                        "ms",
                    )
                ],
            )
            report.save()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
