"""``tessera stats rebuild`` in a real process against the test database."""

from __future__ import annotations

import subprocess
from pathlib import Path

from order_inputs import order_input

from tessera.orders.models import MemberStats
from tessera.pipeline.orders import record_orders
from tessera.scope import BrandScope
from tessera.testing import run_cli


async def rebuild(database_url: str, var_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return await run_cli(database_url, var_dir, "stats", "rebuild", *args)


async def test_stats_rebuild_recomputes_a_brand(
    brand_a, make_member, tessera_database_url, tmp_path
):
    scope = BrandScope(brand_a)
    member = await make_member(brand_a)
    await record_orders(scope, [order_input(f"o-{i}", member.id, paid="12.5") for i in range(3)])
    await scope.query(MemberStats).update(orders_count=99, gross_spent=0)

    done = await rebuild(tessera_database_url, tmp_path, "--brand", "brand-a")

    assert done.returncode == 0, done.stderr
    assert "brand-a: statistics of 1 member(s) rebuilt" in done.stdout
    stats = await scope.query(MemberStats).get(member_id=member.id)
    assert (stats.orders_count, stats.gross_spent) == (3, 3750)


async def test_stats_rebuild_of_an_unknown_brand_exits_2(
    tessera_db, tessera_database_url, tmp_path
):
    done = await rebuild(tessera_database_url, tmp_path, "--brand", "nope")

    assert done.returncode == 2
    assert "brand: no brand 'nope'" in done.stderr
