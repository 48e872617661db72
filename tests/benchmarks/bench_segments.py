"""Segments on PostgreSQL with a brand of ``BENCH_SEGMENT_MEMBERS`` members
(default 200,000; the large run is 1,000,000) and their statistics and tags,
each figure beside a hand-written SQL baseline over the same tables, measured in the same run:

- ``previewSegment`` for a three-condition rule (a tag, a spend range, a
  recency window): the compiled count statement and ``count_and_sample``
  against one hand-written ``SELECT count(*)``, and the GraphQL field over
  the ASGI app against the service call;
- the first materialisation of a dynamic segment with that rule through the
  segments service against one hand-written ``INSERT ... SELECT``, and a
  full refresh after ~1% of the members changed against a hand-written
  ``DELETE`` + ``INSERT`` of the difference.

The data is generated with set-based SQL (``generate_series`` and seeded
hashes, so every run has the same members), shaped as the services write it:
members with a Luhn-checked card number and its identity row (no phones:
sealing them would be the loader's work, and no rule here reads them),
statistics rows only for members who ordered, and tag assignments, some
expired. A second small brand has the same tags, so brand scoping is real.
Tessera's results and the baselines' are compared member by member; a
difference is printed loudly (a bug).

Run by ``make bench``; prints, asserts nothing. Sizes:
``BENCH_SEGMENT_MEMBERS``, ``BENCH_SEGMENT_REPEAT`` (timed repetitions of
each figure); ``BENCH_SEGMENT_EXPLAIN=1`` also prints the plans of the
compiled and hand-written statements. With the defaults it takes about a
minute on two cores (1,000,000 members: about two), most of it loading the
data. Figures go to ``var/bench/segments.json`` (harness.Report).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from tortoise import connections

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Figure, Report, bench_database, bench_runtime, median_seconds, seconds

from tessera import pg_client
from tessera.app import create_app
from tessera.auth.api_keys import create_api_key
from tessera.members import pii
from tessera.members.models import MemberSettings
from tessera.members.scheme import default_card_prefix, get_settings
from tessera.scope import BrandScope
from tessera.segments.compiler import (
    Sql,
    _build,
    compile_member_ids,
    count_and_sample,
    stored_membership,
    to_sql,
)
from tessera.segments.rules import Window, parse_rule
from tessera.segments.service import SegmentKind, create_segment, refresh_segment
from tessera.tags.service import create_tag
from tessera.tenancy.service import create_brand, create_tenant

MEMBERS = int(os.environ.get("BENCH_SEGMENT_MEMBERS", "200000"))
OTHER_MEMBERS = 5000
REPEAT = int(os.environ.get("BENCH_SEGMENT_REPEAT", "7"))
REFRESH_ROUNDS = 3
EXPLAIN = os.environ.get("BENCH_SEGMENT_EXPLAIN", "") not in ("", "0")
CURRENCY = "CNY"
TIMEZONE = "Asia/Shanghai"
SPEND_MIN, SPEND_MAX = 500, 5000  # CNY
RECENT_DAYS = 90

RULE: dict[str, Any] = {
    "all": [
        {"type": "tags", "has": "any", "codes": ["vip"]},
        {"type": "stats", "metric": "totalSpent", "min": str(SPEND_MIN), "max": str(SPEND_MAX)},
        {"type": "lastOrder", "within": {"lastDays": RECENT_DAYS}},
    ]
}

PREVIEW = """
query Preview($rule: JSON!) {
  previewSegment(rule: $rule, sample: 10) {
    count
    sample { id name }
    errors { code message field }
  }
}"""


# --- the data ------------------------------------------------------------------

# h(k): a deterministic pseudo-random non-negative bigint per member and seed.
H = "abs(hashint8extended(g.i, {}))"

MEMBERS_SQL = f"""
INSERT INTO member (brand_id, external_id, card_number, status, name, gender,
    province, city, education, occupation, income_range, interests, join_channel, join_source,
    attributes, joined_at, created_at, updated_at)
