"""``tessera import`` in a real process: exit codes, the summary, the rejects file."""

from __future__ import annotations

import subprocess
from pathlib import Path

from import_files import read_rejects

from tessera.members.models import Member
from tessera.members.service import create_member
from tessera.orders.models import Order
from tessera.scope import BrandScope
from tessera.testing import run_cli


async def tessera(database_url: str, var_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return await run_cli(database_url, var_dir, *args)


async def test_all_rows_in_exits_0_and_a_rerun_finds_them_there(
    brand_a, csv_file, tessera_database_url, tmp_path
):
    path = csv_file("m.csv", ["external_id", "name"], [["c-1", "One"], ["c-2", "Two"]])

    done = await tessera(tessera_database_url, tmp_path, "import", "members", str(path),
                         "--brand", "brand-a")  # fmt: skip
    again = await tessera(tessera_database_url, tmp_path, "import", "members", str(path),
                          "--brand", "brand-a")  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert "2 row(s): 2 member(s) created, 0 already there, 0 row(s) rejected" in done.stdout
    assert again.returncode == 0, again.stderr
    assert "0 member(s) created, 2 already there" in again.stdout
    assert await BrandScope(brand_a).query(Member).count() == 2
    assert not (tmp_path / "m.rejects.csv").exists()


async def test_some_rows_rejected_exits_3_and_writes_the_rejects_file(
    brand_a, csv_file, tessera_database_url, tmp_path
):
    scope = BrandScope(brand_a)
    await create_member(scope, {"name": "One", "external_id": "c-1"})
    header = ["external_id", "member_external_id", "occurred_at", "amount_paid", "sku",
              "quantity", "unit_price"]  # fmt: skip
    rows = [
        ["o-1", "c-1", "2024-05-01 10:00", "20", "SKU-1", "2", "10"],
        ["o-2", "nobody", "2024-05-01 10:00", "20", "SKU-1", "2", "10"],
    ]
    path = csv_file("o.csv", header, rows)
    rejects = tmp_path / "out" / "refused.csv"

    done = await tessera(tessera_database_url, tmp_path, "import", "orders", str(path),
                         "--brand", "brand-a", "--rejects", str(rejects))  # fmt: skip

    assert done.returncode == 3, done.stderr
    assert "1 order(s) created, 0 already there, 1 row(s) rejected" in done.stdout
    assert str(rejects) in done.stderr
    [refused] = read_rejects(rejects)
    assert (refused["line"], refused["external_id"]) == ("3", "o-2")
    assert await scope.query(Order).count() == 1


async def test_bad_usage_exits_2_and_imports_nothing(
    brand_a, csv_file, tessera_database_url, tmp_path
):
    path = csv_file("m.csv", ["external_id", "favourite_colour"], [["c-1", "red"]])

    unknown_column = await tessera(tessera_database_url, tmp_path, "import", "members",
                                   str(path), "--brand", "brand-a")  # fmt: skip
    unknown_brand = await tessera(tessera_database_url, tmp_path, "import", "members",
                                  str(path), "--brand", "nope")  # fmt: skip
    no_file = await tessera(tessera_database_url, tmp_path, "import", "orders",
                            str(tmp_path / "missing.csv"), "--brand", "brand-a")  # fmt: skip

    assert unknown_column.returncode == 2
    assert "unknown column(s): favourite_colour" in unknown_column.stderr
    assert unknown_brand.returncode == 2
    assert "no brand 'nope'" in unknown_brand.stderr
    assert no_file.returncode == 2
    assert "no such file" in no_file.stderr
    assert not await BrandScope(brand_a).query(Member).exists()


async def test_the_rejects_file_has_its_documented_name_and_the_files_order(
    brand_a, csv_file, tessera_database_url, tmp_path
):
    # Line 2 is refused late (its tag is checked against the brand's tags with
    # the batch), line 3 early (its phone is invalid on its own): the file
    # still lists them in the input's order.
    header = ["external_id", "name", "phone", "tags"]
    rows = [
        ["c-1", "One", "", "no-such-tag"],
        ["c-2", "Two", "12345", ""],
        ["c-3", "Three", "", ""],
    ]
    path = csv_file("members.csv", header, rows)

    done = await tessera(tessera_database_url, tmp_path, "import", "members", str(path),
                         "--brand", "brand-a")  # fmt: skip

    assert done.returncode == 3, done.stderr
    rejects = tmp_path / "members.rejects.csv"  # docs/import.md: FILE.rejects.csv
    assert str(rejects) in done.stderr
    assert [(r["line"], r["external_id"]) for r in read_rejects(rejects)] == [
        ("2", "c-1"),
        ("3", "c-2"),
    ]


async def test_refused_orders_are_listed_in_the_files_order(
    brand_a, csv_file, tessera_database_url, tmp_path
):
    # o-1 is refused when recorded (no such member), o-2 when read (its amount).
    header = ["external_id", "member_external_id", "occurred_at", "amount_paid"]
    rows = [["o-1", "nobody", "2024-05-01", "20"], ["o-2", "nobody", "2024-05-01", "twenty"]]
    path = csv_file("orders.csv", header, rows)

    done = await tessera(tessera_database_url, tmp_path, "import", "orders", str(path),
                         "--brand", "brand-a")  # fmt: skip

    assert done.returncode == 3, done.stderr
    refused = read_rejects(tmp_path / "orders.rejects.csv")
    assert [(r["line"], r["external_id"]) for r in refused] == [("2", "o-1"), ("3", "o-2")]
