"""Member core on PostgreSQL with a demo brand of ``BENCH_MEMBERS`` members
(default 20,000), each figure beside a baseline measured in the same run:

- recording ``BENCH_ORDERS`` orders (default 10,000, two lines each) in
  batches of 1,000 through the ``recordOrders`` mutation (httpx against the
  ASGI app) and through ``record_orders`` directly, first with no loyalty
  programme, against hand-written SQL doing the same writes (orders, lines,
  statistics upserts) from Python; then with the demo's loyalty programme
  on, against the same three statements and against hand-written SQL
  writing the same rows as the service path wrote (:class:`SameRows`:
  ledger entries, lots, tier history, outbox, balances, tier states, dirty
  report days) (``BENCH_LOYALTY=0`` leaves the programme off); each
  figure and its baselines take turns batch by batch
  (``harness.totals_in_turns``), so a slower stretch of the machine falls
  on all of them;
- ``members(first: 100)`` with tags and statistics through the API, against
  one SELECT with joins serialised to JSON, and against the GraphQL engine
  floor: the same query executed on a schema of the same shape whose
  resolvers return ready objects, with the engine set up as Tessera's schema
  sets it (document caches, plain attributes read directly; the floor on
  strawberry's defaults is printed beside it) (DESIGN.md, "Speed of the
  GraphQL layer"), by wall time and by this process's CPU time (steadier on
  a shared machine), the page and its baselines taking turns.

Run by ``make bench``; prints, asserts nothing. The database server is
``TESSERA_BENCH_DATABASE_URL``; a throw-away database is created on it. Jobs go
to a throw-away arq queue on ``TESSERA_BENCH_REDIS_URL`` (default the local
Redis), as in production. Sizes: ``BENCH_MEMBERS``, ``BENCH_ORDERS``,
``BENCH_ORDERS_PER_MEMBER`` and ``BENCH_EVENTS_PER_MEMBER`` (the demo
history), ``BENCH_PAGE_REPEAT``. With the defaults it takes about two minutes
on two cores, most of it generating the demo brand; the large run of the
issue tracker's figures is ``BENCH_MEMBERS=100000`` (about six minutes).
Figures go to ``var/bench/member_core.json`` (harness.Report).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import strawberry
from strawberry.extensions import ParserCache, ValidationCache

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    Figure,
    Report,
    bench_database,
    bench_runtime,
    median_cpu_seconds,
    medians_in_turns,
    seconds,
    totals_in_turns,
)

from tessera import pg_client
from tessera.app import create_app
from tessera.auth.api_keys import create_api_key
from tessera.collector import freeze_start_up, held
from tessera.demo import loyalty_programme
from tessera.demo_data import ITEMS, generate
from tessera.members.models import Member
from tessera.members.service import find_by_identity
from tessera.orders.inputs import LineInput, MemberRef, OrderInput
from tessera.orders.money import MoneyAmount
from tessera.pipeline.orders import record_orders
from tessera.schema.engine import TesseraExecutionContext, plain_attribute_resolvers
from tessera.schema.ids import encode_id
from tessera.scope import BrandScope
from tessera.tenancy.service import create_brand, create_tenant

MEMBERS = int(os.environ.get("BENCH_MEMBERS", "20000"))
ORDERS = int(os.environ.get("BENCH_ORDERS", "10000"))
ORDERS_PER_MEMBER = float(os.environ.get("BENCH_ORDERS_PER_MEMBER", "3"))
EVENTS_PER_MEMBER = float(os.environ.get("BENCH_EVENTS_PER_MEMBER", "2"))
PAGE_REPEAT = int(os.environ.get("BENCH_PAGE_REPEAT", "20"))
LOOKUPS = int(os.environ.get("BENCH_LOOKUPS", "500"))
# The brand runs the demo's loyalty programme (tiers by spend, purchase
# points), as a real brand does: recording an order then also earns points
# and growth and may move a tier. BENCH_LOYALTY=0 records orders only.
LOYALTY = os.environ.get("BENCH_LOYALTY", "1") != "0"
# BENCH_PROFILE=path: a pyinstrument profile (installed into .venv by hand)
# of the service-layer path, written as text to that path (and of the
# GraphQL path to that path + ".http").
PROFILE = os.environ.get("BENCH_PROFILE")
BATCH = 1000
CURRENCY = "CNY"

BY_IDENTITY = """
query ByPhone($value: String!) { memberByIdentity(kind: PHONE, value: $value) { id phone } }"""

RECORD_ORDERS = """
mutation Record($input: RecordOrdersInput!) {
  recordOrders(input: $input) {
    errors { code message }
    results { index replayed order { id } errors { code message field } }
  }
}"""
MEMBERS_PAGE = """
query Page {
  members(first: 100) {
    edges {
      cursor
      node {
        id externalId name phone email gender status joinedAt
        tags { code name }
        stats {
          ordersCount lastOrderAt
          totalSpent { amount currency }
          averageOrderValue { amount currency }
          spentLast365Days { amount currency }
        }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}"""


# The orders to record: the same shapes for every path, each its own ids.


def order_plan(member_ids: list[int], now: datetime) -> list[dict[str, Any]]:
    rng = random.Random(7)
    plan = []
    for i in range(ORDERS):
        items = rng.sample(ITEMS, 2)
        lines = [
            (sku, name, cat, rng.randint(1, 3), price * 100) for sku, name, cat, price in items
        ]
        retail = sum(q * p for *_, q, p in lines)
        plan.append(
            {
                "n": i,
                "member": rng.choice(member_ids),
                "at": now - timedelta(minutes=rng.randrange(60 * 24 * 300)),
                "paid": retail - rng.choice([0, 0, 1000]),
                "lines": lines,
                "store": f"S{rng.randint(1, 20):03d}",
            }
        )
    return plan


def money(minor: int) -> str:
    return str(Decimal(minor).scaleb(-2))


def as_variables(order: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {
        "externalId": f"{prefix}-{order['n']}",
        "memberId": encode_id("Member", order["member"]),
        "occurredAt": order["at"].isoformat(),
        "amountPaid": {"amount": money(order["paid"]), "currency": CURRENCY},
        "storeCode": order["store"],
        "channel": "pos",
        "lines": [
            {
                "sku": sku,
                "name": name,
                "category": category,
                "quantity": quantity,
                "unitPrice": {"amount": money(price), "currency": CURRENCY},
            }
            for sku, name, category, quantity, price in order["lines"]
        ],
    }


def as_domain(order: dict[str, Any], prefix: str) -> OrderInput:
    return OrderInput(
        external_id=f"{prefix}-{order['n']}",
        member=MemberRef(member_id=order["member"]),
        occurred_at=order["at"],
        amount_paid=MoneyAmount(Decimal(money(order["paid"])), CURRENCY),
        store_code=order["store"],
        channel="pos",
        lines=[
            LineInput(
                sku=sku,
                name=name,
                category=category,
                quantity=quantity,
                unit_price=MoneyAmount(Decimal(money(price)), CURRENCY),
            )
            for sku, name, category, quantity, price in order["lines"]
        ],
    )


class SqlOrders:
    """The baseline: what recording a batch must write, in three statements
    (orders, lines, statistics upsert) in one transaction, from plain Python."""

    def __init__(self, pool: asyncpg.Pool, brand_id: int) -> None:
        self.pool = pool
        self.brand_id = brand_id

    async def record(self, batch: list[dict[str, Any]], prefix: str) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await self.write(conn, batch, prefix)

    async def write(
        self, conn: asyncpg.Connection, batch: list[dict[str, Any]], prefix: str
    ) -> None:
        cols: dict[str, list[Any]] = {k: [] for k in "mestcprdufa"}
        stats: dict[int, list[Any]] = {}
        for o in batch:
            units = sum(q for *_, q, _ in o["lines"])
            retail = sum(q * p for *_, q, p in o["lines"])
            external_id = f"{prefix}-{o['n']}"
            values = [o["at"].isoformat(), o["paid"], retail, o["store"], o["lines"]]
            for key, value in zip(
                "mestcprduf",
                [
                    o["member"],
                    external_id,
                    o["store"],
                    "pos",
                    o["at"],
                    o["paid"],
                    retail,
                    retail - o["paid"],
                    units,
                    hashlib.sha256(json.dumps(values).encode()).hexdigest(),
                ],
                strict=True,
            ):
                cols[key].append(value)
            s = stats.setdefault(o["member"], [0, 0, 0, o["at"], o["at"]])
            s[0] += 1
            s[1] += o["paid"]
            s[2] += units
            s[3] = min(s[3], o["at"])
            s[4] = max(s[4], o["at"])
        ids = await conn.fetch(
            'INSERT INTO "sales_order" (brand_id, member_id, external_id, store_code, channel, '
            "occurred_at, amount_paid, retail_amount, discount, coupon_codes, units, "
            "refunded_amount, refunded_units, fingerprint, created_at) "
            "SELECT $1, m, e, s, c, t, p, r, d, '[]'::jsonb, u, 0, 0, f, now() FROM unnest("
            "$2::bigint[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], "
            "$7::bigint[], $8::bigint[], $9::bigint[], $10::int[], $11::text[]) "
            "AS x(m, e, s, c, t, p, r, d, u, f) RETURNING id, external_id",
            self.brand_id,
            *(cols[k] for k in "mestcprduf"),
        )
        order_ids = {row["external_id"]: row["id"] for row in ids}
        lines: list[list[Any]] = [[] for _ in range(9)]
        for o in batch:
            weights = [q * p for *_, q, p in o["lines"]]
            total = sum(weights) or 1
            shares = [o["paid"] * w // total for w in weights]
            shares[0] += o["paid"] - sum(shares)
            for no, ((sku, name, cat, q, p), share) in enumerate(
                zip(o["lines"], shares, strict=True)
            ):
                row = [order_ids[f"{prefix}-{o['n']}"], no, sku, name, cat, q, p, p, share]
                for column, value in zip(lines, row, strict=True):
                    column.append(value)
        await conn.execute(
            'INSERT INTO "order_line" (brand_id, order_id, line_no, sku, name, category, '
            "quantity, unit_price, retail_price, paid_amount, refunded_quantity, "
            "refunded_amount) SELECT $1, o, n, s, nm, c, q, u, r, pd, 0, 0 FROM unnest("
            "$2::bigint[], $3::int[], $4::text[], $5::text[], $6::text[], $7::int[], "
            "$8::bigint[], $9::bigint[], $10::bigint[]) AS x(o, n, s, nm, c, q, u, r, pd)",
            self.brand_id,
            *lines,
        )
        members = sorted(stats)
        await conn.execute(
            'INSERT INTO "member_stats" AS ms (brand_id, member_id, orders_count, '
            "gross_spent, units_bought, first_order_at, last_order_at, refunds_count, "
            "refunded_total, refunded_units) SELECT $1, m, n, s, u, f, l, 0, 0, 0 FROM "
            "unnest($2::bigint[], $3::int[], $4::bigint[], $5::int[], $6::timestamptz[], "
            "$7::timestamptz[]) AS x(m, n, s, u, f, l) ON CONFLICT (member_id) DO UPDATE SET "
            "orders_count = ms.orders_count + EXCLUDED.orders_count, "
            "gross_spent = ms.gross_spent + EXCLUDED.gross_spent, "
            "units_bought = ms.units_bought + EXCLUDED.units_bought, "
            "first_order_at = LEAST(ms.first_order_at, EXCLUDED.first_order_at), "
            "last_order_at = GREATEST(ms.last_order_at, EXCLUDED.last_order_at)",
            self.brand_id,
            members,
            *([stats[m][k] for m in members] for k in range(5)),
        )


# What a brand running a loyalty programme writes beside orders, lines and
# statistics, and the column that must differ for a copy to be a new row.
REWARD_TABLES = {
    "ledger_entry": "idempotency_key",
    "points_lot": None,
    "tier_history": "source",
    "outbox": "key",
}


class SameRows:
    """The second baseline, for a brand running a loyalty programme: the
    rows ``record_orders`` wrote, written by hand. The three statements of
    :class:`SqlOrders`, then, in the same transaction, copies of what the
    service path wrote beside them for the same number of orders (ledger
    entries, points lots, tier history, outbox rows: ``COPY``) and one
    statement each for the balances, the tier states and the dirty report
    days it updated. Nothing is decided and nothing is read but the ledger's
    ids: the ratio to it is what computing the rewards, and reaching the
    database through the ORM, cost beyond the writes themselves."""

    def __init__(self, sql: SqlOrders) -> None:
        self.sql = sql
        self.marks: dict[str, int] = {}
        self.chunks: list[dict[str, list[tuple[Any, ...]]]] = []
        self.columns: dict[str, list[str]] = {}
        self.written = dict.fromkeys(REWARD_TABLES, 0)

    async def mark(self) -> None:
        """Where the service path's rows of its next batch will start."""
        async with self.sql.pool.acquire() as conn:
            for table in REWARD_TABLES:
                self.marks[table] = await conn.fetchval(
                    f"SELECT COALESCE(MAX(id), 0) FROM {table} WHERE brand_id = $1",
                    self.sql.brand_id,
                )

    async def load(self) -> None:
        """The rows the service path wrote since :meth:`mark`: the next part."""
        rows: dict[str, list[asyncpg.Record]] = {}
        async with self.sql.pool.acquire() as conn:
            for table in REWARD_TABLES:
                rows[table] = await conn.fetch(
                    f"SELECT * FROM {table} WHERE brand_id = $1 AND id > $2 ORDER BY id",
                    self.sql.brand_id,
                    self.marks[table],
                )
                # Only the ledger's ids are given (the lots point at them);
                # every other copy takes its id from its sequence.
                self.columns[table] = [
                    r["attname"]
                    for r in await conn.fetch(
                        "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass "
                        "AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                        table,
                    )
                    if r["attname"] != "id" or table == "ledger_entry"
                ]
        part: dict[str, list[tuple[Any, ...]]] = {}
        for table, unique in REWARD_TABLES.items():
            part[table] = []
            for row in rows[table]:
                values = dict(row)
                if unique is not None and values[unique] is not None:
                    values[unique] = f"same:{values[unique]}"
                part[table].append(tuple(values[c] for c in self.columns[table]))
            self.written[table] += len(rows[table])
        self.chunks.append(part)

    async def record(self, batch: list[dict[str, Any]], prefix: str, part: int) -> None:
        rows = self.chunks[part]
        brand_id = self.sql.brand_id
        async with self.sql.pool.acquire() as conn, conn.transaction():
            await self.sql.write(conn, batch, prefix)
            entry_at = self.columns["ledger_entry"].index("id")
            new_ids = [
                r[0]
                for r in await conn.fetch(
                    "SELECT nextval(pg_get_serial_sequence('ledger_entry', 'id')) "
                    "FROM generate_series(1, $1)",
                    len(rows["ledger_entry"]),
                )
            ]
            renamed = {e[entry_at]: i for e, i in zip(rows["ledger_entry"], new_ids, strict=True)}
            entries = [
                (*e[:entry_at], renamed[e[entry_at]], *e[entry_at + 1 :])
                for e in rows["ledger_entry"]
            ]
            await conn.copy_records_to_table(
                "ledger_entry", records=entries, columns=self.columns["ledger_entry"]
            )
            lot_entry = self.columns["points_lot"].index("entry_id")
            lots = [
                (*lot[:lot_entry], renamed[lot[lot_entry]], *lot[lot_entry + 1 :])
                for lot in rows["points_lot"]
            ]
            await conn.copy_records_to_table(
                "points_lot", records=lots, columns=self.columns["points_lot"]
            )
            for table in ("tier_history", "outbox"):
                await conn.copy_records_to_table(
                    table, records=rows[table], columns=self.columns[table]
                )
            deltas: dict[int, int] = {}
            amount_at = self.columns["ledger_entry"].index("amount")
            account_at = self.columns["ledger_entry"].index("account_id")
            for e in rows["ledger_entry"]:
                deltas[e[account_at]] = deltas.get(e[account_at], 0) + e[amount_at]
            await conn.execute(
                "UPDATE asset_account a SET balance = a.balance + x.d, updated_at = now() "
                "FROM unnest($1::bigint[], $2::bigint[]) AS x(id, d) WHERE a.id = x.id",
                list(deltas),
                list(deltas.values()),
            )
            member_at = self.columns["tier_history"].index("member_id")
            await conn.execute(
                "UPDATE member_tier_state SET updated_at = now() WHERE member_id = ANY($1)",
                sorted({h[member_at] for h in rows["tier_history"]}),
            )
            days = sorted({o["at"].date() for o in batch})
            await conn.execute(
                "INSERT INTO report_dirty_day (brand_id, day, starts_at, ends_at, version) "
                "SELECT $1, d, d::timestamptz, d::timestamptz + interval '1 day', 0 "
                "FROM unnest($2::date[]) AS d ON CONFLICT (brand_id, day) "
                "DO UPDATE SET version = report_dirty_day.version + 1",
                brand_id,
                days,
            )
            await conn.execute(
                "INSERT INTO campaign_attribution_day (brand_id, day, version) "
                "SELECT $1, d, 0 FROM unnest($2::date[]) AS d ON CONFLICT (brand_id, day) "
                "DO UPDATE SET version = campaign_attribution_day.version + 1",
                brand_id,
                days,
            )


SQL_PAGE = """
WITH page AS (
    SELECT id, external_id, name, phone, email, gender, status, joined_at FROM member
    WHERE brand_id = $1 ORDER BY joined_at DESC, id DESC LIMIT 101
)
SELECT m.id, m.external_id, m.name, m.phone, m.email, m.gender, m.status, m.joined_at,
       s.orders_count, s.last_order_at, s.gross_spent - s.refunded_total AS total_spent,
       s.refunded_total, recent.spent AS spent_last_365_days,
       COALESCE(tags.list, '[]') AS tags
FROM page m
LEFT JOIN member_stats s ON s.member_id = m.id
LEFT JOIN LATERAL (
    SELECT SUM(o.amount_paid - o.refunded_amount) AS spent FROM sales_order o
    WHERE o.brand_id = $1 AND o.member_id = m.id AND o.occurred_at >= now() - interval '365 days'
) recent ON true
LEFT JOIN LATERAL (
    SELECT json_agg(json_build_object('code', t.code, 'name', t.name) ORDER BY t.id) AS list
    FROM tag_assignment a JOIN tag t ON t.id = a.tag_id
    WHERE a.brand_id = $1 AND a.member_id = m.id AND (a.expires_at IS NULL OR a.expires_at > now())
) tags ON true
ORDER BY m.joined_at DESC, m.id DESC
"""


# Since identities are sealed (docs/privacy.md) the profile's phone and email
# are read from their sealed columns, the same bytes the clear ones were.
SEALED = "phone_sealed" in Member._meta.fields_map
if SEALED:
    SQL_PAGE = SQL_PAGE.replace(
        "name, phone, email, gender", "name, phone_sealed AS phone, email_sealed AS email, gender"
    )


async def sql_page(pool: asyncpg.Pool, brand_id: int) -> bytes:
    """The baseline page: one SELECT, rows to the JSON a client would receive."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(SQL_PAGE, brand_id)
    return orjson.dumps({"members": [dict(r) for r in rows[:100]]}, default=str)


# The engine floor: the same document on a schema of the same shape whose
# resolvers hand back ready objects (plain attributes, default resolvers).


@strawberry.type
class FMoney:
    amount: str
    currency: str


@strawberry.type
class FTag:
    code: str
    name: str


@strawberry.type
class FStats:
    orders_count: int
    last_order_at: datetime | None
    total_spent: FMoney
    average_order_value: FMoney
    spent_last_365_days: FMoney


@strawberry.type
class FMember:
    id: strawberry.ID
    external_id: str | None
    name: str
    phone: str | None
    email: str | None
    gender: str
    status: str
    joined_at: datetime
    tags: list[FTag]
    stats: FStats


@strawberry.type
class FEdge:
    cursor: str
    node: FMember


@strawberry.type
class FPageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class FConnection:
    edges: list[FEdge]
    page_info: FPageInfo


def echo_client(answer: httpx.Response, like: httpx.AsyncClient) -> httpx.AsyncClient:
    """A client set up as ``like``, to an app that answers every request with
    ``answer``'s bytes at once: what the client itself spends on a page."""
    body = answer.content
    headers = [(b"content-type", answer.headers["content-type"].encode())]

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=like.base_url,
        headers=like.headers,
    )


def floor_schema(page: dict[str, Any], *, tessera_engine: bool = True) -> strawberry.Schema:
    def when(text: str | None) -> datetime | None:
        return datetime.fromisoformat(text) if text else None

    ready = FConnection(
        edges=[
            FEdge(
                cursor=e["cursor"],
                node=FMember(
                    **{
                        k: e["node"][c]
                        for k, c in (
                            ("id", "id"),
                            ("external_id", "externalId"),
                            ("name", "name"),
                            ("phone", "phone"),
                            ("email", "email"),
                            ("gender", "gender"),
                            ("status", "status"),
                        )
                    },  # fmt: skip
                    joined_at=when(e["node"]["joinedAt"]),  # type: ignore[arg-type]
                    tags=[FTag(**t) for t in e["node"]["tags"]],
                    stats=FStats(
                        orders_count=e["node"]["stats"]["ordersCount"],
                        last_order_at=when(e["node"]["stats"]["lastOrderAt"]),
                        total_spent=FMoney(**e["node"]["stats"]["totalSpent"]),
                        average_order_value=FMoney(**e["node"]["stats"]["averageOrderValue"]),
                        spent_last_365_days=FMoney(**e["node"]["stats"]["spentLast365Days"]),
                    ),
                ),
            )
            for e in page["edges"]
        ],
        page_info=FPageInfo(
            has_next_page=page["pageInfo"]["hasNextPage"],
            end_cursor=page["pageInfo"]["endCursor"],
        ),
    )

    @strawberry.type
    class Query:
        @strawberry.field
        def members(self, first: int) -> FConnection:
            return ready

    if not tessera_engine:
        return strawberry.Schema(query=Query)
    # The engine as Tessera's schema sets it up (tessera.schema.build_schema):
    # documents parsed and validated once, plain attributes read directly,
    # plain scalar fields answered by its execution context.
    schema = strawberry.Schema(
        query=Query,
        execution_context_class=TesseraExecutionContext,
        extensions=[lambda: ParserCache(maxsize=512), lambda: ValidationCache(maxsize=512)],
    )
    plain_attribute_resolvers(schema._schema)
    return schema


async def main() -> None:
    print(
        f"member core bench: {MEMBERS:,} demo members, {ORDERS:,} orders per path "
        f"in batches of {BATCH:,}, loyalty programme {'on' if LOYALTY else 'off'}"
    )
    with tempfile.TemporaryDirectory() as var_dir:
        async with bench_database() as url, bench_runtime(url, Path(var_dir)) as rt:
            await create_tenant("bench", "Bench company")
            brand = await create_brand("bench", "bench", "Bench", currency=CURRENCY)
            scope = BrandScope(brand)
            started = time.perf_counter()
            last = [0.0]

            def progress(_: str, done: int, total: int) -> None:
                if time.perf_counter() - last[0] > 15 or done == total:
                    last[0] = time.perf_counter()
                    print(f"  demo data: {done:,}/{total:,} members", flush=True)

            demo = await generate(
                scope,
                MEMBERS,
                orders_per_member=ORDERS_PER_MEMBER,
                events_per_member=EVENTS_PER_MEMBER,
                progress=progress,
            )
            print(
                f"demo data: {demo.members:,} members, {demo.orders:,} orders, "
                f"{demo.refunds:,} refunds, {demo.events:,} events in "
                f"{time.perf_counter() - started:.0f}s"
            )
            # As autovacuum would by the time a real brand reads its pages:
            # without statistics the planner guesses from empty tables.
            analyze = await asyncpg.connect(url)
            try:
                await analyze.execute("ANALYZE")
            finally:
                await analyze.close()
            member_ids = list(await scope.query(Member).values_list("id", flat=True))
            plan = order_plan(member_ids, datetime.now(UTC))
            batches = [plan[i : i + BATCH] for i in range(0, len(plan), BATCH)]
            # With the pii scope where it exists: phones and emails shown in
            # full, and each page's read audited, as a CRM front end works.
            scopes = ["admin", "pii"] if SEALED else ["admin"]
            token = (await create_api_key(brand, "bench", scopes)).token
            app = create_app(rt.settings, runtime=rt)
            pool = await pg_client.create_pool(url, min_size=1, max_size=2)
            sql = SqlOrders(pool, brand.id)
            same = SameRows(sql)
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://bench",
                headers={"Authorization": f"Bearer {token}"},
                timeout=600,
            ) as client:

                async def graphql_batch(n: int, prefix: str) -> None:
                    batch = batches[n]
                    body = {
                        "query": RECORD_ORDERS,
                        "variables": {
                            "input": {"orders": [as_variables(o, prefix) for o in batch]}
                        },
                    }
                    answer = (await client.post("/graphql", json=body)).json()
                    results = answer["data"]["recordOrders"]["results"]
                    refused = [r for r in results if r["errors"]]
                    if refused or len(results) != len(batch):
                        raise SystemExit(f"recordOrders refused orders: {refused[:3]}")

                domain = {
                    prefix: [[as_domain(o, prefix) for o in batch] for batch in batches]
                    for prefix in ("svc", "off", "warm")
                }

                async def service_batch(n: int, prefix: str) -> None:
                    for outcome in await record_orders(scope, domain[prefix][n]):
                        if isinstance(outcome, Exception):
                            raise outcome

                def profiled(
                    profiler: Any, step: Callable[[int], Awaitable[None]]
                ) -> Callable[[int], Awaitable[None]]:
                    async def run(n: int) -> None:
                        profiler.start()
                        try:
                            await step(n)
                        finally:
                            profiler.stop()

                    return run if profiler is not None else step

                profile_service: Any = None
                profile_http: Any = None
                if PROFILE:
                    from pyinstrument import Profiler

                    profile_service = Profiler(async_mode="enabled")
                    profile_http = Profiler(async_mode="enabled")
                rounds = len(batches)
                # Set up, as a server process is before it serves: what it
                # built is frozen, as `tessera serve` and the worker freeze theirs.
                freeze_start_up()
                # Each figure beside its baselines batch by batch (harness.totals_in_turns).
                service_name = "off" if LOYALTY else "svc"
                graphql_name = "goff" if LOYALTY else "gql"
                # The profiles are of the programme's figures when it runs,
                # else of these.
                off_service, off_http = (None, None) if LOYALTY else (profile_service, profile_http)
                off = await totals_in_turns(
                    [
                        ("sql", lambda n: sql.record(batches[n], "sql")),
                        (
                            "service",
                            profiled(off_service, lambda n: service_batch(n, service_name)),
                        ),
                        ("graphql", profiled(off_http, lambda n: graphql_batch(n, graphql_name))),
                    ],
                    rounds,
                )
                if LOYALTY:
                    await loyalty_programme(scope)
                    # Then a programme that has been running, as the figures
                    # below measure it: the members have their accounts and
                    # tier states. A member's first order after the programme
                    # starts also creates them and places the member (shown
                    # on its own: most of these 5,000 orders are such firsts).
                    first = await totals_in_turns(
                        [("service", lambda n: service_batch(n, "warm"))], rounds
                    )
                    on = await totals_in_turns(
                        [
                            ("sql", lambda n: sql.record(batches[n], "sql2")),
                            (None, lambda n: same.mark()),
                            (
                                "service",
                                profiled(profile_service, lambda n: service_batch(n, "svc")),
                            ),
                            (None, lambda n: same.load()),
                            ("same", lambda n: same.record(batches[n], "same", n)),
                            ("graphql", profiled(profile_http, lambda n: graphql_batch(n, "gql"))),
                        ],
                        rounds,
                    )
                    if not same.written["ledger_entry"]:
                        raise SystemExit("the loyalty programme wrote no ledger entry")
                else:
                    on = off
                for profiler, where in ((profile_service, ""), (profile_http, ".http")):
                    if profiler is not None:
                        Path(f"{PROFILE}{where}").write_text(profiler.output_text(show_all=False))

                async def page(through: httpx.AsyncClient = client) -> dict[str, Any]:
                    answer = (await through.post("/graphql", json={"query": MEMBERS_PAGE})).json()
                    if answer.get("errors"):
                        raise SystemExit(f"members page failed: {answer['errors']}")
                    return answer["data"]["members"]  # type: ignore[no-any-return]

                ready = await page()
                # The HTTP client shares this process: its own work on the
                # page (the request, the answer's 60 KB of JSON read back) is
                # measured against an app that answers the same bytes at once,
                # and taken out of the server's figure.
                echo = echo_client(
                    await client.post("/graphql", json={"query": MEMBERS_PAGE}), client
                )
                floor = floor_schema(ready)
                plain_floor = floor_schema(ready, tessera_engine=False)

                async def page_floor(schema: strawberry.Schema = floor) -> None:
                    # The collector held as the endpoint holds it while it
                    # answers, and the answer encoded as it encodes them
                    # (schema.http).
                    with held():
                        result = await schema.execute(MEMBERS_PAGE)
                        if result.errors:
                            raise SystemExit(f"floor schema failed: {result.errors}")
                        orjson.dumps({"data": result.data}, default=str)

                t_page, t_page_sql, t_page_floor = await medians_in_turns(
                    page, lambda: sql_page(pool, brand.id), page_floor, repeat=PAGE_REPEAT
                )
                cpu_page, cpu_page_floor, cpu_plain_floor, cpu_client = await median_cpu_seconds(
                    page,
                    page_floor,
                    lambda: page_floor(plain_floor),
                    lambda: page(echo),
                    repeat=PAGE_REPEAT,
                )
                await echo.aclose()

                people = await scope.query(Member).order_by("id").limit(LOOKUPS * 2)
                phones = [m.phone for m in people if m.phone][:LOOKUPS]

                async def lookups() -> None:
                    for phone in phones:
                        if await find_by_identity(scope, "phone", phone) is None:
                            raise SystemExit(f"no member has {phone}")

                async def lookups_graphql() -> None:
                    for phone in phones:
                        body = {"query": BY_IDENTITY, "variables": {"value": phone}}
                        answer = (await client.post("/graphql", json=body)).json()
                        if not answer["data"]["memberByIdentity"]:
                            raise SystemExit(f"memberByIdentity found no {phone}")

                if SEALED:
                    from tessera.members import pii

                    keys = [pii.digest(brand.id, "phone", p) for p in phones]
                else:
                    keys = phones
                lookup_sql = (
                    "SELECT m.* FROM member_identity i JOIN member m ON m.id = i.member_id "
                    "WHERE i.brand_id = $1 AND i.kind = 'phone' AND "
                    + ("i.digest = $2" if SEALED else "i.value = $2")
                )

                async def lookups_sql() -> None:
                    async with pool.acquire() as conn:
                        for key in keys:
                            if await conn.fetchrow(lookup_sql, brand.id, key) is None:
                                raise SystemExit("the hand-written lookup found nobody")

                t_lookup_sql = await seconds(lookups_sql)
                t_lookup = await seconds(lookups)
                t_lookup_graphql = await seconds(lookups_graphql)
            await pool.close()
            sql_name = "hand-written SQL (3 statements/batch)"
            report = Report(
                "member_core",
                {
                    "members": demo.members,
                    "orders_in_demo": demo.orders,
                    "orders_per_path": ORDERS,
                    "batch": BATCH,
                    "page_repeat": PAGE_REPEAT,
                    "loyalty": LOYALTY,
                },
            )
            per = 1 / ORDERS
            if LOYALTY:
                report.table(
                    f"record {ORDERS:,} orders, 2 lines each, batches of {BATCH:,}, "
                    "no loyalty programme (per order)",
                    [
                        Figure("recordOrders, GraphQL over HTTP (ASGI)", off["graphql"] * per,
                               off["sql"] * per, sql_name, "µs"),
                        Figure("record_orders, service layer", off["service"] * per,
                               off["sql"] * per, sql_name, "µs"),
                    ],
                )  # fmt: skip
            same_name = "hand-written SQL writing the same rows"
            report.table(
                f"record {ORDERS:,} orders, 2 lines each, batches of {BATCH:,}, loyalty "
                f"programme {'on' if LOYALTY else 'off'} (per order)",
                [
                    Figure("recordOrders, GraphQL over HTTP (ASGI)", on["graphql"] * per, on["sql"] * per,
                           sql_name, "µs"),
                    Figure("record_orders, service layer", on["service"] * per, on["sql"] * per, sql_name,
                           "µs"),
                    *(
                        [
                            Figure("recordOrders, GraphQL over HTTP (ASGI)", on["graphql"] * per,
                                   on["same"] * per, same_name, "µs"),
                            Figure("record_orders, service layer", on["service"] * per, on["same"] * per,
                                   same_name, "µs"),
                        ]
                        if LOYALTY
                        else []
                    ),
                    Figure("recordOrders, over the service layer", on["graphql"] * per,
                           on["service"] * per, "the service layer", "µs"),
                    *(
                        [
                            Figure("record_orders, programme's first orders",
                                   first["service"] * per, off["sql"] * per, sql_name, "µs"),
                        ]
                        if LOYALTY
                        else []
                    ),
                ],
            )  # fmt: skip
            if LOYALTY:
                print(
                    "  the same rows: "
                    + ", ".join(f"{count:,} {table}" for table, count in same.written.items())
                    + " (inserted), with balances, tier states and dirty days updated"
                )
            report.table(
                f"members(first: 100) with tags and stats (median of {PAGE_REPEAT})",
                [
                    Figure("members page, GraphQL over HTTP (ASGI)", t_page, t_page_sql,
                           "one SELECT with joins, to JSON"),
                    Figure("members page, GraphQL over HTTP (ASGI)", t_page, t_page_floor,
                           "engine floor (ready objects)"),
                    Figure("engine floor (ready objects)", t_page_floor, t_page_sql,
                           "one SELECT with joins, to JSON"),
                    Figure("members page, CPU of this process", cpu_page, cpu_page_floor,
                           "engine floor, CPU of this process"),
                    Figure("members page, server's CPU", cpu_page - cpu_client, cpu_page_floor,
                           "engine floor, CPU of this process"),
                    Figure("HTTP client, CPU of the same page", cpu_client, cpu_page_floor,
                           "engine floor, CPU of this process"),
                    Figure("engine floor, CPU of this process", cpu_page_floor, cpu_plain_floor,
                           "floor on strawberry's defaults, CPU"),
                ],
            )  # fmt: skip
            per_lookup = 1 / max(len(phones), 1)
            lookup_sql_name = "hand-written indexed SELECT with the member"
            report.table(
                f"a member by phone, {len(phones):,} lookups one after another (per lookup)",
                [
                    Figure("find_by_identity, service layer", t_lookup * per_lookup,
                           t_lookup_sql * per_lookup, lookup_sql_name, "µs"),
                    Figure("memberByIdentity, GraphQL over HTTP (ASGI)",
                           t_lookup_graphql * per_lookup, t_lookup_sql * per_lookup,
                           lookup_sql_name, "µs"),
                ],
            )  # fmt: skip
            report.save()


if __name__ == "__main__":
    asyncio.run(main())
