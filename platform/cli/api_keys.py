"""Brand API keys: issuing (shown once), listing and revoking."""

from __future__ import annotations

import typer
from rich.table import Table

from tessera.auth.api_keys import create_api_key as issue_api_key
from tessera.auth.api_keys import revoke_api_key as revoke_api_key_service
from tessera.auth.models import ApiKey
from tessera.auth.scopes import Scope
from tessera.cli.runner import brand_scope, err, out, run
from tessera.config import Settings

app = typer.Typer()


@app.command(rich_help_panel="Tenants and keys")
def create_api_key(
    brand: str = typer.Argument(..., help="Code of the brand the key acts for."),
    scope: list[Scope] = typer.Option(
        [Scope.READ],
        "--scope",
        "-s",
        help="read, write, manage or admin (repeatable; each implies the ones before); "
        "persons: read the persons of the brand's whole tenant (docs/persons.md); "
        "add pii to see identity values unmasked.",
    ),
    name: str = typer.Option("cli key", help="What the key is for, shown in listings."),
) -> None:
    """Issue an API key and print it (to stdout, once: only its hash is kept)."""

    async def work(_: Settings) -> None:
        scoped = await brand_scope(brand)
        # The operator of the command line has tenant-wide rights.
        issued = await issue_api_key(scoped.brand, name, [s.value for s in scope], tenant_wide=True)
        err.print(
            f"API key {issued.key.id} for brand {brand} with scopes "
            f"{', '.join(issued.key.scopes)}; store it now, it is not shown again:"
        )
        out.print(issued.token)

    run(work)


@app.command(rich_help_panel="Tenants and keys")
def api_keys(brand: str = typer.Argument(..., help="Code of the brand.")) -> None:
    """List a brand's API keys (ids, names, scopes, last use; never the secrets)."""

    async def work(_: Settings) -> None:
        scoped = await brand_scope(brand)
        table = Table("id", "name", "prefix", "scopes", "created", "last used", "revoked")
        for key in await scoped.query(ApiKey).order_by("id"):
            table.add_row(
                str(key.id),
                key.name,
                key.prefix,
                ", ".join(key.scopes),
                f"{key.created_at:%Y-%m-%d %H:%M}",
                f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "",
                f"{key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "",
            )
        out.print(table)

    run(work)


@app.command(rich_help_panel="Tenants and keys")
def revoke_api_key(
    brand: str = typer.Argument(..., help="Code of the brand the key belongs to."),
    key_id: int = typer.Argument(..., help="The key's id (see `tessera api-keys BRAND`)."),
) -> None:
    """Revoke an API key: requests with it get HTTP 401 from now on."""

    async def work(_: Settings) -> None:
        key = await revoke_api_key_service(await brand_scope(brand), key_id)
        out.print(f"revoked API key {key.id} ({key.name}) of brand {brand}")

    run(work)
