from __future__ import annotations

import json
import re
import shlex
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from tessera_processes import UNREACHABLE_POSTGRES, cli_env, fresh_database, served, tessera
from typer.testing import CliRunner

from tessera.cli import app

SCHEMA_FILE = Path(__file__).parents[2] / "schema" / "schema.graphql"
BRAND_QUERY = {"query": "{ brand { code } }"}


@pytest_asyncio.fixture(scope="module")
async def workdir(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Path]:
    path = tmp_path_factory.mktemp("cli")
    yield path


@pytest_asyncio.fixture(scope="module")
async def env(workdir: Path) -> AsyncIterator[dict[str, str]]:
    """A migrated database of the CLI tests' own (created by `tessera migrate`)."""
    url, drop = await fresh_database(workdir / "db")
    environment = cli_env(url, workdir / "var")
    migrated = tessera("migrate", env=environment, cwd=workdir)
    assert migrated.returncode == 0, migrated.stderr
    yield environment
    if drop is not None:
        await drop()


def test_help_lists_every_command_and_each_has_help() -> None:
    commands = [
        "serve",
        "worker",
        "migrate",
        "makemigrations",
        "create-tenant",
        "create-brand",
        "create-api-key",
        "api-keys",
        "revoke-api-key",
        "export-schema",
        "plugins",
        "demo",
    ]
    runner = CliRunner()
    root = runner.invoke(app, ["--help"])
    assert root.exit_code == 0
    for command in commands:
        assert command in root.output
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0, (command, result.output)
        assert "Usage: tessera " in result.output


def test_migrate_reports_what_it_applied_and_is_safe_to_repeat(
    env: dict[str, str], workdir: Path
) -> None:
    again = tessera("migrate", env=env, cwd=workdir)
    assert again.returncode == 0, again.stderr
    assert "up to date (0 migration(s) applied)" in again.stdout


def test_demo_creates_a_working_admin_key_once_and_keeps_it(
    env: dict[str, str], workdir: Path
) -> None:
    first = tessera("demo", env=env, cwd=workdir)
    assert first.returncode == 0, first.stderr
    token = first.stdout.strip()
    assert token.startswith("tsk_")
    key_file = workdir / "var" / "demo_api_key"
    assert key_file.read_text().strip() == token
    assert key_file.stat().st_mode & 0o777 == 0o600

    second = tessera("demo", env=env, cwd=workdir)
    assert second.returncode == 0, second.stderr
    assert second.stdout == ""  # nothing new to show
    assert key_file.read_text().strip() == token

    with served(env, workdir) as base:
        response = httpx.post(
            f"{base}/graphql", json=BRAND_QUERY, headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"brand": {"code": "demo"}}}


def test_demo_replaces_a_key_file_that_no_longer_authenticates(
    env: dict[str, str], workdir: Path
) -> None:
    assert tessera("demo", env=env, cwd=workdir).returncode == 0
    key_file = workdir / "var" / "demo_api_key"
    key_file.write_text("tsk_000000000000_not-a-key\n")
    result = tessera("demo", env=env, cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("tsk_")
    assert key_file.read_text().strip() == result.stdout.strip()


def test_tenant_brand_and_key_lifecycle(env: dict[str, str], workdir: Path) -> None:
    assert tessera("create-tenant", "acme", "--name", "Acme", env=env, cwd=workdir).returncode == 0
    brand = tessera(
        "create-brand", "acme", "acme-us", "--currency", "usd",
        "--timezone", "America/New_York", "--region", "us",
        env=env, cwd=workdir,
    )  # fmt: skip
    assert brand.returncode == 0, brand.stderr
    assert "USD, America/New_York, region US" in brand.stdout

    issued = tessera("create-api-key", "acme-us", "-s", "read", env=env, cwd=workdir)
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    assert token.startswith("tsk_") and "\n" not in token  # only the key on stdout
    assert "not shown again" in issued.stderr

    listed = tessera("api-keys", "acme-us", env=env, cwd=workdir)
    assert listed.returncode == 0, listed.stderr
    assert token.split("_")[1] in listed.stdout  # the public prefix, never the secret
    assert token.split("_", 2)[2] not in listed.stdout
    key_id = issued.stderr.split("API key ", 1)[1].split()[0]

    headers = {"Authorization": f"Bearer {token}"}
    with served(env, workdir) as base:
        before = httpx.post(f"{base}/graphql", json=BRAND_QUERY, headers=headers)
        revoked = tessera("revoke-api-key", "acme-us", key_id, env=env, cwd=workdir)
        after = httpx.post(f"{base}/graphql", json=BRAND_QUERY, headers=headers)
    assert before.json() == {"data": {"brand": {"code": "acme-us"}}}
    assert revoked.returncode == 0, revoked.stderr
    assert after.status_code == 401


@pytest.fixture(scope="module")
def demo_env(env: dict[str, str], workdir: Path) -> dict[str, str]:
    """The CLI tests' database with the demo brand in it (one `tessera demo`
    for all the cases that refer to it, not one each)."""
    assert tessera("demo", env=env, cwd=workdir).returncode == 0
    return env


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create-tenant", "Not Valid"), "code: code must be 1-64 lower-case"),
        (("create-brand", "no-such-tenant", "b1"), "tenant: no tenant 'no-such-tenant'"),
        (("create-brand", "demo", "b2", "--currency", "EURO"), "currency: currency must be"),
        (("create-brand", "demo", "b3", "--timezone", "Mars/Base"), "unknown time zone"),
        (("create-api-key", "no-such-brand"), "brand: no brand 'no-such-brand'"),
        (("revoke-api-key", "demo", "999999"), "no such API key"),
    ],
)
def test_bad_input_exits_2_with_the_field_on_stderr(
    demo_env: dict[str, str], workdir: Path, args: tuple[str, ...], message: str
) -> None:
    result = tessera(*args, env=demo_env, cwd=workdir)
    assert result.returncode == 2, result
    assert message in result.stderr
    assert result.stdout == ""


