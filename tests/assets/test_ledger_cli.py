"""``tessera ledger verify`` in a real process against the test database."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tortoise.expressions import F

from tessera.assets import service
from tessera.assets.models import AssetAccount, PointsLot
from tessera.scope import BrandScope
from tessera.testing import run_cli


async def verify(database_url: str, var_dir: Path, brand: str) -> subprocess.CompletedProcess[str]:
    return await run_cli(database_url, var_dir, "ledger", "verify", "--brand", brand)


async def seed(brand, make_member) -> list[int]:
    scope = BrandScope(brand)
    ids = []
    for i in range(3):
        member = await make_member(brand)
        await service.earn_points(
            scope, member.id, 50, idempotency_key=f"e{i}", reason="x", source_type="t"
        )
        await service.redeem_points(
            scope, member.id, 20, idempotency_key=f"r{i}", reason="x", source_type="t"
        )
        await service.top_up_stored_value(scope, member.id, 999, idempotency_key=f"t{i}")
        ids.append(member.id)
    return ids


async def test_a_consistent_brand_exits_0(brand_a, make_member, tessera_database_url, tmp_path):
    await seed(brand_a, make_member)

    done = await verify(tessera_database_url, tmp_path, "brand-a")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "brand-a: 6 account(s) checked, all consistent" in done.stdout


async def test_a_balance_or_lot_that_disagrees_is_reported_and_exits_1(
    brand_a, brand_b, make_member, tessera_database_url, tmp_path
):
    members = await seed(brand_a, make_member)
    await seed(brand_b, make_member)
    scope = BrandScope(brand_a)
    # Damage done behind the service's back, as a bad manual fix would.
    await (
        scope.query(AssetAccount)
        .filter(member_id=members[0], kind="points")
        .update(balance=F("balance") + 5)
    )
    points_account = await scope.query(AssetAccount).get(member_id=members[1], kind="points")
    await scope.query(PointsLot).filter(account_id=points_account.id).update(remaining=1)

    done = await verify(tessera_database_url, tmp_path, "brand-a")
    other = await verify(tessera_database_url, tmp_path, "brand-b")

    assert done.returncode == 1, done.stdout + done.stderr
    assert f"(member {members[0]}, points): balance (sum of entries) is 35, expected 30" in (
        done.stdout
    )
    assert f"(member {members[1]}, points): available lots' remaining points is 1, expected 30" in (
        done.stdout
    )
    assert "2 with differences" in done.stdout
    assert other.returncode == 0


async def test_an_unknown_brand_exits_2(tessera_db, tessera_database_url, tmp_path):
    done = await verify(tessera_database_url, tmp_path, "nope")
    assert done.returncode == 2
    assert "no brand 'nope'" in done.stderr
