"""``tessera import`` throughput on PostgreSQL, beside hand-written ``COPY``.

Generates a members file and an orders file (two lines per order, each order
of one of the members), then measures in one run on one database:

- importing the members (``import_members``, the CLI's code without its
  progress bar) beside a hand-written loader: ``csv.reader`` and ``COPY`` of the
  same rows into ``member``, ``member_identity``, ``person_identity`` and
  ``tag_assignment`` (ids drawn from the sequence in one query, card numbers
  made up), in another brand;
- importing the orders (``import_orders``: ``record_orders`` per batch)
  beside ``csv.reader`` and ``COPY`` of the same orders and lines;
- importing both files again (every row already there) beside a
  hand-written skip: ``csv.reader`` and one ``SELECT ... = ANY($1)`` of the
  batch's external ids per batch.

Figures are time per file row (the ratio is the same as for rows per second;
rows per second are printed too). ``BENCH_IMPORT_MEMBERS`` (default 20,000)
and ``BENCH_IMPORT_ORDERS`` (default 10,000) set the sizes; the large run is
1,000,000 and 1,000,000. Figures go to ``var/bench/import.json``.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Figure, Report, bench_database, bench_runtime

from tessera.collector import freeze_start_up
from tessera.importing.csv_rows import CsvSource, batches
from tessera.importing.members import check_header, import_members
from tessera.importing.orders import import_orders
from tessera.importing.rejects import RejectsFile
from tessera.importing.report import ImportReport
from tessera.members.attributes import definitions_by_key
from tessera.scope import BrandScope
from tessera.tags.service import create_tag
from tessera.tenancy.service import create_brand, create_tenant

MEMBERS = int(os.environ.get("BENCH_IMPORT_MEMBERS", "20000"))
ORDERS = int(os.environ.get("BENCH_IMPORT_ORDERS", "10000"))
LINES_PER_ORDER = 2
BATCH = 1000
START = datetime(2020, 1, 1, tzinfo=UTC)
MEMBER_HEADER = [
    "external_id", "name", "phone", "email", "gender", "birthday", "city", "joined_at", "tags",
]  # fmt: skip
ORDER_HEADER = [
    "external_id", "member_external_id", "occurred_at", "amount_paid", "store_code",
    "sku", "name", "quantity", "unit_price",
]  # fmt: skip


def write_members(path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(MEMBER_HEADER)
        for i in range(MEMBERS):
            out.writerow(
                [
                    f"m-{i}",
                    f"Member {i}",
                    f"139{i:08d}",
                    f"m{i}@example.com",
                    ("female", "male")[i % 2],
                    f"{1960 + i % 40}-{1 + i % 12:02d}-{1 + i % 28:02d}",
                    ("Shanghai", "Beijing", "Shenzhen")[i % 3],
                    (START + timedelta(minutes=i)).isoformat(),
                    "old_crm" if i % 3 else "old_crm;vip",
                ]
            )


def write_orders(path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(ORDER_HEADER)
        for i in range(ORDERS):
            at = (START + timedelta(days=30, minutes=7 * i)).isoformat()
            for line in range(LINES_PER_ORDER):
                out.writerow(
                    [
                        f"o-{i}",
                        f"m-{(i * 7919) % MEMBERS}",
                        at,
                        "150.00",
                        f"s{i % 20}",
                        f"sku-{line}",
                        f"Item {line}",
                        "1",
                        "75.00",
                    ]  # fmt: skip
                )


async def run_import(
    scope: BrandScope, path: Path, rejects: Path, importer: Callable[..., Awaitable[ImportReport]]
) -> ImportReport:
    source = CsvSource(path)
    with RejectsFile(rejects, source.header) as refused:
        report: ImportReport = await importer(scope, source, refused, batch_size=BATCH)
    return report


async def copy_members(conn: asyncpg.Connection, brand_id: int, path: Path) -> None:
    """The hand-written loader: the file's rows as they are, in COPYs of the
    rows the import writes: members, their identities, their linking
    digests (``person_identity``, docs/persons.md) and their tags. Since
    identities are sealed (docs/privacy.md) the clear values go into the
    sealed and digest columns as they are: the baseline stays the same
    work, so the ratio shows what sealing and indexing cost Tessera."""
    sealed = bool(
        await conn.fetchval(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_name = 'member' AND column_name = 'phone_sealed'"
        )
    )
    members: list[tuple[Any, ...]] = []
    identities: list[tuple[Any, ...]] = []
    linking: list[tuple[Any, ...]] = []
    tagged: list[tuple[Any, ...]] = []
    now = datetime.now(UTC)
    tenant_id = await conn.fetchval("SELECT tenant_id FROM brand WHERE id = $1", brand_id)
    tag_ids = {
        r["code"]: r["id"]
        for r in await conn.fetch("SELECT code, id FROM tag WHERE brand_id = $1", brand_id)
    }
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        ids = [
            r[0]
            for r in await conn.fetch(
                "SELECT nextval(pg_get_serial_sequence('member', 'id')) "
                "FROM generate_series(1, $1)",
                MEMBERS,
            )
        ]
        for member_id, (ext, name, phone, email, gender, birthday, city, joined, tags) in zip(
            ids, reader, strict=True
        ):
            card = f"9{member_id:011d}"
            phone = "+86" + phone
            linking.append((tenant_id, brand_id, member_id, "phone", phone, now))
            for code in tags.split(";"):
                tagged.append((brand_id, tag_ids[code], member_id, "import", None, now))
            members.append(
                (
                    member_id,
                    brand_id,
                    ext,
                    card,
                    "active",
                    name,
                    gender,
                    datetime.strptime(birthday, "%Y-%m-%d").date(),
                    phone,
                    email,
                    "",
                    city,
                    "",
                    "",
                    "",
                    "[]",
                    "",
                    "",
                    "{}",
                    datetime.fromisoformat(joined),
                    now,
                    now,
                )  # fmt: skip
            )
            for kind, value in (
                ("external_id", ext), ("phone", phone), ("email", email), ("card_number", card)
            ):  # fmt: skip
                if sealed:
                    personal = kind in ("phone", "email")
                    identities.append(
                        (
                            brand_id,
                            member_id,
                            kind,
                            value,
                            value if personal else None,
                            None if personal else value,
                            now,
                        )
                    )
                else:
                    identities.append((brand_id, member_id, kind, value, now))
    await conn.copy_records_to_table(
        "member",
        records=members,
        columns=[
            "id",
            "brand_id",
            "external_id",
            "card_number",
            "status",
            "name",
            "gender",
            "birthday",
            "phone_sealed" if sealed else "phone",
            "email_sealed" if sealed else "email",
            "province",
            "city",
            "education",
            "occupation",
            "income_range",
            "interests",
            "join_channel",
            "join_source",
            "attributes",
            "joined_at",
            "created_at",
            "updated_at",
        ],  # fmt: skip
    )
    await conn.copy_records_to_table(
        "member_identity",
        records=identities,
        columns=["brand_id", "member_id", "kind", "digest", "sealed", "reference", "created_at"]
        if sealed
        else ["brand_id", "member_id", "kind", "value", "created_at"],
    )
    await conn.copy_records_to_table(
        "person_identity",
        records=linking,
        columns=["tenant_id", "brand_id", "member_id", "kind", "digest", "created_at"],
    )
    await conn.copy_records_to_table(
        "tag_assignment",
        records=tagged,
        columns=["brand_id", "tag_id", "member_id", "source", "expires_at", "created_at"],
    )


MEMBER_TABLES = ("member", "member_identity", "person_identity", "tag_assignment")


async def same_member_rows(conn: asyncpg.Connection, imported: int, copied: int) -> None:
    """Stop unless the loader wrote as many rows of each table as the import."""
    for table in MEMBER_TABLES:
        counts = [
            await conn.fetchval(f"SELECT count(*) FROM {table} WHERE brand_id = $1", brand)
            for brand in (imported, copied)
        ]
        if counts[0] != counts[1]:
            raise SystemExit(f"{table}: the import wrote {counts[0]} rows, the loader {counts[1]}")


async def copy_orders(conn: asyncpg.Connection, brand_id: int, path: Path) -> None:
    """The hand-written loader: members by external id in one query, then the
    orders and their lines in two COPYs."""
    member_ids = dict(
        await conn.fetch("SELECT external_id, id FROM member WHERE brand_id = $1", brand_id)
    )
    order_ids = [
        r[0]
        for r in await conn.fetch(
            "SELECT nextval(pg_get_serial_sequence('sales_order', 'id')) FROM generate_series(1, $1)",
            ORDERS,
        )
    ]
    orders: list[tuple[Any, ...]] = []
    lines: list[tuple[Any, ...]] = []
    now = datetime.now(UTC)
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        previous = None
        for ext, member, at, paid, store, sku, name, quantity, unit in reader:
            if ext != previous:
                previous = ext
                order_id = order_ids[len(orders)]
                amount = int(float(paid) * 100)
                orders.append(
                    (
                        order_id,
                        brand_id,
                        member_ids[member],
                        ext,
                        store,
                        None,
                        datetime.fromisoformat(at),
                        amount,
                        amount,
                        0,
                        "[]",
                        LINES_PER_ORDER,
                        0,
                        0,
                        "",
                        now,
                    )  # fmt: skip
                )
            price = int(float(unit) * 100)
            lines.append(
                (
                    brand_id,
                    order_id,
                    len(lines) % LINES_PER_ORDER,
                    sku,
                    name,
                    None,
                    int(quantity),
                    price,
                    price,
                    price,
                    0,
                    0,
                )  # fmt: skip
            )
    await conn.copy_records_to_table(
        "sales_order",
        records=orders,
        columns=[
            "id",
            "brand_id",
            "member_id",
            "external_id",
            "store_code",
            "channel",
            "occurred_at",
            "amount_paid",
            "retail_amount",
            "discount",
            "coupon_codes",
            "units",
            "refunded_amount",
            "refunded_units",
            "fingerprint",
            "created_at",
        ],  # fmt: skip
    )
    await conn.copy_records_to_table(
        "order_line",
        records=lines,
        columns=[
            "brand_id",
            "order_id",
            "line_no",
            "sku",
            "name",
            "category",
            "quantity",
            "unit_price",
            "retail_price",
            "paid_amount",
            "refunded_quantity",
            "refunded_amount",
        ],  # fmt: skip
    )


async def skip_by_hand(conn: asyncpg.Connection, brand_id: int, path: Path, table: str) -> int:
    """Read the file and find each batch's external ids, one query per batch."""
    found = 0
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        for batch in batches(reader, BATCH):
            rows = await conn.fetch(
                f'SELECT external_id FROM "{table}" WHERE brand_id = $1 '
                "AND external_id = ANY($2::text[])",
                brand_id,
                list({row[0] for row in batch}),
            )
            found += len(rows)
    return found


