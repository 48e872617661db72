"""``tessera persons rebuild``: recompute a tenant's persons from its members'
identities (after an import with the link jobs not yet run, a restore, or a
change of the linking identities)."""

from __future__ import annotations

import typer
from rich.progress import TaskID

from tessera.cli.runner import BAD_INPUT, fail, out, progress_bar, run
from tessera.config import Settings
from tessera.persons.linking import rebuild as rebuild_persons
from tessera.tenancy.models import Tenant

app = typer.Typer()
persons = typer.Typer(
    name="persons", help="Persons: one shopper across a tenant's brands.", no_args_is_help=True
)
app.add_typer(persons, rich_help_panel="Data")


@persons.command()
def rebuild(tenant: str = typer.Argument(..., help="Code of the tenant.")) -> None:
    """Recompute the tenant's identity digests and persons. Existing persons
    keep their ids where their members still belong together; the result is
    what linking member by member gives."""

    async def work(_: Settings) -> None:
        found = await Tenant.get_or_none(code=tenant)
        if found is None:
            fail(f"no tenant with code {tenant!r}", BAD_INPUT)
        with progress_bar() as progress:
            tasks: dict[str, TaskID] = {}

            def step(brand: str, done: int, total: int) -> None:
                if brand not in tasks:
                    tasks[brand] = progress.add_task(brand, total=total)
                progress.update(tasks[brand], completed=done, total=total)

            report = await rebuild_persons(found, progress=step)
        out.print(
            f"{tenant}: {report.identities} linking identities, "
            f"{report.linked_members} member(s) in {report.persons} person(s)"
        )

    run(work)