def test_a_duplicate_changes_nothing(env: dict[str, str], workdir: Path) -> None:
    assert tessera("create-tenant", "dup", env=env, cwd=workdir).returncode == 0
    first = tessera("create-brand", "dup", "dup-brand", "--currency", "EUR", env=env, cwd=workdir)
    assert first.returncode == 0, first.stderr
    again = tessera("create-brand", "dup", "dup-brand", "--currency", "GBP", env=env, cwd=workdir)
    assert again.returncode == 2
    assert "a brand with code 'dup-brand' exists" in again.stderr
    issued = tessera("create-api-key", "dup-brand", env=env, cwd=workdir)
    with served(env, workdir) as base:
        response = httpx.post(
            f"{base}/graphql",
            json={"query": "{ brand { currency } }"},
            headers={"Authorization": f"Bearer {issued.stdout.strip()}"},
        )
    assert response.json() == {"data": {"brand": {"currency": "EUR"}}}


def test_an_unreachable_database_exits_1(workdir: Path) -> None:
    env = cli_env(UNREACHABLE_POSTGRES, workdir / "var")
    result = tessera("create-tenant", "nowhere", env=env, cwd=workdir)
    assert result.returncode == 1
    assert "cannot reach the database" in result.stderr


def test_invalid_configuration_exits_2_naming_the_variable(workdir: Path) -> None:
    env = cli_env(
        "sqlite://:memory:",
        workdir / "var",
        TESSERA_ENVIRONMENT="production",
        TESSERA_SECRET_KEY="",
    )
    result = tessera("demo", env=env, cwd=workdir)
    assert result.returncode == 2
    assert "TESSERA_SECRET_KEY must be set" in result.stderr


def test_worker_without_redis_explains_itself(workdir: Path) -> None:
    result = tessera("worker", env=cli_env("sqlite://:memory:", workdir / "var"), cwd=workdir)
    assert result.returncode == 2
    assert "TESSERA_REDIS_URL is not set" in result.stderr


def test_export_schema_matches_the_committed_sdl() -> None:
    result = CliRunner().invoke(app, ["export-schema"])
    assert result.exit_code == 0
    assert result.stdout == SCHEMA_FILE.read_text(), (
        "schema/schema.graphql is stale: run `make schema` and commit it"
    )


def test_plugins_lists_installed_plugins_and_their_components() -> None:
    result = CliRunner().invoke(app, ["plugins"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "devtools" in line)
    assert "channel_sender" in row and "console_sms" in row


def _documented_commands() -> list[str]:
    """Every concrete `tessera ...` command line in README.md and docs/ (inline
    code, also across a line break, and lines of code blocks); summaries with
    placeholders such as `[--brand CODE]` or `members|orders` are left out."""
    root = Path(__file__).parents[2]
    found: set[str] = set()
    for page in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        text = page.read_text()
        inline = re.findall(r"`(tessera [^`]+)`", text)
        blocks = re.findall(r"^\s*(?:docker compose exec \w+ )?(tessera [^\n`#]+)$", text, re.M)
        found.update(" ".join(c.split()) for c in inline + blocks)
    return sorted(c for c in found if not re.search(r"[\[\]|…<>]", c))


@pytest.mark.parametrize("command", _documented_commands())
def test_every_command_line_in_the_docs_parses(command: str) -> None:
    # --help exits before running once every argument before it parsed.
    result = CliRunner().invoke(app, [*shlex.split(command)[1:], "--help"])
    assert result.exit_code == 0, f"{command!r} does not parse:\n{result.output}"


def test_plugins_json_gives_whole_keys_whatever_the_terminal_width() -> None:
    result = CliRunner().invoke(app, ["plugins", "--json"], env={"COLUMNS": "40"})
    assert result.exit_code == 0, result.output
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    tiers = {c["key"]: c for c in plugins["tiers"]["components"]}
    assert "tiers.cumulative_spend" in tiers
    assert tiers["tiers.cumulative_spend"]["family"] == "tier_policy"
    [sms] = plugins["devtools"]["components"]
    assert (sms["key"], sms["channel"]) == ("console_sms", "sms")
    assert sms["config_schema"]["type"] == "object"


def test_a_server_process_freezes_what_start_up_built(monkeypatch: pytest.MonkeyPatch) -> None:
    """Objects made before serving (modules, the schema) are left out of the
    collector's walks (running.server_app says why)."""
    import gc

    from starlette.applications import Starlette

    import tessera.app
    from tessera.cli import running

    built = Starlette()
    monkeypatch.setattr(tessera.app, "create_app", lambda: built)
    gc.unfreeze()
    try:
        assert running.server_app() is built
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