async def timed(work: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await work()
    return time.perf_counter() - started, result


async def main() -> None:
    rows_members, rows_orders = MEMBERS, ORDERS * LINES_PER_ORDER
    print(
        f"import bench: {MEMBERS:,} members, {ORDERS:,} orders of {LINES_PER_ORDER} lines "
        f"({rows_orders:,} rows), batches of {BATCH:,}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        members_csv, orders_csv = folder / "members.csv", folder / "orders.csv"
        write_members(members_csv)
        write_orders(orders_csv)
        async with bench_database() as url, bench_runtime(url, folder) as _:
            await create_tenant("bench", "Bench company")
            brand = await create_brand("bench", "bench", "Bench", currency="CNY")
            copied = await create_brand("bench", "copied", "Copied", currency="CNY")
            scope = BrandScope(brand)
            for tagged in (scope, BrandScope(copied)):
                await create_tag(tagged, "old_crm", "From the old CRM")
                await create_tag(tagged, "vip", "VIP")
            source = CsvSource(members_csv)
            check_header(source.header, await definitions_by_key(scope))
            source.close()
            # Set up, as `tessera import` is before it imports: what it built
            # is frozen, as the command freezes it.
            freeze_start_up()
            conn = await asyncpg.connect(url)
            try:
                copy_m, _ = await timed(lambda: copy_members(conn, copied.id, members_csv))
                members_s, members = await timed(
                    lambda: run_import(scope, members_csv, folder / "m.rej", import_members)
                )
                await same_member_rows(conn, brand.id, copied.id)
                copy_o, _ = await timed(lambda: copy_orders(conn, copied.id, orders_csv))
                orders_s, orders = await timed(
                    lambda: run_import(scope, orders_csv, folder / "o.rej", import_orders)
                )
                again_m, members_again = await timed(
                    lambda: run_import(scope, members_csv, folder / "m2.rej", import_members)
                )
                hand_m, _ = await timed(
                    lambda: skip_by_hand(conn, copied.id, members_csv, "member")
                )
                again_o, orders_again = await timed(
                    lambda: run_import(scope, orders_csv, folder / "o2.rej", import_orders)
                )
                hand_o, _ = await timed(
                    lambda: skip_by_hand(conn, copied.id, orders_csv, "sales_order")
                )
            finally:
                await conn.close()
        for label, report in (
            ("members", members),
            ("orders", orders),
            ("members again", members_again),
            ("orders again", orders_again),
        ):
            print(
                f"{label}: {report.rows:,} rows, {report.created:,} created, "
                f"{report.unchanged:,} already there, {report.rejected:,} rejected"
            )
    assert members.created == MEMBERS and orders.created == ORDERS, "the bench files must go in"
    assert members_again.unchanged == MEMBERS and orders_again.unchanged == ORDERS
    speeds = {
        "import members": (rows_members / members_s, rows_members / copy_m),
        "import orders": (rows_orders / orders_s, rows_orders / copy_o),
        "re-import members (all there)": (rows_members / again_m, rows_members / hand_m),
        "re-import orders (all there)": (rows_orders / again_o, rows_orders / hand_o),
    }
    print(f"\n{'rows per second':<36}{'Tessera':>12}{'baseline':>12}")
    for name, (ours, theirs) in speeds.items():
        print(f"{name:<36}{ours:>12,.0f}{theirs:>12,.0f}")
    report = Report("import", {"members": MEMBERS, "orders": ORDERS, "rows": rows_orders})
    report.table(
        "Import per file row (PostgreSQL)",
        [
            Figure(
                "import members, per row",
                members_s / rows_members,
                copy_m / rows_members,
                "csv.reader + COPY of the same rows",
                "µs",
            ),  # fmt: skip
            Figure(
                "import orders, per row",
                orders_s / rows_orders,
                copy_o / rows_orders,
                "csv.reader + COPY order, order_line",
                "µs",
            ),  # fmt: skip
            Figure(
                "re-import members (all there), per row",
                again_m / rows_members,
                hand_m / rows_members,
                "csv.reader + one SELECT ANY per batch",
                "µs",
            ),  # fmt: skip
            Figure(
                "re-import orders (all there), per row",
                again_o / rows_orders,
                hand_o / rows_orders,
                "csv.reader + one SELECT ANY per batch",
                "µs",
            ),  # fmt: skip
        ],
    )
    report.sizes["rows_per_second"] = {k: round(v[0]) for k, v in speeds.items()}
    report.save()
    print(json.dumps(report.sizes["rows_per_second"]))


if __name__ == "__main__":
    asyncio.run(main())
