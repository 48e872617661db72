"""`tessera create-admin-user`: a person who signs in to the admin UI."""

from __future__ import annotations

import sys

import typer

from tessera.audit import service as audit
from tessera.auth.admin_users import Role, add_admin_user
from tessera.cli.runner import CLI_ACTOR, brand_scope, err, out, run
from tessera.config import Settings

app = typer.Typer()


@app.command(rich_help_panel="Tenants and keys")
def create_admin_user(
    brand: str = typer.Argument(..., help="Code of the brand the user gets a role on."),
    email: str = typer.Argument(..., help="The user's email, used to sign in."),
    role: Role = typer.Option(Role.OWNER, "--role", help="owner, operator, analyst or viewer."),
    name: str = typer.Option("", help="Display name."),
    password_stdin: bool = typer.Option(
        False,
        "--password-stdin",
        help="Read the password (10+ characters) from stdin instead of generating one.",
    ),
) -> None:
    """Create an admin UI user with a role on a brand, or give an existing
    user of the brand's tenant that role. A generated password is printed to
    stdout once. Exit codes: 0 done, 2 bad input (unknown brand, invalid
    email, short password, user of another tenant), 1 failure."""

    async def work(_: Settings) -> None:
        scope = (await brand_scope(brand)).acting_as(CLI_ACTOR)
        given = sys.stdin.readline().rstrip("\n") if password_stdin else None
        added = await add_admin_user(scope, email, role.value, password=given, name=name)
        if added.created:
            await audit.record(
                scope, "createAdminUser", "ok", {"input": {"email": added.user.email}}
            )
        await audit.record(
            scope,
            "grantAdminRole",
            "ok",
            {"input": {"email": added.user.email, "role": role.value}},
        )
        err.print(f"admin user {added.user.email} is {role.value} of brand {brand}")
        if added.password is not None:
            err.print("password (shown once):")
            out.print(added.password)

    run(work)