SELECT $1, NULL, card.body || card.check_digit, 'active', 'Member ' || g.i,
    (ARRAY['female', 'male', 'other', 'unknown'])[1 + {H.format(1)} % 4],
    (ARRAY['Shanghai', 'Zhejiang', 'Guangdong', 'Beijing'])[1 + {H.format(2)} % 4], '', '', '',
    '', '[]'::jsonb, (ARRAY['store', 'wechat', 'app'])[1 + {H.format(3)} % 3], '', '{{}}'::jsonb,
    $2::timestamptz - make_interval(days => 1100 + ({H.format(4)} % 400)::int), $2, $2
FROM generate_series(1, $3::bigint) AS g(i)
CROSS JOIN LATERAL (SELECT $4 || lpad(g.i::text, 9, '0') AS body) AS b
CROSS JOIN LATERAL (
    -- Luhn, as tessera.members.cards.luhn_digit: double every other digit from the right.
    SELECT b.body, ((10 - sum(
        CASE WHEN p % 2 = 0 THEN d ELSE (d * 2) - CASE WHEN d * 2 > 9 THEN 9 ELSE 0 END END
    ) % 10) % 10)::text AS check_digit
    FROM (
        SELECT n AS p, substr(reverse(b.body), n, 1)::int AS d
        FROM generate_series(1, length(b.body)) AS n
    ) AS digits
) AS card
ORDER BY g.i
"""


# 70% of members ordered: 1-12 orders, the last within two years, the first
# up to a year before it; one in ten of them had a tenth of it refunded.
STATS_SQL = f"""
INSERT INTO member_stats (brand_id, member_id, orders_count, gross_spent, units_bought,
    first_order_at, last_order_at, refunds_count, refunded_total, refunded_units)
SELECT $1, m.id, s.n, s.n * s.avg, s.n * 2,
    s.last - make_interval(days => (s.n - 1) * (1 + ({H.format(12)} % 30)::int)), s.last,
    s.refunded, s.refunded * (s.n * s.avg / 10), s.refunded
FROM (SELECT id, row_number() OVER (ORDER BY id) AS i FROM member WHERE brand_id = $1) AS m
CROSS JOIN LATERAL (SELECT m.i) AS g(i)
CROSS JOIN LATERAL (
    SELECT 1 + ({H.format(10)} % 12)::int AS n, 5000 + {H.format(11)} % 50000 AS avg,
        $2::timestamptz - make_interval(secs => ({H.format(13)} % (720 * 86400))::int) AS last,
        CASE WHEN {H.format(14)} % 10 = 0 THEN 1 ELSE 0 END AS refunded
) AS s
WHERE {H.format(15)} % 10 < 7
"""

# vip on 20% of members (a tenth of those expired, a few also imported), newsletter on a third, lapsed on a tenth.
TAGS_SQL = f"""
INSERT INTO tag_assignment (brand_id, tag_id, member_id, source, expires_at, created_at)
SELECT $1, t.tag_id, m.id, t.source,
    CASE WHEN t.code = 'vip' AND {H.format(22)} % 10 = 0
        THEN $2::timestamptz - interval '3 days' END,
    $2::timestamptz - make_interval(days => ({H.format(23)} % 700)::int)
FROM (SELECT id, row_number() OVER (ORDER BY id) AS i FROM member WHERE brand_id = $1) AS m
CROSS JOIN LATERAL (SELECT m.i) AS g(i)
JOIN (SELECT id AS tag_id, code, source, share, seed
      FROM tag, (VALUES ('vip', 'manual', 5, 20), ('vip', 'import', 50, 21),
                        ('newsletter', 'manual', 3, 24), ('lapsed', 'manual', 10, 25))
                AS p(tag_code, source, share, seed)
      WHERE brand_id = $1 AND code = tag_code) AS t
  ON abs(hashint8extended(g.i, t.seed)) % t.share = 0
