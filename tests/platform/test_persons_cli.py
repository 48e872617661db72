"""``tessera persons rebuild`` through the real command line."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from tessera_processes import cli_env, fresh_database, tessera


@pytest_asyncio.fixture(scope="module")
async def env(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[dict[str, str], Path]]:
    workdir = tmp_path_factory.mktemp("persons-cli")
    url, drop = await fresh_database(workdir / "db")
    environment = cli_env(url, workdir / "var")
    migrated = tessera("migrate", env=environment, cwd=workdir)
    assert migrated.returncode == 0, migrated.stderr
    yield environment, workdir
    if drop is not None:
        await drop()


def test_rebuild_reports_the_tenant_and_refuses_an_unknown_one(env) -> None:
    environment, workdir = env
    assert tessera("create-tenant", "acme", env=environment, cwd=workdir).returncode == 0
    assert tessera("create-brand", "acme", "acme-tea", env=environment, cwd=workdir).returncode == 0
    done = tessera("persons", "rebuild", "acme", env=environment, cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert "acme: 0 linking identities, 0 member(s) in 0 person(s)" in done.stdout
    unknown = tessera("persons", "rebuild", "nope", env=environment, cwd=workdir)
    assert unknown.returncode == 2
    assert "no tenant with code 'nope'" in unknown.stderr


def test_rebuild_after_imports_into_two_brands_finds_the_shared_phone(env) -> None:
    environment, workdir = env
    assert tessera("create-tenant", "group", env=environment, cwd=workdir).returncode == 0
    for brand, phones in (("group-tea", ("13800138000", "13900139000")),
                          ("group-shoes", ("13800138000", "13700137000"))):  # fmt: skip
        made = tessera("create-brand", "group", brand, env=environment, cwd=workdir)
        assert made.returncode == 0, made.stderr
        path = workdir / f"{brand}.csv"
        path.write_text(
            "external_id,name,phone\n"
            + "".join(f"{brand}-{i},Member {i},{p}\n" for i, p in enumerate(phones)),
            encoding="utf-8",
        )
        imported = tessera("import", "members", str(path), "--brand", brand,
                           env=environment, cwd=workdir)  # fmt: skip
        assert imported.returncode == 0, imported.stderr
    done = tessera("persons", "rebuild", "group", env=environment, cwd=workdir)
    assert done.returncode == 0, done.stderr
    # Four members, the shared phone makes two of them one person.
    assert "group: 4 linking identities, 4 member(s) in 3 person(s)" in done.stdout
