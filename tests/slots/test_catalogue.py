"""The catalogue: ``tessera import items`` in a real process (streamed CSV,
rejected rows with reasons, upsert by sku), and skus from order lines."""

from __future__ import annotations

import csv
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from tessera.scope import BrandScope
from tessera.slots.models import CatalogueItem
from tessera.testing import run_cli


async def tessera(database_url: str, var_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return await run_cli(database_url, var_dir, *args)


def write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


async def test_import_items_upserts_by_sku_and_rejects_bad_rows(
    brand_a, tessera_database_url, tmp_path
):
    header = ["sku", "name", "category", "tags", "price", "active"]
    first = write(
        tmp_path / "items.csv",
        [
            header,
            ["S-1", "Boots", "shoes", "winter;leather", "399.00", "true"],
            ["S-2", "Socks", "shoes", "", "19.9", ""],
            ["", "No sku", "", "", "", ""],
            ["S-3", "Cheap", "misc", "", "1.234", "maybe"],
        ],
    )
    done = await tessera(
        tessera_database_url, tmp_path, "import", "items", str(first), "--brand", "brand-a"
    )
    assert done.returncode == 3, done.stderr
    assert "4 row(s): 2 item(s) created, 0 already there, 2 row(s) rejected" in done.stdout
    rejects = (tmp_path / "items.rejects.csv").read_text()
    assert "sku: a sku is required" in rejects
    assert "price:" in rejects and "active:" in rejects

    second = write(tmp_path / "more.csv", [["sku", "active"], ["S-1", "false"], ["S-9", "true"]])
    again = await tessera(
        tessera_database_url, tmp_path, "import", "items", str(second), "--brand", "brand-a"
    )
    assert again.returncode == 0, again.stderr
    assert "1 item(s) created, 1 already there" in again.stdout

    items = {i.sku: i for i in await BrandScope(brand_a).query(CatalogueItem)}
    assert sorted(items) == ["S-1", "S-2", "S-9"]
    boots = items["S-1"]
    assert (boots.name, boots.category, boots.tags, boots.price, boots.active) == (
        "Boots",
        "shoes",
        ["winter", "leather"],
        39900,
        False,
    )
    assert boots.tag_text == ",winter,leather,"
    assert items["S-2"].price == 1990


async def test_unknown_columns_refuse_the_file(brand_a, tessera_database_url, tmp_path):
    path = write(tmp_path / "x.csv", [["sku", "colour"], ["S-1", "red"]])
    done = await tessera(
        tessera_database_url, tmp_path, "import", "items", str(path), "--brand", "brand-a"
    )
    assert done.returncode == 2
    assert "unknown column(s): colour" in done.stderr + done.stdout


async def test_slots_build_and_clusters_from_the_command_line(
    brand_a, person, tessera_database_url, tmp_path
):
    from decimal import Decimal

    from tessera.orders.inputs import LineInput, MemberRef, OrderInput
    from tessera.orders.money import MoneyAmount
    from tessera.pipeline.orders import record_order

    member = await person(brand_a)
    price = MoneyAmount(Decimal("5.00"), brand_a.currency)
    await record_order(
        BrandScope(brand_a),
        OrderInput(
            external_id="cli-1",
            member=MemberRef(member_id=member.pk),
            occurred_at=datetime.now(UTC),
            amount_paid=price,
            lines=[LineInput(sku="NEW-1", quantity=1, unit_price=price, name="New", category="x")],
        ),
    )
    built = await tessera(tessera_database_url, tmp_path, "slots", "build", "--brand", "brand-a")
    assert built.returncode == 0, built.stderr
    assert "1 purchase line(s) of 1 item(s)" in built.stdout
    assert "1 item(s) added to the catalogue" in built.stdout
    [item] = await BrandScope(brand_a).query(CatalogueItem)
    assert (item.sku, item.name, item.category, item.active) == ("NEW-1", "New", "x", True)

    clustered = await tessera(
        tessera_database_url, tmp_path, "slots", "clusters", "--brand", "brand-a"
    )
    assert clustered.returncode == 0, clustered.stderr
    assert "cluster 0: 1 member(s), " in clustered.stdout
