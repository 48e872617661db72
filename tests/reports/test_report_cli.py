"""``tessera report`` in a real process against the test database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from reports_data import Buy, M, load, report_brand, utc

TESSERA = Path(sys.executable).parent / "tessera"


async def tessera(database_url: str, var_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    env.update(
        TESSERA_DATABASE_URL=database_url,
        TESSERA_VAR_DIR=str(var_dir),
        TESSERA_ENVIRONMENT="test",
        COLUMNS="200",
    )
    return await asyncio.to_thread(
        subprocess.run, [str(TESSERA), *args], env=env, capture_output=True, text=True, timeout=120
    )


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
