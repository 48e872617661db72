"""``tessera keys rotate`` / ``reseal`` from the command line (a child process
with the suite's secret, as every process of a deployment shares one)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tessera.members.models import MemberIdentity
from tessera.members.service import create_member, find_by_identity
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand
from tessera.testing import run_cli


async def keys(database_url: str, var_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return await run_cli(database_url, var_dir, "keys", *args)


async def test_rotate_reseals_every_value_in_batches_and_reseal_finishes_nothing_left(
    brand_a, brand_b, tessera_database_url, tmp_path
):
    scope = BrandScope(brand_a)
    for i in range(3):
        await create_member(
            scope, {"name": f"p{i}", "phone": f"1380013800{i}", "email": f"p{i}@example.com"}
        )
    rotated = await keys(
        tessera_database_url, tmp_path, "rotate", "--brand", brand_a.code, "--batch-size", "2"
    )
    assert rotated.returncode == 0, rotated.stderr
    assert "key version 2; re-encrypted 6 identity row(s) and 3 member row(s)" in rotated.stdout
    sealed = await MemberIdentity.filter(brand_id=brand_a.id, sealed__not_isnull=True)
    assert len(sealed) == 6 and all(row.sealed.startswith("2:") for row in sealed)
    await brand_a.refresh_from_db()
    assert brand_a.identity_key_version == 2
    assert (await Brand.get(id=brand_b.id)).identity_key_version == 1
    found = await find_by_identity(BrandScope(brand_a), "email", "P1@example.com")
    assert found is not None and found.phone == "+8613800138001"

    again = await keys(tessera_database_url, tmp_path, "reseal", "--brand", brand_a.code)
    assert again.returncode == 0, again.stderr
    assert "re-encrypted 0 identity row(s) and 0 member row(s)" in again.stdout
    unknown = await keys(tessera_database_url, tmp_path, "rotate", "--brand", "nope")
    assert unknown.returncode == 2 and "no brand 'nope'" in unknown.stderr


async def test_the_reseal_job_finishes_a_rotation(brand_a, tessera_db):
    from tessera.jobs import registry
    from tessera.members import keys as identity_keys

    scope = BrandScope(brand_a)
    await create_member(scope, {"name": "p", "phone": "13800138000"})
    await identity_keys.rotate_identity_key(scope)
    job = registry.get("identity_keys_reseal")
    assert await job.function({}, brand_a.id) == {"version": 2, "identities": 1, "members": 1}
    assert await identity_keys.pending(scope) == 0
    assert await job.function({}, 999_999) is None
