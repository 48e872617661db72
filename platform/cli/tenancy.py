"""Setting up tenants and brands (operator actions, outside GraphQL)."""

from __future__ import annotations

import typer

from tessera.cli.runner import out, run
from tessera.config import Settings
from tessera.tenancy.service import create_brand as create_brand_service
from tessera.tenancy.service import create_tenant as create_tenant_service

app = typer.Typer()


@app.command(rich_help_panel="Tenants and keys")
def create_tenant(
    code: str = typer.Argument(..., help="Stable identifier: lower-case letters, digits, - or _."),
    name: str = typer.Option("", help="Display name [default: the code]."),
) -> None:
    """Create a tenant (a company that owns brands)."""

    async def work(_: Settings) -> None:
        tenant = await create_tenant_service(code, name)
        out.print(f"created tenant {tenant.code} (id {tenant.id})")

    run(work)


@app.command(rich_help_panel="Tenants and keys")
def create_brand(
    tenant: str = typer.Argument(..., help="Code of the tenant that owns the brand."),
    code: str = typer.Argument(..., help="Stable identifier: lower-case letters, digits, - or _."),
    name: str = typer.Option("", help="Display name [default: the code]."),
    currency: str = typer.Option("CNY", help="ISO 4217 currency of money amounts."),
    timezone: str = typer.Option("Asia/Shanghai", help="IANA time zone for days and expiry."),
    region: str = typer.Option("CN", help="ISO 3166 region for phone numbers without +."),
) -> None:
    """Create a brand (one membership programme) under a tenant."""

    async def work(_: Settings) -> None:
        brand = await create_brand_service(
            tenant, code, name, currency=currency, timezone=timezone, default_region=region
        )
        out.print(
            f"created brand {brand.code} (id {brand.id}, {brand.currency}, {brand.timezone}, "
            f"region {brand.default_region})"
        )

    run(work)