"""


async def load(pool: asyncpg.Pool, scope: BrandScope, members: int, now: datetime) -> None:
    """``members`` members of ``scope``'s brand with identities, stats and tags."""
    for code, name in (("vip", "VIP"), ("newsletter", "Newsletter"), ("lapsed", "Lapsed")):
        await create_tag(scope, code, name)
    settings = await get_settings(scope)
    async with pool.acquire() as conn:
        brand_id = scope.brand_id
        prefix = default_card_prefix(brand_id)
        await conn.execute(MEMBERS_SQL, brand_id, now, members, prefix)
        # Each card number's identity row as the members service writes it:
        # the blind index is keyed per brand (HMAC), so made here, not in SQL.
        cards = await conn.fetch(
            "SELECT id, card_number, created_at FROM member WHERE brand_id = $1", brand_id
        )
        digests = pii.digests(brand_id, [("card_number", r["card_number"]) for r in cards])
        await conn.copy_records_to_table(
            "member_identity",
            records=[
                (
                    brand_id,
                    r["id"],
                    "card_number",
                    digests["card_number", r["card_number"]],
                    r["card_number"],
                    r["created_at"],
                )
                for r in cards
            ],
            columns=["brand_id", "member_id", "kind", "digest", "reference", "created_at"],
        )
        await conn.execute(STATS_SQL, brand_id, now)
        await conn.execute(TAGS_SQL, brand_id, now)
    # The next card the service issues follows the loaded ones.
    await scope.query(MemberSettings).filter(id=settings.id).update(card_sequence=members)


# --- the hand-written baselines -------------------------------------------------

# $1 brand, $2 now, $3 spend min, $4 spend max (minor units), $5 start of the window.
MATCHING = """
SELECT m.id FROM member m
JOIN member_stats s ON s.member_id = m.id
WHERE m.brand_id = $1 AND s.brand_id = $1
  AND s.gross_spent - s.refunded_total BETWEEN $3 AND $4
  AND s.last_order_at >= $5
  AND EXISTS (
      SELECT 1 FROM tag_assignment a JOIN tag t ON t.id = a.tag_id
      WHERE a.brand_id = $1 AND a.member_id = m.id AND t.brand_id = $1 AND t.code = 'vip'
        AND (a.expires_at IS NULL OR a.expires_at > $2))
"""
COUNT_SQL = "SELECT count(*) FROM (" + MATCHING + ") AS x"
# $6 segment, $7 entered_at
INSERT_SQL = (
    "INSERT INTO segment_membership (brand_id, segment_id, member_id, entered_at) "
    "SELECT $1, $6, w.id, $7 FROM (" + MATCHING + ") AS w"
)
# The difference in two statements: who left, then who entered.
LEAVE_SQL = (
    "DELETE FROM segment_membership sm WHERE sm.brand_id = $1 AND sm.segment_id = $6 "
    "AND NOT EXISTS (SELECT 1 FROM (" + MATCHING + ") AS w WHERE w.id = sm.member_id)"
)
ENTER_SQL = INSERT_SQL + " ON CONFLICT (segment_id, member_id) DO NOTHING"


def baseline_args(brand_id: int, now: datetime) -> list[Any]:
    start = Window(last_days=RECENT_DAYS).bounds(now, TIMEZONE).start
    return [brand_id, now, SPEND_MIN * 100, SPEND_MAX * 100, start]


async def membership(pool: asyncpg.Pool, segment_id: int) -> set[int]:
    rows = await pool.fetch(
        "SELECT member_id FROM segment_membership WHERE segment_id = $1", segment_id
    )
    return {r[0] for r in rows}


async def empty(pool: asyncpg.Pool, segment_id: int) -> None:
    await pool.execute("DELETE FROM segment_membership WHERE segment_id = $1", segment_id)


def compare(what: str, tessera: int | set[int], baseline: int | set[int]) -> None:
    if tessera == baseline:
        size = tessera if isinstance(tessera, int) else len(tessera)
        print(f"  same result: {what}: {size:,} members")
        return
    t = tessera if isinstance(tessera, int) else len(tessera)
    b = baseline if isinstance(baseline, int) else len(baseline)
    print(f"\n!!!!! DIFFERENT RESULTS: {what}: Tessera {t:,}, hand-written SQL {b:,} !!!!!")
    if isinstance(tessera, set) and isinstance(baseline, set):
        print(f"!!!!! only Tessera: {sorted(tessera - baseline)[:10]}")
        print(f"!!!!! only SQL:     {sorted(baseline - tessera)[:10]}\n")


