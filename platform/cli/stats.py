"""``tessera stats rebuild``: recompute members' purchase statistics from
the recorded orders and refunds (after an import, a restore or a bug fix)."""

from __future__ import annotations

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from tessera.cli.runner import CLI_ACTOR, brand_scope, err, out, run
from tessera.config import Settings
from tessera.orders.stats import rebuild_stats
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand

app = typer.Typer()
stats = typer.Typer(name="stats", help="Members' purchase statistics.", no_args_is_help=True)
app.add_typer(stats, rich_help_panel="Data")


@stats.command()
def rebuild(
    brand: str | None = typer.Option(None, help="Code of one brand (default: every brand)."),
) -> None:
    """Recompute every member's statistics from the orders and refunds.

    Safe while orders keep arriving: the brand being rebuilt records its
    orders after the rebuild commits, so none is lost; other brands' orders
    are not held back.
    """

    async def work(_: Settings) -> None:
        if brand is not None:
            scopes = [await brand_scope(brand)]
        else:
            scopes = [BrandScope(b, CLI_ACTOR) for b in await Brand.all().order_by("id")]
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
        ) as progress:
            for scope in scopes:
                task = progress.add_task(scope.brand.code, total=None)

                def step(done: int, total: int, task: TaskID = task) -> None:
                    progress.update(task, completed=done, total=total)

                members = await rebuild_stats(scope, progress=step)
                progress.update(task, completed=members, total=members)
                out.print(f"{scope.brand.code}: statistics of {members} member(s) rebuilt")

    run(work)
