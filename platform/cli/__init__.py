"""The ``tessera`` command line: a composition root, like the app factory.

Each command group is one module exposing a ``typer.Typer`` called ``app``;
adding a group is a new module plus one entry in ``_GROUPS``.
"""

from __future__ import annotations

import typer

from tessera.cli import (
    admin_users,
    api_keys,
    database,
    demo,
    imports,
    keys,
    ledger,
    outbox,
    persons,
    plugins,
    reports,
    running,
    schema_export,
    segments,
    slots,
    stats,
    tenancy,
)

_GROUPS = (
    running,
    database,
    tenancy,
    api_keys,
    admin_users,
    schema_export,
    plugins,
    demo,
    stats,
    imports,
    keys,
    segments,
    ledger,
    outbox,
    persons,
    slots,
    reports,
)

app = typer.Typer(
    name="tessera",
    help="Tessera, the headless membership CRM: serve the API, run workers, manage tenants.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for _group in _GROUPS:
    app.add_typer(_group.app)


def main() -> None:
    app()
