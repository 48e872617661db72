"""``tessera create-admin-user`` and the demo admin of ``make run``, in real
processes against the test database."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
from admin_http import sign_in

from tessera.auth.models import AdminRole, AdminUser
from tessera.demo import DEMO_ADMIN_EMAIL, ensure_demo, ensure_demo_admin
from tessera.testing import run_cli


async def tessera(
    database_url: str, var_dir: Path, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return await run_cli(database_url, var_dir, *args, stdin=stdin)


async def test_help_explains_the_command_and_its_exit_codes(tmp_path, tessera_database_url):
    result = await tessera(tessera_database_url, tmp_path, "create-admin-user", "--help")
    assert result.returncode == 0, result.stderr
    assert "--role" in result.stdout and "Exit codes" in result.stdout


async def test_a_created_user_signs_in_with_the_printed_password(
    brand_a, http, tessera_database_url, tmp_path
):
    result = await tessera(
        tessera_database_url,
        tmp_path,
        "create-admin-user",
        "brand-a",
        "Ops@Example.com",
        "--role",
        "operator",
    )
    assert result.returncode == 0, result.stderr
    password = result.stdout.strip()
    assert len(password) >= 10
    user = await AdminUser.get(email="ops@example.com")
    role = await AdminRole.get(admin_user_id=user.id)
    assert (role.brand_id, role.role, role.scopes) == (brand_a.id, "operator", ["manage"])
    assert (await sign_in(http, "ops@example.com", password)).status_code == 303


async def test_a_password_from_stdin_is_not_printed(brand_a, tessera_database_url, tmp_path, http):
    result = await tessera(
        tessera_database_url,
        tmp_path,
        "create-admin-user",
        "brand-a",
        "a@example.com",
        "--password-stdin",
        stdin="a long enough secret\n",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert (await sign_in(http, "a@example.com", "a long enough secret")).status_code == 303


async def test_bad_input_exits_2_naming_the_field_and_creates_nobody(
    brand_a, tessera_database_url, tmp_path
):
    cases = [
        (("create-admin-user", "brand-a", "not-an-email"), "", "email"),
        (
            ("create-admin-user", "brand-a", "b@example.com", "--password-stdin"),
            "short\n",
            "password",
        ),
        (("create-admin-user", "no-such-brand", "c@example.com"), "", "brand"),
    ]
    for args, stdin, word in cases:
        result = await tessera(tessera_database_url, tmp_path, *args, stdin=stdin)
        assert result.returncode == 2, (args, result.stderr)
        assert word in result.stderr
    assert await AdminUser.all().count() == 0


async def test_the_demo_admin_is_an_owner_whose_password_is_kept(tessera_db, tmp_path, app):
    setup = await ensure_demo(tmp_path)
    email, password = await ensure_demo_admin(setup.brand, tmp_path)
    assert email == DEMO_ADMIN_EMAIL
    assert (tmp_path / "demo_admin_password").read_text().strip() == password
    assert (tmp_path / "demo_admin_password").stat().st_mode & 0o777 == 0o600
    assert await ensure_demo_admin(setup.brand, tmp_path) == (email, password)
    role = await AdminRole.get(brand_id=setup.brand.id)
    assert role.role == "owner"
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://tessera.test"
    ) as client:
        assert (await sign_in(client, email, password)).status_code == 303