async def change_one_percent(pool: asyncpg.Pool, brand_id: int, round_no: int) -> None:
    """Some members order again today, as many others last ordered 200 days
    ago: about 1% of the brand's members change, some entering, some leaving."""
    await pool.execute(
        "UPDATE member_stats SET last_order_at = CASE WHEN member_id % 200 = $2::int "
        "THEN now() - interval '1 hour' ELSE now() - interval '200 days' END "
        "WHERE brand_id = $1 AND member_id % 200 IN ($2::int, $2::int + 100)",
        brand_id,
        round_no,
    )


async def explain(pool: asyncpg.Pool, title: str, sql: str, *args: Any) -> None:
    """The plan PostgreSQL ran, with timings (rolled back: nothing changes)."""
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        try:
            rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *args)
        finally:
            await transaction.rollback()
    print(f"\n--- {title}")
    print("\n".join(r[0] for r in rows))


async def interleaved(works: list[Callable[[], Awaitable[object]]], repeat: int) -> list[float]:
    """The median time of each of ``works``, run in turns (each once to warm
    up), so caches and the server's plan cache treat them alike."""
    times: list[list[float]] = [[] for _ in works]
    for work in works:
        await work()
    for _ in range(repeat):
        for work, spent in zip(works, times, strict=True):
            spent.append(await seconds(work))
    return [statistics.median(spent) for spent in times]


# --- the run ------------------------------------------------------------------


