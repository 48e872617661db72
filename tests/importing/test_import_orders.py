"""Importing orders: one row per line, grouped by the order's external id,
recorded through ``record_orders``; a refused order sends all its rows to the
rejects file; statistics equal a rebuild; a re-run changes nothing."""

from __future__ import annotations

from typing import Any

from import_files import read_rejects

from tessera.importing.csv_rows import CsvSource
from tessera.importing.orders import check_header, import_orders
from tessera.importing.rejects import RejectsFile
from tessera.members.service import create_member
from tessera.orders.models import MemberStats, Order, OrderLine
from tessera.orders.stats import rebuild_stats
from tessera.scope import BrandScope

HEADER = [
    "external_id", "member_external_id", "member_phone", "occurred_at", "amount_paid",
    "store_code", "channel", "coupon_codes", "sku", "name", "category", "quantity",
    "unit_price", "retail_price",
]  # fmt: skip
ROWS = [
    # line 2-3: one order of two lines
    ["o-1", "c-1", "", "2024-05-01T10:00:00+08:00", "180.00", "S01", "pos", "SPRING10",
     "SKU-1", "Tee", "apparel", "2", "50.00", "60.00"],
    ["o-1", "c-1", "", "2024-05-01T10:00:00+08:00", "180.00", "S01", "pos", "SPRING10",
     "SKU-2", "Cap", "accessories", "1", "100.00", ""],
    # line 4: by phone, a bare date read in the brand's time zone
    ["o-2", "", "13800138000", "2024-05-02", "99.5", "", "app", "", "SKU-3", "Socks", "",
     "1", "99.50", ""],
    # line 5: a negative quantity
    ["o-3", "c-1", "", "2024-05-03 11:00", "10", "", "", "", "SKU-3", "", "", "-1", "10", ""],
    # line 6: nobody has this external id (brand B's member has it)
    ["o-4", "theirs", "", "2024-05-03 11:00", "10", "", "", "", "SKU-3", "", "", "1", "10", ""],
    # lines 7-8: the order's own columns differ between its rows
    ["o-5", "c-1", "", "2024-05-03 11:00", "10", "", "", "", "SKU-3", "", "", "1", "10", ""],
    ["o-5", "c-1", "", "2024-05-03 11:00", "11", "", "", "", "SKU-4", "", "", "1", "1", ""],
    # line 9: not a number
    ["o-6", "c-1", "", "2024-05-03 11:00", "ten", "", "", "", "SKU-3", "", "", "1", "10", ""],
    # line 10: two member columns
    ["o-7", "c-1", "13800138000", "2024-05-03", "1", "", "", "", "SKU-3", "", "", "1", "1", ""],
]  # fmt: skip


async def members(brand_a, brand_b) -> tuple[Any, Any]:
    one = await create_member(BrandScope(brand_a), {"name": "One", "external_id": "c-1"})
    two = await create_member(BrandScope(brand_a), {"name": "Two", "phone": "13800138000"})
    await create_member(BrandScope(brand_b), {"name": "Theirs", "external_id": "theirs"})
    return one, two


async def run(scope: BrandScope, path, rejects_path):
    source = CsvSource(path)
    check_header(source.header)
    with RejectsFile(rejects_path, source.header) as rejects:
        return await import_orders(scope, source, rejects)


async def stats_rows(scope: BrandScope) -> list[tuple[Any, ...]]:
    rows = await scope.query(MemberStats).order_by("member_id").values_list(
        "member_id", "orders_count", "gross_spent", "units_bought", "first_order_at",
        "last_order_at", "refunds_count", "refunded_total", "refunded_units",
    )  # fmt: skip
    return [tuple(row) for row in rows]


