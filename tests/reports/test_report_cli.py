"""``tessera report`` in a real process against the test database."""

from __future__ import annotations

import subprocess
from pathlib import Path

from reports_data import Buy, M, load, report_brand, utc

from tessera.testing import run_cli


async def tessera(database_url: str, var_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return await run_cli(database_url, var_dir, *args)


async def test_report_prints_figures_and_tables(tessera_db, tessera_database_url, tmp_path):
    brand = await report_brand()
    await load(
        brand,
        [M(utc(2024, 1, 1))],
        [
            Buy(0, utc(2024, 3, 5), 1000, store="S1"),
            Buy(0, utc(2025, 3, 5), 2500, units=2, store="S1"),
        ],
    )
    result = await tessera(
        tessera_database_url,
        tmp_path,
        "report",
        "reports.sales",
        "--brand",
        brand.code,
        "-p",
        "start=2025-03-01",
        "-p",
        "end=2025-03-31",
        "-p",
        "comparison=yoy",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    sales = next(line for line in lines if "Sales " in line and "CNY" in line)
    assert "25.00 CNY" in sales and "10.00 CNY" in sales and "150.00%" in sales
    assert any("S1" in line and "25.00 CNY" in line for line in lines)  # the by-store table

    bad = await tessera(
        tessera_database_url,
        tmp_path,
        "report",
        "reports.sales",
        "--brand",
        brand.code,
        "-p",
        "start=2020-01-01",
        "-p",
        "end=2025-03-31",
        "-p",
        "colour=red",
    )
    assert bad.returncode != 0
    assert "params.colour: unknown parameter" in bad.stderr and "params.end" in bad.stderr


async def test_reports_rollup_builds_with_a_progress_bar(
    tessera_db, tessera_database_url, tmp_path
):
    from tessera.reports.rollup import rollups_ready
    from tessera.scope import BrandScope

    brand = await report_brand()
    await load(
        brand,
        [M(utc(2024, 1, 1))],
        [Buy(0, utc(2025, 3, 5), 1000), Buy(0, utc(2025, 3, 7), 2500)],
    )
    assert not await rollups_ready(BrandScope(brand))
    result = await tessera(
        tessera_database_url, tmp_path, "reports", "rollup", "--brand", brand.code
    )
    assert result.returncode == 0, result.stderr
    # 5 to 7 March, the day between included.
    assert f"3 days rolled up for {brand.code}" in result.stdout
    assert "days rolled up" in result.stderr and "3/3" in result.stderr
    assert "months and years of stage flows stored" in result.stdout
    assert await rollups_ready(BrandScope(brand))

    bad = await tessera(
        tessera_database_url, tmp_path, "reports", "rollup", "--brand", brand.code, "--since", "May"
    )
    assert bad.returncode != 0
    assert "since" in bad.stderr and "Traceback" not in bad.stderr