async def main() -> None:
    print(
        f"segments bench: {MEMBERS:,} members (+{OTHER_MEMBERS:,} in another brand), "
        f"median of {REPEAT}"
    )
    with tempfile.TemporaryDirectory() as var_dir:
        async with bench_database() as url, bench_runtime(url, Path(var_dir)) as rt:
            await create_tenant("bench", "Bench company")
            brand = await create_brand(
                "bench", "bench", "Bench", currency=CURRENCY, timezone=TIMEZONE
            )
            other = await create_brand(
                "bench", "other", "Other", currency=CURRENCY, timezone=TIMEZONE
            )
            scope = BrandScope(brand)
            async with pg_client.create_pool(url, min_size=1, max_size=2) as pool:
                started = time.perf_counter()
                now = datetime.now(UTC)
                await load(pool, BrandScope(other), OTHER_MEMBERS, now)
                await load(pool, scope, MEMBERS, now)
                await pool.execute("VACUUM ANALYZE")
                counts = {
                    table: await pool.fetchval(f"SELECT count(*) FROM {table}")
                    for table in ("member", "member_identity", "member_stats", "tag_assignment")
                }
                print(
                    f"data: {', '.join(f'{n:,} {t}' for t, n in counts.items())} "
                    f"in {time.perf_counter() - started:.0f}s"
                )

                rule = parse_rule(RULE)
                connection = connections.get("default")
                now = datetime.now(UTC)
                args = baseline_args(brand.id, now)
                # The count statement count_and_sample runs, on its own.
                counting = _build(scope, rule, now, stored_membership, None, connection)
                compiled = to_sql(counting.select(Sql("COUNT(*)")))

                async def tessera_count() -> int:
                    _, rows = await connection.execute_query(*compiled)
                    return int(rows[0][0])

                async def sql_count() -> int:
                    return int(await pool.fetchval(COUNT_SQL, *args))

                async def preview() -> tuple[int, list[Any]]:
                    return await count_and_sample(scope, rule, now, 10)

                compare("preview count", await tessera_count(), await sql_count())
                compare("count_and_sample", (await preview())[0], await sql_count())
                t_count, t_sql_count, t_preview = await interleaved(
                    [tessera_count, sql_count, preview], REPEAT
                )

                token = (await create_api_key(brand, "bench", ["admin"])).token
                app = create_app(rt.settings, runtime=rt)
                async with httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app),
                    base_url="http://bench",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=600,
                ) as client:

                    async def via_graphql() -> int:
                        body = {"query": PREVIEW, "variables": {"rule": RULE}}
                        answer = (await client.post("/graphql", json=body)).json()
                        result = answer.get("data", {}) and answer["data"]["previewSegment"]
                        if answer.get("errors") or not result or result["errors"]:
                            raise SystemExit(f"previewSegment failed: {answer}")
                        return int(result["count"])

                    compare("previewSegment over GraphQL", await via_graphql(), await sql_count())
                    t_graphql = await median_seconds(via_graphql, REPEAT)

                # Materialisation from empty: Tessera's dynamic segment, and a
                # static one filled by hand, emptied (untimed) between repetitions.
                segment = await create_segment(scope, "bench vip", SegmentKind.DYNAMIC, rule=RULE)
                by_hand = await create_segment(scope, "bench by hand", SegmentKind.STATIC)
                t_first: list[float] = []
                t_first_sql: list[float] = []
                for _ in range(max(REPEAT // 2, 2)):
                    await empty(pool, segment.id)
                    await empty(pool, by_hand.id)
                    now = datetime.now(UTC)

                    async def first(now: datetime = now) -> None:
                        await refresh_segment(scope, segment.id, now=now)

                    async def fill(now: datetime = now) -> None:
                        async with pool.acquire() as conn, conn.transaction():
                            await conn.execute(
                                INSERT_SQL, *baseline_args(brand.id, now), by_hand.id, now
                            )

                    t_first.append(await seconds(first))
                    t_first_sql.append(await seconds(fill))
                compare(
                    "first materialisation",
                    await membership(pool, segment.id),
                    await membership(pool, by_hand.id),
                )

                # A full refresh after ~1% of members changed, three rounds.
                t_again: list[float] = []
                t_again_sql: list[float] = []
                entered = exited = 0
                for round_no in range(REFRESH_ROUNDS):
                    await change_one_percent(pool, brand.id, round_no)
                    now = datetime.now(UTC)
                    began = time.perf_counter()
                    refreshed = await refresh_segment(scope, segment.id, now=now)
                    t_again.append(time.perf_counter() - began)
                    entered, exited = refreshed.entered, refreshed.exited

                    async def update(now: datetime = now) -> None:
                        async with pool.acquire() as conn, conn.transaction():
                            args = [*baseline_args(brand.id, now), by_hand.id]
                            await conn.execute(LEAVE_SQL, *args)
                            await conn.execute(ENTER_SQL, *args, now)

                    t_again_sql.append(await seconds(update))
                compare(
                    "refresh after changes",
                    await membership(pool, segment.id),
                    await membership(pool, by_hand.id),
                )
                print(f"  last refresh: {entered:,} entered, {exited:,} exited")
                if EXPLAIN:
                    now = datetime.now(UTC)
                    args = baseline_args(brand.id, now)
                    await explain(pool, "compiled count statement", compiled[0], *compiled[1])
                    await explain(pool, "hand-written count", COUNT_SQL, *args)
                    sql, params = compile_member_ids(scope, rule, now)
                    await explain(pool, "compiled member ids", sql, *params)
                    await explain(pool, "hand-written leave", LEAVE_SQL, *args, by_hand.id)

                count_name = "hand-written SELECT count(*)"
                report = Report(
                    "segments",
                    {"members": MEMBERS, "other_members": OTHER_MEMBERS, "repeat": REPEAT,
                     "refresh_rounds": REFRESH_ROUNDS},
                )  # fmt: skip
                report.table(
                    f"previewSegment, tag + spend range + last order in {RECENT_DAYS} days "
                    f"(median of {REPEAT})",
                    [
                        Figure("compiled count statement", t_count, t_sql_count, count_name),
                        Figure("count_and_sample (count + 10 members)", t_preview, t_sql_count,
                               count_name),
                        Figure("previewSegment, GraphQL over HTTP (ASGI)", t_graphql, t_sql_count,
                               count_name),
                        Figure("previewSegment, GraphQL over HTTP (ASGI)", t_graphql, t_preview,
                               "count_and_sample"),
                    ],
                )  # fmt: skip
                report.table(
                    "materialising the segment (median)",
                    [
                        Figure("first refresh, from empty (service)", statistics.median(t_first),
                               statistics.median(t_first_sql), "hand-written INSERT ... SELECT"),
                        Figure("refresh after ~1% changed (service)", statistics.median(t_again),
                               statistics.median(t_again_sql), "hand-written DELETE + INSERT"),
                    ],
                )  # fmt: skip
                report.save()


if __name__ == "__main__":
    asyncio.run(main())