async def test_orders_go_in_and_refused_orders_are_rejected_row_by_row(
    brand_a, brand_b, csv_file, tmp_path
):
    scope = BrandScope(brand_a)
    one, two = await members(brand_a, brand_b)

    report = await run(scope, csv_file("orders.csv", HEADER, ROWS), tmp_path / "rejects.csv")

    assert (report.rows, report.created, report.unchanged, report.rejected) == (9, 2, 0, 6)
    rejected = read_rejects(tmp_path / "rejects.csv")
    by_line = {int(r["line"]): r["reason"] for r in rejected}
    assert sorted(by_line) == [5, 6, 7, 8, 9, 10]
    assert by_line[5] == "line 5: quantity: quantity must be at least 1"
    assert by_line[6].startswith("member: no member has this identity")
    assert by_line[7] == by_line[8]
    assert "amount_paid: differs from the order's first row (line 7) on line 8" in by_line[7]
    assert by_line[9] == "amount_paid: 'ten' is not a plain decimal amount like 129.90"
    assert "give exactly one member_* column" in by_line[10]

    first = await scope.query(Order).get(external_id="o-1")
    assert (first.member_id, first.amount_paid, first.retail_amount, first.units) == (
        one.id,
        18000,
        22000,
        3,
    )
    assert (first.store_code, first.channel, first.coupon_codes) == ("S01", "pos", ["SPRING10"])
    lines = await scope.query(OrderLine).filter(order_id=first.id).order_by("line_no")
    assert [(x.sku, x.quantity, x.unit_price, x.retail_price) for x in lines] == [
        ("SKU-1", 2, 5000, 6000),
        ("SKU-2", 1, 10000, 10000),
    ]
    second = await scope.query(Order).get(external_id="o-2")
    assert second.member_id == two.id
    assert second.occurred_at.isoformat() == "2024-05-01T16:00:00+00:00"
    assert not await BrandScope(brand_b).query(Order).exists()
    # Statistics are the service's: a rebuild from the orders gives the same.
    counted = await stats_rows(scope)
    assert {row[0]: row[1:3] for row in counted} == {one.id: (1, 18000), two.id: (1, 9950)}
    await rebuild_stats(scope)
    assert await stats_rows(scope) == counted


async def test_reimporting_the_same_orders_changes_nothing(brand_a, brand_b, csv_file, tmp_path):
    scope = BrandScope(brand_a)
    await members(brand_a, brand_b)
    path = csv_file("orders.csv", HEADER, ROWS)
    await run(scope, path, tmp_path / "first.csv")
    orders = await scope.query(Order).order_by("id").values()
    stats = await stats_rows(scope)

    again = await run(scope, path, tmp_path / "second.csv")

    assert (again.created, again.unchanged, again.rejected) == (0, 2, 6)
    assert await scope.query(Order).order_by("id").values() == orders
    assert await stats_rows(scope) == stats
    assert await scope.query(OrderLine).count() == 3


async def test_an_order_repeated_with_other_lines_later_in_the_file_is_a_conflict(
    brand_a, brand_b, csv_file, tmp_path
):
    scope = BrandScope(brand_a)
    await members(brand_a, brand_b)
    rows = [ROWS[0], ROWS[2], ROWS[0][:8] + ["SKU-9", "", "", "1", "80.00", ""]]

    report = await run(scope, csv_file("o.csv", HEADER, rows), tmp_path / "r.csv")

    assert (report.created, report.rejected) == (2, 1)
    [rejected] = read_rejects(tmp_path / "r.csv")
    assert rejected["line"] == "4"
    assert "external_id: order 'o-1' was recorded before with other details" in rejected["reason"]


async def test_loose_amounts_in_an_import_are_rejected_rows(brand_a, csv_file, tmp_path):
    scope = BrandScope(brand_a)
    await create_member(scope, {"name": "One", "external_id": "c-1"})
    header = ["external_id", "member_external_id", "occurred_at", "amount_paid", "sku",
              "quantity", "unit_price"]  # fmt: skip
    rows = [
        ["o-1", "c-1", "2024-05-01", "1e2", "A", "1", "100"],
        ["o-2", "c-1", "2024-05-01", "100", "A", "1", " 100.00"],
        ["o-3", "c-1", "2024-05-01", "100.00", "A", "1", "100"],
    ]
    report = await run(scope, csv_file("o.csv", header, rows), tmp_path / "r.csv")

    assert (report.created, report.rejected) == (1, 2)
    reasons = {r["line"]: r["reason"] for r in read_rejects(tmp_path / "r.csv")}
    assert reasons["2"] == "amount_paid: '1e2' is not a plain decimal amount like 129.90"
    assert "unit_price: ' 100.00' is not a plain decimal amount" in reasons["3"]
    assert [o.amount_paid for o in await scope.query(Order).all()] == [10000]
